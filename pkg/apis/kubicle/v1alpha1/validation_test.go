package v1alpha1

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const dns1035Msg = `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`

func TestValidate(t *testing.T) {
	t.Parallel()
	q := resource.MustParse
	tests := []struct {
		name   string
		change func(*VirtualCluster)
		want   []string
	}{
		{name: "minimal is valid", change: func(*VirtualCluster) {}},

		// metadata
		{name: "name required", change: func(vc *VirtualCluster) { vc.Name = "" },
			want: []string{`metadata.name: Required value: names the virtual cluster`}},
		{name: "name too long", change: func(vc *VirtualCluster) { vc.Name = strings.Repeat("a", 53) },
			want: []string{`metadata.name: Invalid value: "` + strings.Repeat("a", 53) + `": must be no more than 52 characters, so that the host objects named after it fit in 63`}},
		{name: "name of 52 characters is valid", change: func(vc *VirtualCluster) { vc.Name = strings.Repeat("a", 52) }},
		{name: "name far too long is reported once", change: func(vc *VirtualCluster) { vc.Name = strings.Repeat("b", 70) },
			want: []string{`metadata.name: Invalid value: "` + strings.Repeat("b", 70) + `": must be no more than 52 characters, so that the host objects named after it fit in 63`}},
		{name: "name not a DNS-1035 label", change: func(vc *VirtualCluster) { vc.Name = "Demo_1" },
			want: []string{`metadata.name: Invalid value: "Demo_1": ` + dns1035Msg}},
		{name: "a bad name is reported once, not again in names derived from it", change: func(vc *VirtualCluster) {
			vc.Name, vc.Namespace = "Demo_1", ""
		}, want: []string{`metadata.name: Invalid value: "Demo_1": ` + dns1035Msg}},
		{name: "name starting with a digit", change: func(vc *VirtualCluster) { vc.Name = "1demo" },
			want: []string{`metadata.name: Invalid value: "1demo": ` + dns1035Msg}},
		{name: "name kubicle reserved", change: func(vc *VirtualCluster) { vc.Name = "kubicle" },
			want: []string{`metadata.name: Invalid value: "kubicle": is reserved: it names kubicle's own host objects (operator, chart)`}},
		{name: "name host reserved", change: func(vc *VirtualCluster) { vc.Name = "host" },
			want: []string{`metadata.name: Invalid value: "host": is reserved: it names the host cluster in the CLI and in kubeconfig contexts (kubicle-host)`}},
		{name: "name kube- prefix reserved", change: func(vc *VirtualCluster) { vc.Name = "kube-team" },
			want: []string{`metadata.name: Invalid value: "kube-team": is reserved: names starting with "kube-" are reserved for Kubernetes`}},
		{name: "namespace default refused", change: func(vc *VirtualCluster) { vc.Namespace = "default" },
			want: []string{`metadata.namespace: Invalid value: "default": is a Kubernetes system namespace; a virtual cluster needs a namespace of its own, since kubicle puts quotas, limit ranges, network policies and Pod Security labels on it`}},
		{name: "namespace kube-system refused", change: func(vc *VirtualCluster) { vc.Namespace = "kube-system" },
			want: []string{`metadata.namespace: Invalid value: "kube-system": is a Kubernetes system namespace; a virtual cluster needs a namespace of its own, since kubicle puts quotas, limit ranges, network policies and Pod Security labels on it`}},
		{name: "namespace invalid", change: func(vc *VirtualCluster) { vc.Namespace = "Team.A" },
			want: []string{`metadata.namespace: Invalid value: "Team.A": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},

		// controlPlane
		{name: "driver unknown", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Driver = "vm" },
			want: []string{`spec.controlPlane.driver: Unsupported value: "vm": supported values: "pod", "process"`}},
		{name: "version malformed", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Version = "1.37.x" },
			want: []string{`spec.controlPlane.version: Invalid value: "1.37.x": must be a Kubernetes version such as "v1.37" or "v1.37.2"`}},
		{name: "version forms", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Version = "1.37" }},
		{name: "image with whitespace", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Image = "kubicle :v1" },
			want: []string{`spec.controlPlane.image: Invalid value: "kubicle :v1": must not contain whitespace`}},
		{name: "image, resources and annotations only with driver pod", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Driver = DriverProcess
			vc.Spec.ControlPlane.Image = "example.com/kubicle:v1"
			vc.Spec.ControlPlane.Resources.Limits = corev1.ResourceList{"memory": q("1Gi")}
			vc.Spec.ControlPlane.Expose.Annotations = map[string]string{"a": "b"}
		}, want: []string{
			`spec.controlPlane.image: Forbidden: only used with driver "pod"`,
			`spec.controlPlane.resources: Forbidden: only used with driver "pod"`,
			`spec.controlPlane.expose.annotations: Forbidden: only used with driver "pod"`,
		}},
		{name: "resources negative and request above limit", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{"cpu": q("-1"), "memory": q("4Gi")},
				Limits:   corev1.ResourceList{"memory": q("2Gi")},
				Claims:   []corev1.ResourceClaim{{Name: "gpu"}},
			}
		}, want: []string{
			`spec.controlPlane.resources.claims: Forbidden: the control plane claims no devices`,
			`spec.controlPlane.resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0`,
			`spec.controlPlane.resources.requests[memory]: Invalid value: "4Gi": must be less than or equal to memory limit of 2Gi`,
		}},
		{name: "replicas zero", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Replicas = ptr[int32](0) },
			want: []string{`spec.controlPlane.replicas: Invalid value: 0: must be at least 1`}},
		{name: "replicas with sqlite", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Replicas = ptr[int32](3) },
			want: []string{`spec.controlPlane.replicas: Invalid value: 3: must be 1 with backingStore.type "sqlite": an SQLite file serves one replica; use externalEtcd or database for a highly available control plane`}},
		{name: "replicas with embedded etcd", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Replicas = ptr[int32](3)
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreEmbeddedEtcd
		}, want: []string{`spec.controlPlane.replicas: Invalid value: 3: must be 1 with backingStore.type "embeddedEtcd": each replica would run an etcd member of its own, not one cluster with the others; use externalEtcd or database for a highly available control plane`}},
		{name: "replicas on a database", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Replicas = ptr[int32](3)
			vc.Spec.ControlPlane.BackingStore = BackingStore{Type: BackingStoreDatabase,
				Database: &Database{Driver: DatabasePostgres, DSNSecretRef: &SecretKeyReference{Name: "db", Key: "dsn"}}}
		}},
		{name: "replicas with process", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Replicas = ptr[int32](3)
			vc.Spec.ControlPlane.Driver = DriverProcess
		}, want: []string{`spec.controlPlane.replicas: Invalid value: 3: must be 1 with driver "process": a process runs on one machine`}},
		{name: "backing store unknown", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.BackingStore.Type = "mongodb" },
			want: []string{`spec.controlPlane.backingStore.type: Unsupported value: "mongodb": supported values: "sqlite", "embeddedEtcd", "externalEtcd", "database"`}},
		{name: "external etcd missing", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.BackingStore.Type = BackingStoreExternalEtcd },
			want: []string{`spec.controlPlane.backingStore.externalEtcd: Required value: required when type is "externalEtcd"`}},
		{name: "external etcd with sqlite", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.ExternalEtcd = &ExternalEtcd{Endpoints: []string{"https://etcd:2379"}}
		}, want: []string{`spec.controlPlane.backingStore.externalEtcd: Forbidden: only used when type is "externalEtcd"`}},
		{name: "external etcd endpoints", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreExternalEtcd
			vc.Spec.ControlPlane.BackingStore.ExternalEtcd = &ExternalEtcd{
				Endpoints:    []string{"etcd:2379", "http://etcd-1:2379", "https://etcd-2:2379", "https://etcd-2:2379"},
				TLSSecretRef: &SecretReference{Name: "Etcd_TLS"},
				Prefix:       "kubicle",
			}
		}, want: []string{
			`spec.controlPlane.backingStore.externalEtcd.endpoints[0]: Invalid value: "etcd:2379": must be an http or https URL such as "https://etcd-0.etcd:2379"`,
			`spec.controlPlane.backingStore.externalEtcd.endpoints[1]: Invalid value: "http://etcd-1:2379": must use https when tlsSecretRef is set`,
			`spec.controlPlane.backingStore.externalEtcd.endpoints[3]: Duplicate value: "https://etcd-2:2379"`,
			`spec.controlPlane.backingStore.externalEtcd.tlsSecretRef.name: Invalid value: "Etcd_TLS": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`spec.controlPlane.backingStore.externalEtcd.prefix: Invalid value: "kubicle": must start with "/"`,
		}},
		{name: "external etcd without endpoints", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreExternalEtcd
			vc.Spec.ControlPlane.BackingStore.ExternalEtcd = &ExternalEtcd{}
		}, want: []string{`spec.controlPlane.backingStore.externalEtcd.endpoints: Required value: at least one etcd client URL`}},
		{name: "database missing", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.BackingStore.Type = BackingStoreDatabase },
			want: []string{`spec.controlPlane.backingStore.database: Required value: required when type is "database"`}},
		{name: "database without secret ref or driver", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreDatabase
			vc.Spec.ControlPlane.BackingStore.Database = &Database{}
		}, want: []string{
			`spec.controlPlane.backingStore.database.driver: Required value: one of "postgres", "mysql"`,
			`spec.controlPlane.backingStore.database.dsnSecretRef: Required value: the data source name carries credentials, so it is read from a Secret in the host namespace`,
		}},
		{name: "database bad driver, secret name and key", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreDatabase
			vc.Spec.ControlPlane.BackingStore.Database = &Database{Driver: "oracle",
				DSNSecretRef: &SecretKeyReference{Name: "", Key: "d s n"}}
		}, want: []string{
			`spec.controlPlane.backingStore.database.driver: Unsupported value: "oracle": supported values: "postgres", "mysql"`,
			`spec.controlPlane.backingStore.database.dsnSecretRef.name: Required value`,
			`spec.controlPlane.backingStore.database.dsnSecretRef.key: Invalid value: "d s n": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
		}},
		{name: "database with persistence", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreDatabase
			vc.Spec.ControlPlane.BackingStore.Database = &Database{Driver: DatabasePostgres, DSNSecretRef: &SecretKeyReference{Name: "db"}}
			vc.Spec.ControlPlane.BackingStore.Persistence.Size = ptr(q("1Gi"))
		}, want: []string{`spec.controlPlane.backingStore.persistence: Forbidden: only used with backingStore.type "sqlite" or "embeddedEtcd" and driver "pod"`}},
		{name: "persistence size zero and class invalid", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Persistence.Size = ptr(q("0"))
			vc.Spec.ControlPlane.BackingStore.Persistence.StorageClassName = "Fast SSD"
		}, want: []string{
			`spec.controlPlane.backingStore.persistence.size: Invalid value: "0": must be greater than 0`,
			`spec.controlPlane.backingStore.persistence.storageClassName: Invalid value: "Fast SSD": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{name: "persistence disabled with a size", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Persistence.Enabled = ptr(false)
			vc.Spec.ControlPlane.BackingStore.Persistence.Size = ptr(q("1Gi"))
		}, want: []string{`spec.controlPlane.backingStore.persistence.size: Forbidden: only used while persistence is enabled`}},
		{name: "scheduler off with private nodes", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.Mode = IsolationPrivate
			vc.Spec.ControlPlane.Scheduler.Enabled = ptr(false)
		}, want: []string{`spec.controlPlane.scheduler.enabled: Invalid value: false: must be true with isolation.mode "private": only a virtual scheduler can place pods on the virtual cluster's own nodes`,
			`spec.isolation.mode: Invalid value: "private": not supported yet: no node can join a virtual cluster; use "shared" or "dedicated"`}},
		{name: "expose type unknown", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Expose.Type = "Ingress" },
			want: []string{`spec.controlPlane.expose.type: Unsupported value: "Ingress": supported values: "ClusterIP", "NodePort", "LoadBalancer", "PortForward"`}},
		{name: "expose with process", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Driver = DriverProcess
			vc.Spec.ControlPlane.Expose.Type = ExposeLoadBalancer
		}, want: []string{`spec.controlPlane.expose.type: Invalid value: "LoadBalancer": must be "PortForward" with driver "process": a process listens on the loopback interface only`}},
		{name: "node port with ClusterIP", change: func(vc *VirtualCluster) { vc.Spec.ControlPlane.Expose.NodePort = 30443 },
			want: []string{`spec.controlPlane.expose.nodePort: Forbidden: only used with type "NodePort"`}},
		{name: "node port out of range", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Expose.Type = ExposeNodePort
			vc.Spec.ControlPlane.Expose.NodePort = 70000
		}, want: []string{`spec.controlPlane.expose.nodePort: Invalid value: 70000: must be between 1 and 65535, inclusive`,
			`spec.controlPlane.expose.type: Invalid value: "NodePort": not supported yet: the exported kubeconfig and "kubicle connect" do not use a node port or load balancer address; use "ClusterIP" or "PortForward"`}},
		{name: "extra SANs", change: func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Expose.ExtraSANs = []string{"api.example.com", "*.example.com", "10.0.0.1", "fd00::1", "bad_name", "*.*.x", "10.0.0.1"}
		}, want: []string{
			`spec.controlPlane.expose.extraSANs[4]: Invalid value: "bad_name": must be an IP address or a DNS name such as "api.example.com" or "*.example.com"`,
			`spec.controlPlane.expose.extraSANs[5]: Invalid value: "*.*.x": must be an IP address or a DNS name such as "api.example.com" or "*.example.com"`,
			`spec.controlPlane.expose.extraSANs[6]: Duplicate value: "10.0.0.1"`,
		}},

		// sync
		{name: "pods synced with private nodes", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.Mode = IsolationPrivate
			vc.Spec.Sync.ToHost.Pods.Enabled = ptr(true)
		}, want: []string{`spec.sync.toHost.pods.enabled: Invalid value: true: must be false with isolation.mode "private": pods run on the virtual cluster's own nodes`,
			`spec.isolation.mode: Invalid value: "private": not supported yet: no node can join a virtual cluster; use "shared" or "dedicated"`}},
		{name: "all without enabled", change: func(vc *VirtualCluster) {
			vc.Spec.Sync.ToHost.Secrets = ReferencedResourceSync{Enabled: ptr(false), All: ptr(true)}
		}, want: []string{`spec.sync.toHost.secrets.all: Forbidden: only used while enabled is true`}},
		{name: "priority classes both ways", change: func(vc *VirtualCluster) {
			vc.Spec.Sync.ToHost.PriorityClasses.Enabled = ptr(true)
			vc.Spec.Sync.FromHost.PriorityClasses.Enabled = ptr(true)
		}, want: []string{`spec.sync.fromHost.priorityClasses.enabled: Invalid value: true: must be false while spec.sync.toHost.priorityClasses.enabled is true: a class would be synced both ways`,
			`spec.sync.toHost.priorityClasses.enabled: Invalid value: true: not supported yet: the tenant's PriorityClasses are not copied to the host`}},
		{name: "node mode unknown and bad selector", change: func(vc *VirtualCluster) {
			vc.Spec.Sync.FromHost.Nodes.Mode = "virtual"
			vc.Spec.Sync.FromHost.Nodes.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "pool", Operator: "Like", Values: []string{"gpu"}}}}
		}, want: []string{
			`spec.sync.fromHost.nodes.mode: Unsupported value: "virtual": supported values: "real", "pseudo"`,
			`spec.sync.fromHost.nodes.selector.matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator`,
		}},

		// isolation
		{name: "isolation mode unknown", change: func(vc *VirtualCluster) { vc.Spec.Isolation.Mode = "strict" },
			want: []string{`spec.isolation.mode: Unsupported value: "strict": supported values: "shared", "dedicated", "private", "auto"`}},
		{name: "node selector and tolerations only when dedicated", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.NodeSelector = map[string]string{"pool": "gpu"}
			vc.Spec.Isolation.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}
		}, want: []string{
			`spec.isolation.nodeSelector: Forbidden: only used with mode "dedicated"`,
			`spec.isolation.tolerations: Forbidden: only used with mode "dedicated"`,
		}},
		{name: "dedicated needs a node selector", change: func(vc *VirtualCluster) { vc.Spec.Isolation.Mode = IsolationDedicated },
			want: []string{`spec.isolation.nodeSelector: Required value: mode "dedicated" needs a selector for the nodes of its pool`}},
		{name: "dedicated with bad selector and tolerations", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.Mode = IsolationDedicated
			vc.Spec.Isolation.NodeSelector = map[string]string{"pool": "gpu pool"}
			vc.Spec.Isolation.Tolerations = []corev1.Toleration{
				{Key: "gpu", Operator: "In", Effect: "NoSchedule"},
				{Key: "gpu", Operator: corev1.TolerationOpExists, Value: "yes", Effect: "Never"},
				{Key: "gpu", Value: "yes", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr[int64](60)},
				{Operator: corev1.TolerationOpEqual},
				{Operator: corev1.TolerationOpExists},
			}
		}, want: []string{
			`spec.isolation.nodeSelector: Invalid value: "gpu pool": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			`spec.isolation.tolerations[0].operator: Unsupported value: "In": supported values: "Equal", "Exists"`,
			`spec.isolation.tolerations[1].value: Invalid value: "yes": must be empty when operator is "Exists"`,
			`spec.isolation.tolerations[1].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
			`spec.isolation.tolerations[2].tolerationSeconds: Invalid value: 60: only used with effect "NoExecute"`,
			`spec.isolation.tolerations[3].operator: Invalid value: "Equal": must be "Exists" when key is empty, which tolerates every taint`,
		}},
		{name: "pod security standard unknown", change: func(vc *VirtualCluster) { vc.Spec.Isolation.PodSecurityStandard = "none" },
			want: []string{`spec.isolation.podSecurityStandard: Unsupported value: "none": supported values: "privileged", "baseline", "restricted"`}},
		{name: "endpoint CIDRs", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.AllowedEndpointCIDRs = []string{"192.0.2.0/24", "10.0.0.1", "fd00::/8"}
		}, want: []string{`spec.isolation.allowedEndpointCIDRs[1]: Invalid value: "10.0.0.1": must be an address range such as "192.0.2.0/24"`}},
		{name: "allowed tolerations", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.AllowedTolerations = []corev1.Toleration{
				{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists},
				{Operator: corev1.TolerationOpEqual, Value: "x"},
			}
		}, want: []string{`spec.isolation.allowedTolerations[1].operator: Invalid value: "Equal": must be "Exists" when key is empty, which tolerates every taint`}},
		{name: "egress ranges and namespaces", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.NetworkPolicy.Egress = NetworkEgress{
				BlockedCIDRs:      []string{"10.0.0.0/8", "10.0.0.1/8", "fc00::/7"},
				AllowedCIDRs:      []string{"198.18.0.1", "198.18.0.1/32"},
				AllowedNamespaces: []string{"models", "Models"},
			}
		}, want: []string{
			`spec.isolation.networkPolicy.egress.blockedCIDRs[1]: Invalid value: "10.0.0.1/8": must name the range by its first address: 10.0.0.0/8`,
			`spec.isolation.networkPolicy.egress.allowedCIDRs[0]: Invalid value: "198.18.0.1": must be an address range such as "10.0.0.0/8"`,
			`spec.isolation.networkPolicy.egress.allowedNamespaces[1]: Invalid value: "Models": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
		}},
		{name: "service types", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.AllowedServiceTypes = []corev1.ServiceType{"NodePort", "ExternalName"}
		}, want: []string{`spec.isolation.allowedServiceTypes[1]: Unsupported value: "ExternalName": supported values: "ClusterIP", "NodePort", "LoadBalancer"`}},
		{name: "quota names and values", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{
				"requests.cpu":           q("-4"),
				"gpus":                   q("1"),
				"nvidia.com/gpu":         q("1"),
				"limits.amd.com/gpu":     q("1"),
				"count/deployments.apps": q("10"),
				"gold.storageclass.storage.k8s.io/requests.storage": q("1Ti"),
				"requests.hugepages-2Mi":                            q("1Gi"),
				"pods":                                              q("100"),
			}
		}, want: []string{
			`spec.isolation.resourceQuota[gpus]: Invalid value: "gpus": must be a quota resource name such as "requests.cpu", "limits.memory", "pods" or "requests.nvidia.com/gpu"`,
			`spec.isolation.resourceQuota[limits.amd.com/gpu]: Invalid value: "limits.amd.com/gpu": must be "requests.amd.com/gpu": a quota limits extended resources by their requests only`,
			`spec.isolation.resourceQuota[nvidia.com/gpu]: Invalid value: "nvidia.com/gpu": must be "requests.nvidia.com/gpu": a quota limits extended resources by their requests only`,
			`spec.isolation.resourceQuota[requests.cpu]: Invalid value: "-4": must be greater than or equal to 0`,
		}},
		{name: "limit range order and signs", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.LimitRange = LimitRange{
				Min:            corev1.ResourceList{"cpu": q("2"), "memory": q("-1")},
				Max:            corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")},
				Default:        corev1.ResourceList{"memory": q("2Gi")},
				DefaultRequest: corev1.ResourceList{"memory": q("3Gi")},
			}
		}, want: []string{
			`spec.isolation.limitRange.min[memory]: Invalid value: "-1": must be greater than or equal to 0`,
			`spec.isolation.limitRange.min[cpu]: Invalid value: "2": must be less than or equal to max[cpu] of 1`,
			`spec.isolation.limitRange.defaultRequest[memory]: Invalid value: "3Gi": must be less than or equal to default[memory] of 2Gi`,
			`spec.isolation.limitRange.default[memory]: Invalid value: "2Gi": must be less than or equal to max[memory] of 1Gi`,
		}},
		{name: "GPU limits", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.GPU = GPU{
				MaxGPUs:         ptr[int32](-1),
				AllowedGPUTypes: []string{"NVIDIA-H100-80GB-HBM3", "", "A100 80GB", "NVIDIA-H100-80GB-HBM3"},
				ResourceName:    "gpu",
				ProductLabel:    "nvidia.com/gpu product",
			}
		}, want: []string{
			`spec.isolation.gpu.resourceName: Invalid value: "gpu": must be an extended resource name such as "nvidia.com/gpu"`,
			`spec.isolation.gpu.maxGPUs: Invalid value: -1: must be greater than or equal to 0`,
			`spec.isolation.gpu.productLabel: Invalid value: "nvidia.com/gpu product": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`spec.isolation.gpu.allowedGPUTypes[1]: Invalid value: "": must not be empty`,
			`spec.isolation.gpu.allowedGPUTypes[2]: Invalid value: "A100 80GB": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			`spec.isolation.gpu.allowedGPUTypes[3]: Duplicate value: "NVIDIA-H100-80GB-HBM3"`,
		}},
		{name: "maxGPUs disagrees with the quota", change: func(vc *VirtualCluster) {
			vc.Spec.Isolation.GPU.MaxGPUs = ptr[int32](4)
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{"requests.nvidia.com/gpu": q("8")}
		}, want: []string{`spec.isolation.gpu.maxGPUs: Invalid value: 4: must equal spec.isolation.resourceQuota[requests.nvidia.com/gpu] (8) when both are set`}},

		// sleep
		{name: "sleep too soon", change: func(vc *VirtualCluster) {
			vc.Spec.Sleep.AfterInactivity = &metav1.Duration{Duration: 30 * time.Second}
		}, want: []string{`spec.sleep.afterInactivity: Invalid value: "30s": must be at least 1m0s`}},
		{name: "sleep negative", change: func(vc *VirtualCluster) {
			vc.Spec.Sleep.AfterInactivity = &metav1.Duration{Duration: -5 * time.Minute}
		}, want: []string{`spec.sleep.afterInactivity: Invalid value: "-5m0s": must be at least 1m0s`}},
		{name: "schedule empty", change: func(vc *VirtualCluster) { vc.Spec.Sleep.Schedule = &SleepSchedule{} },
			want: []string{`spec.sleep.schedule: Required value: set sleepAt, wakeAt or both`}},
		{name: "schedule valid", change: func(vc *VirtualCluster) {
			vc.Spec.Sleep.Schedule = &SleepSchedule{SleepAt: "30 20 * * MON-FRI", WakeAt: "0 7 ? jan-dec 1-5/2", TimeZone: "Europe/Berlin"}
		}, want: []string{`spec.sleep.schedule: Invalid value: "": not supported yet: virtual clusters do not sleep`}},
		{name: "schedule cron errors", change: func(vc *VirtualCluster) {
			vc.Spec.Sleep.Schedule = &SleepSchedule{SleepAt: "0 25 * * *", WakeAt: "every morning", TimeZone: "Mars/Olympus"}
		}, want: []string{
			`spec.sleep.schedule.sleepAt: Invalid value: "0 25 * * *": must be a cron expression: hour field "25": 25 is outside 0-23`,
			`spec.sleep.schedule.wakeAt: Invalid value: "every morning": must be a cron expression: must have 5 fields (minute hour day-of-month month day-of-week), not 2`,
			`spec.sleep.schedule.timeZone: Invalid value: "Mars/Olympus": must be an IANA time zone such as "Europe/Berlin"`,
		}},
		{name: "schedule macros, time zone prefix and local time", change: func(vc *VirtualCluster) {
			vc.Spec.Sleep.Schedule = &SleepSchedule{SleepAt: "@sometimes", WakeAt: "TZ=UTC 0 7 * * *", TimeZone: "Local"}
		}, want: []string{
			`spec.sleep.schedule.sleepAt: Invalid value: "@sometimes": must be a cron expression: unknown macro "@sometimes"; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly`,
			`spec.sleep.schedule.wakeAt: Invalid value: "TZ=UTC 0 7 * * *": must be a cron expression: must not name a time zone; set timeZone instead`,
			`spec.sleep.schedule.timeZone: Invalid value: "Local": must name a time zone; "Local" changes with the machine that runs kubicle`,
		}},
		{name: "cron ranges and steps", change: func(vc *VirtualCluster) {
			vc.Spec.Sleep.Schedule = &SleepSchedule{SleepAt: "*/0 * * * *", WakeAt: "0 9-5 * * *"}
		}, want: []string{
			`spec.sleep.schedule.sleepAt: Invalid value: "*/0 * * * *": must be a cron expression: minute field "*/0": step "0" must be a positive number`,
			`spec.sleep.schedule.wakeAt: Invalid value: "0 9-5 * * *": must be a cron expression: hour field "9-5": range "9-5" runs backwards`,
		}},

		// exportKubeConfig
		{name: "export kubeconfig", change: func(vc *VirtualCluster) {
			vc.Spec.ExportKubeConfig = ExportKubeConfig{SecretName: "Kube Config", Server: "http://tenant-a:6443", Context: "my context"}
		}, want: []string{
			`spec.exportKubeConfig.secretName: Invalid value: "Kube Config": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`spec.exportKubeConfig.server: Invalid value: "http://tenant-a:6443": must be an https URL such as "https://tenant-a.example.com:6443"`,
			`spec.exportKubeConfig.context: Invalid value: "my context": must not contain whitespace`,
		}},

		// every problem at once
		{name: "every problem is reported", change: func(vc *VirtualCluster) {
			vc.Name = "kubicle"
			vc.Spec.ControlPlane.Replicas = ptr[int32](2)
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreDatabase
			vc.Spec.Isolation.Mode = "strict"
		}, want: []string{
			`metadata.name: Invalid value: "kubicle": is reserved: it names kubicle's own host objects (operator, chart)`,
			`spec.controlPlane.backingStore.database: Required value: required when type is "database"`,
			`spec.isolation.mode: Unsupported value: "strict": supported values: "shared", "dedicated", "private", "auto"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vc := newVC(func(vc *VirtualCluster) { vc.Namespace = "tenant-a" }, tt.change)
			Default(vc)
			var got []string
			for _, e := range Validate(vc) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateUndefaulted(t *testing.T) {
	t.Parallel()
	// Validate of an object that skipped Default reports the empty enums
	// instead of passing them silently.
	vc := newVC(func(vc *VirtualCluster) { vc.Namespace = "tenant-a" })
	var got []string
	for _, e := range Validate(vc) {
		got = append(got, e.Error())
	}
	want := []string{
		`spec.controlPlane.driver: Unsupported value: "": supported values: "pod", "process"`,
		`spec.controlPlane.backingStore.type: Unsupported value: "": supported values: "sqlite", "embeddedEtcd", "externalEtcd", "database"`,
		`spec.controlPlane.expose.type: Unsupported value: "": supported values: "ClusterIP", "NodePort", "LoadBalancer", "PortForward"`,
		`spec.sync.fromHost.nodes.mode: Unsupported value: "": supported values: "real", "pseudo"`,
		`spec.isolation.mode: Unsupported value: "": supported values: "shared", "dedicated", "private", "auto"`,
		`spec.isolation.podSecurityStandard: Unsupported value: "": supported values: "privileged", "baseline", "restricted"`,
		`spec.isolation.gpu.resourceName: Required value`,
		`spec.isolation.gpu.productLabel: Required value`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
