package translate

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func testPodOptions() PodOptions {
	return PodOptions{
		Target:        Target{VCluster: "vc1", HostNamespace: "host"},
		APIServerHost: "10.0.0.1",
		DNSServer:     "10.0.0.10",
	}
}

func testPod(mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "team", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "builder",
			DNSPolicy:          corev1.DNSClusterFirst,
			Containers:         []corev1.Container{{Name: "main", Image: "nginx"}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func mustPod(t *testing.T, virtual *corev1.Pod, opts PodOptions) *corev1.Pod {
	t.Helper()
	before := virtual.DeepCopy()
	host, err := Pod(virtual, opts)
	if err != nil {
		t.Fatalf("Pod: %v", err)
	}
	if !reflect.DeepEqual(virtual, before) {
		t.Fatal("Pod modified its input")
	}
	return host
}

func TestPodMetadata(t *testing.T) {
	t.Parallel()
	virtual := testPod(func(p *corev1.Pod) {
		p.Labels[KeyVCluster] = "vc2"
		p.Annotations = map[string]string{"note": "x", KeyServiceAccount: "forged"}
		p.OwnerReferences = []metav1.OwnerReference{{Name: "rs", UID: "o"}}
		p.Finalizers = []string{"f"}
		p.ResourceVersion = "7"
		p.GenerateName = "web-"
	})
	opts := testPodOptions()
	opts.Labels = map[string]string{"kueue.x-k8s.io/queue-name": "host-queue", "app": "host-wins"}
	host := mustPod(t, virtual, opts)

	want := metav1.ObjectMeta{
		Name:      "web-0-x-team-x-vc1",
		Namespace: "host",
		Labels: map[string]string{
			"app": "host-wins", "kubicle.dev.tenant.kubicle.dev/vcluster": "vc2", "kueue.x-k8s.io/queue-name": "host-queue",
			LabelManagedBy: ManagedBy, KeyVCluster: "vc1", KeyNamespace: "team", KeyName: "web-0", KeyUID: "uid-1",
		},
		Annotations: map[string]string{
			"note": "x", "kubicle.dev.tenant.kubicle.dev/service-account": "forged",
			KeyVCluster: "vc1", KeyNamespace: "team", KeyName: "web-0", KeyUID: "uid-1", KeyServiceAccount: "builder",
		},
	}
	if !reflect.DeepEqual(host.ObjectMeta, want) {
		t.Errorf("metadata =\n%#v\nwant\n%#v", host.ObjectMeta, want)
	}
	if host.APIVersion != "v1" || host.Kind != "Pod" {
		t.Errorf("type meta = %v", host.TypeMeta)
	}
	id, err := VirtualIdentity(host)
	if err != nil || id != IdentityOf("vc1", virtual) {
		t.Errorf("VirtualIdentity(host) = %+v, %v", id, err)
	}
	if !IsManaged(host, "vc1") || IsManaged(host, "vc2") {
		t.Error("IsManaged wrong on the host pod")
	}
}

func TestPodErrors(t *testing.T) {
	t.Parallel()
	nsSel := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{}, TopologyKey: "zone",
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		}}}}
	}
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		opts    func(*PodOptions)
		wantErr []string
	}{
		{name: "nil pod", pod: nil, wantErr: []string{"nil pod"}},
		{name: "no name", pod: testPod(func(p *corev1.Pod) { p.Name = "" }), wantErr: []string{"name and namespace are required"}},
		{name: "no namespace", pod: testPod(func(p *corev1.Pod) { p.Namespace = "" }), wantErr: []string{"name and namespace are required"}},
		{name: "missing options", pod: testPod(), opts: func(o *PodOptions) { *o = PodOptions{} },
			wantErr: []string{"vCluster: required", "hostNamespace: required", "apiServerHost: required", "dnsServer"}},
		{name: "bad dns server", pod: testPod(), opts: func(o *PodOptions) { o.DNSServer = "kube-dns" }, wantErr: []string{`dnsServer: "kube-dns"`}},
		{name: "bad port", pod: testPod(), opts: func(o *PodOptions) { o.APIServerPort = 70000 }, wantErr: []string{"apiServerPort"}},
		{name: "bad cluster domain", pod: testPod(), opts: func(o *PodOptions) { o.ClusterDomain = "Cluster_Local" }, wantErr: []string{"clusterDomain"}},
		{name: "marker in host labels", pod: testPod(), opts: func(o *PodOptions) { o.Labels = map[string]string{KeyVCluster: "x"} }, wantErr: []string{"labels: kubicle.dev/vcluster is a marker key"}},
		{name: "privileged", pod: testPod(func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
		}), wantErr: []string{"spec.containers[0].securityContext.privileged", "team/web-0"}},
		{name: "nvidia env", pod: testPod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: EnvNvidiaVisibleDevices, Value: "all"}}
		}), wantErr: []string{"spec.containers[0].env[0].name"}},
		{name: "device hostPath", pod: testPod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/dev/nvidia0"}}}}
		}), wantErr: []string{"spec.volumes[0].hostPath.path"}},
		{name: "namespace selector without resolver", pod: testPod(nsSel),
			wantErr: []string{"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testPodOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			host, err := Pod(tc.pod, opts)
			if err == nil {
				t.Fatalf("Pod succeeded: %v", host.Name)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPodDevicePolicyAllows(t *testing.T) {
	t.Parallel()
	opts := testPodOptions()
	opts.Devices = DevicePolicy{AllowPrivileged: true, AllowDeviceHostPath: true, AllowNvidiaVisibleDevices: true}
	pod := testPod(func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: EnvNvidiaVisibleDevices, Value: "all"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/dev"}}}}
	})
	host := mustPod(t, pod, opts)
	if host.Spec.Volumes[0].HostPath.Path != "/dev" {
		t.Errorf("hostPath changed: %v", host.Spec.Volumes[0])
	}
}

func TestPodDNS(t *testing.T) {
	t.Parallel()
	clusterDNS := func(ns, domain string) *corev1.PodDNSConfig {
		return &corev1.PodDNSConfig{
			Nameservers: []string{"10.0.0.10"},
			Searches:    []string{ns + ".svc." + domain, "svc." + domain, domain},
			Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("5")}},
		}
	}
	own := &corev1.PodDNSConfig{Nameservers: []string{"8.8.8.8"}}
	for _, tc := range []struct {
		name       string
		mutate     func(*corev1.Pod)
		domain     string
		wantPolicy corev1.DNSPolicy
		wantConfig *corev1.PodDNSConfig
	}{
		{"ClusterFirst", nil, "", corev1.DNSNone, clusterDNS("team", "cluster.local")},
		{"unset policy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "" }, "", corev1.DNSNone, clusterDNS("team", "cluster.local")},
		{"custom cluster domain", nil, "tenant.example", corev1.DNSNone, clusterDNS("team", "tenant.example")},
		{"ClusterFirstWithHostNet without hostNetwork", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet }, "",
			corev1.DNSNone, clusterDNS("team", "cluster.local")},
		{"hostNetwork keeps its own", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
		}, "", corev1.DNSClusterFirstWithHostNet, nil},
		{"None keeps its own", func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = own
		}, "", corev1.DNSNone, own},
		{"Default keeps the node's resolver", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSDefault }, "", corev1.DNSDefault, nil},
		{"merged with the pod's dnsConfig", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{
				Nameservers: []string{"10.0.0.10", "1.1.1.1", "2.2.2.2", "3.3.3.3"},
				Searches:    []string{"svc.cluster.local", "example.com"},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("1")}, {Name: "timeout", Value: ptr("2")}},
			}
		}, "", corev1.DNSNone, &corev1.PodDNSConfig{
			Nameservers: []string{"10.0.0.10", "1.1.1.1", "2.2.2.2"},
			Searches:    []string{"team.svc.cluster.local", "svc.cluster.local", "cluster.local", "example.com"},
			Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("1")}, {Name: "timeout", Value: ptr("2")}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testPodOptions()
			opts.ClusterDomain = tc.domain
			pod := testPod()
			if tc.mutate != nil {
				tc.mutate(pod)
			}
			host := mustPod(t, pod, opts)
			if host.Spec.DNSPolicy != tc.wantPolicy {
				t.Errorf("dnsPolicy = %q, want %q", host.Spec.DNSPolicy, tc.wantPolicy)
			}
			if !reflect.DeepEqual(host.Spec.DNSConfig, tc.wantConfig) {
				t.Errorf("dnsConfig = %+v, want %+v", host.Spec.DNSConfig, tc.wantConfig)
			}
		})
	}
}

func TestPodEnv(t *testing.T) {
	t.Parallel()
	envNames := func(env []corev1.EnvVar) []string {
		var out []string
		for _, e := range env {
			out = append(out, e.Name+"="+e.Value)
		}
		return out
	}
	k8s := func(host, port string) []string {
		url := "tcp://" + host + ":" + port
		if strings.Contains(host, ":") {
			url = "tcp://[" + host + "]:" + port
		}
		return []string{
			"KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port, "KUBERNETES_SERVICE_PORT_HTTPS=" + port,
			"KUBERNETES_PORT=" + url, "KUBERNETES_PORT_443_TCP=" + url, "KUBERNETES_PORT_443_TCP_PROTO=tcp",
			"KUBERNETES_PORT_443_TCP_PORT=" + port, "KUBERNETES_PORT_443_TCP_ADDR=" + host,
		}
	}
	svc := []corev1.EnvVar{{Name: "DB_SERVICE_HOST", Value: "10.1.1.1"}}
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		opts   func(*PodOptions)
		want   []string
	}{
		{"defaults", nil, nil, k8s("10.0.0.1", "443")},
		{"port and IPv6", nil, func(o *PodOptions) { o.APIServerHost = "fd00::1"; o.APIServerPort = 6443 }, k8s("fd00::1", "6443")},
		{"service links", nil, func(o *PodOptions) { o.ServiceEnv = svc }, append(k8s("10.0.0.1", "443"), "DB_SERVICE_HOST=10.1.1.1")},
		{"service links disabled by the pod", func(p *corev1.Pod) { p.Spec.EnableServiceLinks = ptr(false) },
			func(o *PodOptions) { o.ServiceEnv = svc }, k8s("10.0.0.1", "443")},
		{"own values win and stay in place", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "KUBERNETES_SERVICE_HOST", Value: "mine"}, {Name: "DB_SERVICE_HOST", Value: "db"}}
		}, func(o *PodOptions) { o.ServiceEnv = svc }, append(slicesWithout(k8s("10.0.0.1", "443"), "KUBERNETES_SERVICE_HOST=10.0.0.1"),
			"A=1", "KUBERNETES_SERVICE_HOST=mine", "DB_SERVICE_HOST=db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testPodOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			pod := testPod()
			if tc.mutate != nil {
				tc.mutate(pod)
			}
			host := mustPod(t, pod, opts)
			if got := envNames(host.Spec.Containers[0].Env); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("env =\n%v\nwant\n%v", got, tc.want)
			}
			if host.Spec.EnableServiceLinks == nil || *host.Spec.EnableServiceLinks {
				t.Error("host pod has service links enabled")
			}
		})
	}
}

func slicesWithout(s []string, drop string) []string {
	var out []string
	for _, v := range s {
		if v != drop {
			out = append(out, v)
		}
	}
	return out
}

func TestPodSpecFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		opts   func(*PodOptions)
		check  func(t *testing.T, s corev1.PodSpec)
	}{
		{"nodeName dropped", func(p *corev1.Pod) { p.Spec.NodeName = "n1" }, nil, func(t *testing.T, s corev1.PodSpec) {
			if s.NodeName != "" {
				t.Errorf("nodeName = %q", s.NodeName)
			}
		}},
		{"nodeName kept with a virtual scheduler", func(p *corev1.Pod) { p.Spec.NodeName = "n1" }, func(o *PodOptions) { o.VirtualScheduler = true },
			func(t *testing.T, s corev1.PodSpec) {
				if s.NodeName != "n1" {
					t.Errorf("nodeName = %q", s.NodeName)
				}
			}},
		{"service account", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr(true) }, nil, func(t *testing.T, s corev1.PodSpec) {
			if s.ServiceAccountName != "default" || s.DeprecatedServiceAccount != "default" || s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
				t.Errorf("serviceAccountName %q serviceAccount %q automount %v", s.ServiceAccountName, s.DeprecatedServiceAccount, s.AutomountServiceAccountToken)
			}
		}},
		{"host service account", nil, func(o *PodOptions) { o.HostServiceAccountName = "tenant-pods" }, func(t *testing.T, s corev1.PodSpec) {
			if s.ServiceAccountName != "tenant-pods" {
				t.Errorf("serviceAccountName = %q", s.ServiceAccountName)
			}
		}},
		{"priority dropped without a mapping", func(p *corev1.Pod) {
			p.Spec.PriorityClassName = "system-cluster-critical"
			p.Spec.Priority = ptr(int32(2000000000))
			p.Spec.PreemptionPolicy = ptr(corev1.PreemptLowerPriority)
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			if s.PriorityClassName != "" || s.Priority != nil || s.PreemptionPolicy != nil {
				t.Errorf("priorityClassName %q priority %v preemptionPolicy %v", s.PriorityClassName, s.Priority, s.PreemptionPolicy)
			}
		}},
		{"priority mapped", func(p *corev1.Pod) { p.Spec.PriorityClassName = "high" }, func(o *PodOptions) {
			o.PriorityClassName = func(n string) string { return HostName("vc1", "", n, DNSSubdomain) }
		}, func(t *testing.T, s corev1.PodSpec) {
			if s.PriorityClassName != "high-x-vc1" {
				t.Errorf("priorityClassName = %q", s.PriorityClassName)
			}
		}},
		{"hostname from the virtual name", nil, nil, func(t *testing.T, s corev1.PodSpec) {
			if s.Hostname != "web-0" {
				t.Errorf("hostname = %q", s.Hostname)
			}
		}},
		{"own hostname kept, subdomain translated", func(p *corev1.Pod) {
			p.Spec.Hostname = "h"
			p.Spec.Subdomain = "headless"
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			if s.Hostname != "h" || s.Subdomain != "headless-x-team-x-vc1" {
				t.Errorf("hostname %q subdomain %q", s.Hostname, s.Subdomain)
			}
		}},
		{"dotted name gives a label hostname", func(p *corev1.Pod) { p.Name = "web.v2." + strings.Repeat("a", 70) }, nil, func(t *testing.T, s corev1.PodSpec) {
			if want := "web-v2-" + strings.Repeat("a", 56); s.Hostname != want {
				t.Errorf("hostname = %q, want %q", s.Hostname, want)
			}
		}},
		{"overhead cleared, reserved gates and eviction responders dropped", func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{}
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "kueue.x-k8s.io/admission"}, {Name: "kubicle.dev/x"}}
			p.Spec.EvictionResponders = []corev1.EvictionResponder{{Name: "example.com/r", Priority: ptr(int32(1))}}
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			if s.Overhead != nil || s.SchedulingGates != nil || s.EvictionResponders != nil {
				t.Errorf("overhead %v gates %v responders %v", s.Overhead, s.SchedulingGates, s.EvictionResponders)
			}
		}},
		{"node selector and tolerations enforced", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"pool": "other", "disk": "ssd"}
			p.Spec.Tolerations = []corev1.Toleration{{Key: "pool", Operator: corev1.TolerationOpEqual, Value: "vc1", Effect: corev1.TaintEffectNoSchedule}}
		}, func(o *PodOptions) {
			o.NodeSelector = map[string]string{"pool": "vc1"}
			o.Tolerations = []corev1.Toleration{
				{Key: "pool", Operator: corev1.TolerationOpEqual, Value: "vc1", Effect: corev1.TaintEffectNoSchedule},
				{Key: "gpu", Operator: corev1.TolerationOpExists},
			}
		}, func(t *testing.T, s corev1.PodSpec) {
			if !maps.Equal(s.NodeSelector, map[string]string{"pool": "vc1", "disk": "ssd"}) {
				t.Errorf("nodeSelector = %v", s.NodeSelector)
			}
			if len(s.Tolerations) != 2 || s.Tolerations[1].Key != "gpu" {
				t.Errorf("tolerations = %v", s.Tolerations)
			}
		}},
		{"legacy volume secret references", func(p *corev1.Pod) {
			ref := func() *corev1.LocalObjectReference { return &corev1.LocalObjectReference{Name: "s"} }
			p.Spec.Volumes = []corev1.Volume{
				{Name: "a", VolumeSource: corev1.VolumeSource{AzureFile: &corev1.AzureFileVolumeSource{SecretName: "s"}}},
				{Name: "b", VolumeSource: corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{SecretRef: ref()}}},
				{Name: "c", VolumeSource: corev1.VolumeSource{Cinder: &corev1.CinderVolumeSource{SecretRef: ref()}}},
				{Name: "d", VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{SecretRef: ref()}}},
				{Name: "e", VolumeSource: corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{SecretRef: ref()}}},
				{Name: "f", VolumeSource: corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{SecretRef: ref()}}},
				{Name: "g", VolumeSource: corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{SecretRef: ref()}}},
				{Name: "h", VolumeSource: corev1.VolumeSource{StorageOS: &corev1.StorageOSVolumeSource{SecretRef: ref()}}},
				{Name: "i", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d"}}},
			}
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			v := s.Volumes
			for i, got := range []string{v[0].AzureFile.SecretName, v[1].CephFS.SecretRef.Name, v[2].Cinder.SecretRef.Name, v[3].FlexVolume.SecretRef.Name,
				v[4].ISCSI.SecretRef.Name, v[5].RBD.SecretRef.Name, v[6].ScaleIO.SecretRef.Name, v[7].StorageOS.SecretRef.Name} {
				if got != "s-x-team-x-vc1" {
					t.Errorf("volume %d secret = %q", i, got)
				}
			}
			if v[8].CSI.NodePublishSecretRef != nil {
				t.Error("CSI secret ref invented")
			}
		}},
		{"optional references with empty names stay empty", func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{}}}
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			if n := s.Containers[0].EnvFrom[0].ConfigMapRef.Name; n != "" {
				t.Errorf("envFrom name = %q", n)
			}
		}},
		{"cluster trust bundles", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "ctb", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Name: ptr("corp-ca"), Path: "a"}},
				{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{SignerName: ptr("example.com/signer"), LabelSelector: &metav1.LabelSelector{}, Path: "b"}},
			}}}}}
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			src := s.Volumes[0].Projected.Sources
			if *src[0].ClusterTrustBundle.Name != "corp-ca-x-vc1" {
				t.Errorf("bundle name = %q", *src[0].ClusterTrustBundle.Name)
			}
			if !maps.Equal(src[1].ClusterTrustBundle.LabelSelector.MatchLabels, map[string]string{KeyVCluster: "vc1"}) {
				t.Errorf("bundle selector = %v", src[1].ClusterTrustBundle.LabelSelector)
			}
		}},
		{"resource claims", func(p *corev1.Pod) {
			p.Spec.ResourceClaims = []corev1.PodResourceClaim{
				{Name: "gpu", ResourceClaimTemplateName: ptr("one-gpu")},
				{Name: "nic", ResourceClaimTemplateName: ptr("rdma")},
				{Name: "shared", ResourceClaimName: ptr("nvlink")},
			}
			p.Status.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "gpu", ResourceClaimName: ptr("web-0-gpu-abcde")}, {Name: "nic"}}
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			want := []corev1.PodResourceClaim{
				{Name: "gpu", ResourceClaimName: ptr("web-0-gpu-abcde-x-team-x-vc1")},
				{Name: "nic", ResourceClaimTemplateName: ptr("rdma-x-team-x-vc1")},
				{Name: "shared", ResourceClaimName: ptr("nvlink-x-team-x-vc1")},
			}
			if !reflect.DeepEqual(s.ResourceClaims, want) {
				t.Errorf("resourceClaims = %+v, want %+v", s.ResourceClaims, want)
			}
		}},
		{"topology spread confined", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
		}, nil, func(t *testing.T, s corev1.PodSpec) {
			sel, err := metav1.LabelSelectorAsSelector(s.TopologySpreadConstraints[0].LabelSelector)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(hostPodLabels("vc1", "team", map[string]string{"app": "web"})) ||
				sel.Matches(hostPodLabels("vc2", "team", map[string]string{"app": "web"})) ||
				sel.Matches(hostPodLabels("vc1", "other", map[string]string{"app": "web"})) {
				t.Errorf("selector %v not confined", sel)
			}
		}},
		{"affinity namespace selector resolved", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{}, TopologyKey: "host",
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gpu"}},
			}}}}
		}, func(o *PodOptions) {
			o.ResolveNamespaces = func(labels.Selector) ([]string, error) { return []string{"gpu-a", "gpu-b"}, nil }
		}, func(t *testing.T, s corev1.PodSpec) {
			term := s.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
			want := []metav1.LabelSelectorRequirement{{Key: KeyNamespace, Operator: metav1.LabelSelectorOpIn, Values: []string{"gpu-a", "gpu-b"}}}
			if !reflect.DeepEqual(term.LabelSelector.MatchExpressions, want) || term.NamespaceSelector != nil {
				t.Errorf("term = %+v", term)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testPodOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			pod := testPod()
			if tc.mutate != nil {
				tc.mutate(pod)
			}
			tc.check(t, mustPod(t, pod, opts).Spec)
		})
	}
}

func TestPodTokens(t *testing.T) {
	t.Parallel()
	tokenVolume := func(name string, srcs ...corev1.ServiceAccountTokenProjection) corev1.Volume {
		v := corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}
		for i := range srcs {
			v.Projected.Sources = append(v.Projected.Sources, corev1.VolumeProjection{ServiceAccountToken: &srcs[i]})
		}
		return v
	}
	pod := testPod(func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{
			tokenVolume("kube-api-access-x", corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3607))}),
			tokenVolume("vault", corev1.ServiceAccountTokenProjection{Path: "t", Audience: "vault", ExpirationSeconds: ptr(int64(900)), User: ptr(int64(1000))}),
			tokenVolume("more", corev1.ServiceAccountTokenProjection{Path: "t2", Audience: "vault", ExpirationSeconds: ptr(int64(600))},
				corev1.ServiceAccountTokenProjection{Path: "t3"}),
			{Name: "plain", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}
	})
	vaultKey := tokenKey("vault")
	want := []TokenRequest{
		{Key: "token", Audience: "", ExpirationSeconds: 3600},
		{Key: vaultKey, Audience: "vault", ExpirationSeconds: 600},
	}
	if got := PodTokens(pod); !reflect.DeepEqual(got, want) {
		t.Errorf("PodTokens = %+v, want %+v", got, want)
	}
	if PodTokens(nil) != nil || len(PodTokens(testPod())) != 0 {
		t.Error("PodTokens of a pod without tokens is not empty")
	}

	host := mustPod(t, pod, testPodOptions())
	secret := PodTokenSecretName("vc1", "team", "web-0")
	for i, wantItem := range []corev1.KeyToPath{
		{Key: "token", Path: "token"},
		{Key: vaultKey, Path: "t", User: ptr(int64(1000))},
		{Key: vaultKey, Path: "t2"},
	} {
		src := host.Spec.Volumes[i].Projected.Sources[0]
		if src.ServiceAccountToken != nil || src.Secret == nil || src.Secret.Name != secret {
			t.Fatalf("volume %d source = %+v, want secret %s", i, src, secret)
		}
		if !reflect.DeepEqual(src.Secret.Items, []corev1.KeyToPath{wantItem}) {
			t.Errorf("volume %d items = %+v, want %+v", i, src.Secret.Items, wantItem)
		}
	}
	if s := host.Spec.Volumes[2].Projected.Sources[1].Secret; s == nil || s.Items[0].Key != "token" {
		t.Errorf("second source of volume 2 = %+v", host.Spec.Volumes[2].Projected.Sources[1])
	}

	tokens := map[string][]byte{"token": []byte("jwt"), vaultKey: []byte("jwt2")}
	s, err := PodTokenSecret(pod, Target{VCluster: "vc1", HostNamespace: "host"}, tokens)
	if err != nil {
		t.Fatal(err)
	}
	tokens["token"][0] = 'X'
	if s.Name != secret || s.Namespace != "host" || s.Type != corev1.SecretTypeOpaque || string(s.Data["token"]) != "jwt" || string(s.Data[vaultKey]) != "jwt2" {
		t.Errorf("PodTokenSecret = %+v", s)
	}
	if !IsPodTokenSecret(s) || !IsManaged(s, "vc1") {
		t.Error("token secret not recognised")
	}
	if id, err := VirtualIdentity(s); err != nil || id != IdentityOf("vc1", pod) {
		t.Errorf("VirtualIdentity(token secret) = %+v, %v", id, err)
	}
	cm, _ := Secret(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "team"}}, Target{VCluster: "vc1", HostNamespace: "host"})
	if IsPodTokenSecret(cm) || IsPodTokenSecret(nil) || IsPodTokenSecret((*corev1.Secret)(nil)) {
		t.Error("IsPodTokenSecret true for a tenant secret or nil")
	}
	if _, err := PodTokenSecret(nil, Target{VCluster: "vc1", HostNamespace: "host"}, nil); err == nil {
		t.Error("PodTokenSecret(nil) succeeded")
	}
	if _, err := PodTokenSecret(pod, Target{}, nil); err == nil {
		t.Error("PodTokenSecret without target succeeded")
	}
}

// TestPodReferencesStayInTenant checks that crafted names in one namespace
// do not translate to the host objects of another.
func TestPodReferencesStayInTenant(t *testing.T) {
	t.Parallel()
	pod := testPod(func(p *corev1.Pod) {
		p.Namespace = "b-x-c"
		p.Name = "a"
		p.Spec.Volumes = []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "a-x-b"}}},
		}
		p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	})
	host := mustPod(t, pod, testPodOptions())
	// A tenant in namespace "c" naming secret "a-x-b-x-b" would collide under
	// the naive scheme; the translated names differ.
	other := HostName("vc1", "c", "a-x-b-x-b", DNSSubdomain)
	if got := host.Spec.Volumes[0].Secret.SecretName; got == other || got == "a-x-b-x-b-x-c-x-vc1" {
		t.Errorf("secret name %q collides with another namespace's", got)
	}
	if host.Name == HostName("vc1", "c", "a-x-b", DNSSubdomain) {
		t.Errorf("pod name %q collides", host.Name)
	}
}

func TestPodOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := testPodOptions().Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
	if err := (PodOptions{}).Validate(); err == nil {
		t.Error("Validate(zero) = nil")
	}
}
