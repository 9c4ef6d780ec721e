package deploy

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Paths and ports inside the control plane pod, shared by the args, the
// volume mounts and the probes.
const (
	// ConfigDir is where the config Secret is mounted.
	ConfigDir = "/etc/kubicle"
	// ConfigKey is the key of the config file in the config Secret, and its
	// file name in ConfigDir.
	ConfigKey = "config.yaml"
	// PKIDir is where the PKI Secret's files appear, when there is one.
	PKIDir = "/etc/kubicle/pki"
	// DataDir is the control plane's data directory: the store (SQLite or
	// embedded etcd) and, when no PKI Secret is given, the PKI it generates.
	DataDir = "/data"
	// APIServerPort is the port the virtual API server listens on in the pod.
	APIServerPort = 6443
	// ServicePort is the port of the API server's Service.
	ServicePort = 443
	// DNSPort is where the control plane serves the virtual cluster's DNS in the pod
	// (UDP and TCP); the Service maps port 53 to it. Above 1024, so the control plane
	// binds it without NET_BIND_SERVICE under the restricted Pod Security Standard.
	DNSPort = 1053
	// KubeletPort is the loopback port of the control plane's kubelet endpoint,
	// which virtual nodes advertise and the API server of every replica dials.
	KubeletPort = 10250
	// ServiceDNSPort is the DNS port of the Service, the one tenant pods ask.
	ServiceDNSPort = 53
	// EtcdClientPort is the client port of the embedded etcd member.
	EtcdClientPort = 2379
	// EtcdPeerPort is the peer port of the embedded etcd member.
	EtcdPeerPort = 2380

	// DatastoreEndpointEnv is the control plane's environment variable for the
	// database's data source name (controlplane.DatastoreEndpointEnv).
	DatastoreEndpointEnv = "KUBICLE_DATASTORE_ENDPOINT"

	containerName  = "control-plane"
	dataVolume     = "data"
	configVolume   = "config"
	tmpVolume      = "tmp"
	portNameHTTPS  = "https"
	portNameDNS    = "dns"
	portNameDNSTCP = "dns-tcp"
	portNameClient = "etcd-client"
	portNamePeer   = "etcd-peer"
	// runAsID is the user and group the control plane runs as: the "nonroot"
	// user of distroless images. A fixed ID lets fsGroup make the data
	// volume writable.
	runAsID = 65532
)

// ControlPlaneArgs returns the command line of the control plane container
// of virtual cluster r, the one place that spells it. withPKI says the PKI
// Secret's files are at [PKIDir]. The first element is the binary, found on
// the image's PATH.
//
// The API server listens on every address at [APIServerPort], because
// kubelet probes and the Services reach it on the pod IP. --tls-san adds the
// Service's DNS names to the serving certificate; the config's own
// expose.extraSANs come from the config file.
func ControlPlaneArgs(r Ref, withPKI bool) []string {
	svc := r.ServiceName()
	sans := []string{
		svc,
		svc + "." + r.Namespace,
		svc + "." + r.Namespace + ".svc",
		svc + "." + r.Namespace + ".svc.cluster.local",
	}
	args := []string{
		"kubicle",
		"control-plane",
		"--config=" + ConfigDir + "/" + ConfigKey,
		"--data-dir=" + DataDir,
		"--name=" + r.Name,
		"--host-namespace=" + r.Namespace,
		"--listen=0.0.0.0:" + strconv.Itoa(APIServerPort),
		"--dns-listen=0.0.0.0:" + strconv.Itoa(DNSPort),
		"--kubelet-listen=127.0.0.1:" + strconv.Itoa(KubeletPort),
		"--tls-san=" + strings.Join(sans, ","),
	}
	if withPKI {
		args = append(args, "--pki-dir="+PKIDir)
	}
	return args
}

// statefulSet returns the control plane's StatefulSet.
func statefulSet(vc *v1alpha1.VirtualCluster, r Ref, image string, res corev1.ResourceRequirements, configHash string, pkiFiles []string, sleeping bool) *appsv1.StatefulSet {
	cp := &vc.Spec.ControlPlane
	replicas := cp.Replicas
	if sleeping {
		replicas = new(int32(0))
	}
	pers := &cp.BackingStore.Persistence
	persistent := isTrue(pers.Enabled)
	embeddedEtcd := cp.BackingStore.Type == v1alpha1.BackingStoreEmbeddedEtcd
	podLabels := r.Labels(ComponentControlPlane)

	args := ControlPlaneArgs(r, len(pkiFiles) > 0)
	ports := []corev1.ContainerPort{
		{Name: portNameHTTPS, ContainerPort: APIServerPort, Protocol: corev1.ProtocolTCP},
		{Name: portNameDNS, ContainerPort: DNSPort, Protocol: corev1.ProtocolUDP},
		{Name: portNameDNSTCP, ContainerPort: DNSPort, Protocol: corev1.ProtocolTCP},
	}
	if embeddedEtcd {
		ports = append(ports,
			corev1.ContainerPort{Name: portNameClient, ContainerPort: EtcdClientPort, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: portNamePeer, ContainerPort: EtcdPeerPort, Protocol: corev1.ProtocolTCP})
	}

	mounts := []corev1.VolumeMount{
		{Name: dataVolume, MountPath: DataDir},
		{Name: configVolume, MountPath: ConfigDir, ReadOnly: true},
		{Name: tmpVolume, MountPath: "/tmp"},
	}
	// One projected volume holds the config file and, under pki/, the PKI,
	// so that neither is mounted inside the other's read-only volume.
	sources := []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
		LocalObjectReference: corev1.LocalObjectReference{Name: r.ConfigSecretName()},
		Items:                []corev1.KeyToPath{{Key: ConfigKey, Path: ConfigKey}},
	}}}
	if len(pkiFiles) > 0 {
		items := make([]corev1.KeyToPath, len(pkiFiles))
		for i, f := range pkiFiles {
			items[i] = corev1.KeyToPath{Key: f, Path: strings.TrimPrefix(PKIDir, ConfigDir+"/") + "/" + f}
		}
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: r.PKISecretName()},
			Items:                items,
		}})
	}
	volumes := []corev1.Volume{
		{Name: configVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: sources,
			// 0440 with fsGroup: readable by the control plane's group, not
			// by the world.
			DefaultMode: new(int32(0o440)),
		}}},
		{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	var claims []corev1.PersistentVolumeClaim
	if persistent {
		claim := corev1.PersistentVolumeClaim{
			// The claim template's labels go onto every claim, so that
			// deleting by label finds the volumes too.
			ObjectMeta: metav1.ObjectMeta{Name: dataVolume, Labels: r.Labels(ComponentControlPlane)},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{}},
			},
		}
		if pers.Size != nil {
			claim.Spec.Resources.Requests[corev1.ResourceStorage] = *pers.Size
		}
		if pers.StorageClassName != "" {
			claim.Spec.StorageClassName = new(pers.StorageClassName)
		}
		claims = append(claims, claim)
	} else {
		// The store lives elsewhere (database, external etcd), or the
		// cluster is deliberately ephemeral.
		volumes = append(volumes, corev1.Volume{Name: dataVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}

	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString(portNameHTTPS), Scheme: corev1.URISchemeHTTPS,
			}},
			PeriodSeconds:    period,
			TimeoutSeconds:   5,
			FailureThreshold: failures,
			SuccessThreshold: 1,
		}
	}

	container := corev1.Container{
		Name:  containerName,
		Image: image,
		// Command rather than args, so the line does not depend on the
		// image's entrypoint.
		Command: args,
		Ports:   ports,
		Env: []corev1.EnvVar{
			fieldEnv("POD_NAME", "metadata.name"),
			fieldEnv("POD_NAMESPACE", "metadata.namespace"),
			fieldEnv("POD_IP", "status.podIP"),
		},
		Resources:    res,
		VolumeMounts: mounts,
		// A cold start (store recovery, an etcd member joining, the first
		// PKI) may take minutes on a busy node: up to 5 of them before
		// liveness takes over.
		StartupProbe: probe("/livez", 5, 60),
		// A minute of failed checks restarts the container; the API server
		// reports itself unhealthy only when it is stuck.
		LivenessProbe: probe("/livez", 10, 6),
		// Out of the Service while it cannot serve, such as while its store
		// is unreachable.
		ReadinessProbe: probe("/readyz", 5, 3),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			ReadOnlyRootFilesystem:   new(true),
			RunAsNonRoot:             new(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}

	if db := cp.BackingStore.Database; db != nil && db.DSNSecretRef != nil {
		// The data source name carries a password: from its Secret through the
		// environment, never on the command line.
		container.Env = append(container.Env, corev1.EnvVar{Name: DatastoreEndpointEnv, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: db.DSNSecretRef.Name},
				Key:                  db.DSNSecretRef.Key,
			},
		}})
	}

	spec := corev1.PodSpec{
		ServiceAccountName:           r.ServiceAccountName(),
		AutomountServiceAccountToken: new(true),
		// The host namespace holds every synced Service of the tenant; their
		// environment variables would only bloat the control plane's.
		EnableServiceLinks: new(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:        new(true),
			RunAsUser:           new(int64(runAsID)),
			RunAsGroup:          new(int64(runAsID)),
			FSGroup:             new(int64(runAsID)),
			FSGroupChangePolicy: new(corev1.FSGroupChangeOnRootMismatch),
			SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{container},
		Volumes:    volumes,
	}
	if cp.Replicas != nil && *cp.Replicas > 1 {
		// Replicas on different nodes survive a node's loss, which is the
		// point of having several.
		spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{
					LabelSelector: &metav1.LabelSelector{MatchLabels: r.podSelector()},
					TopologyKey:   corev1.LabelHostname,
				},
			}},
		}}
	}

	return &appsv1.StatefulSet{
		TypeMeta:   typeMeta(kindStatefulSet),
		ObjectMeta: objectMeta(r, r.StatefulSetName(), ComponentControlPlane),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    replicas,
			Selector:    &metav1.LabelSelector{MatchLabels: r.podSelector()},
			ServiceName: r.HeadlessServiceName(),
			// Etcd members must start together to form a quorum; ordered
			// start would wait for pod 0's readiness, which needs the quorum.
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			// Sleeping scales to zero and must keep the store; deleting the
			// virtual cluster deletes the claims by label.
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: map[string]string{AnnotationConfigHash: configHash},
				},
				Spec: spec,
			},
			VolumeClaimTemplates: claims,
		},
	}
}

// services returns the headless Service of the StatefulSet and the Service
// in front of the API server.
func services(vc *v1alpha1.VirtualCluster, r Ref) (headless, api *corev1.Service) {
	expose := &vc.Spec.ControlPlane.Expose
	embeddedEtcd := vc.Spec.ControlPlane.BackingStore.Type == v1alpha1.BackingStoreEmbeddedEtcd

	headlessPorts := []corev1.ServicePort{{
		Name: portNameHTTPS, Port: APIServerPort, TargetPort: intstr.FromString(portNameHTTPS), Protocol: corev1.ProtocolTCP,
	}}
	if embeddedEtcd {
		headlessPorts = append(headlessPorts,
			corev1.ServicePort{Name: portNameClient, Port: EtcdClientPort, TargetPort: intstr.FromString(portNameClient), Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: portNamePeer, Port: EtcdPeerPort, TargetPort: intstr.FromString(portNamePeer), Protocol: corev1.ProtocolTCP})
	}
	headless = &corev1.Service{
		TypeMeta:   typeMeta(kindService),
		ObjectMeta: objectMeta(r, r.HeadlessServiceName(), ComponentControlPlane),
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: corev1.ClusterIPNone,
			Selector:  r.podSelector(),
			Ports:     headlessPorts,
			// Etcd members find each other by DNS before any is ready.
			PublishNotReadyAddresses: true,
		},
	}

	// PortForward still needs a Service: tenant pods always reach the API
	// server through a ClusterIP Service.
	typ := corev1.ServiceTypeClusterIP
	switch expose.Type {
	case v1alpha1.ExposeNodePort:
		typ = corev1.ServiceTypeNodePort
	case v1alpha1.ExposeLoadBalancer:
		typ = corev1.ServiceTypeLoadBalancer
	}
	port := corev1.ServicePort{
		Name: portNameHTTPS, Port: ServicePort, TargetPort: intstr.FromString(portNameHTTPS), Protocol: corev1.ProtocolTCP,
	}
	if typ == corev1.ServiceTypeNodePort {
		port.NodePort = expose.NodePort
	}
	objMeta := objectMeta(r, r.ServiceName(), ComponentControlPlane)
	if len(expose.Annotations) > 0 {
		objMeta.Annotations = make(map[string]string, len(expose.Annotations))
		for k, v := range expose.Annotations {
			objMeta.Annotations[k] = v
		}
	}
	api = &corev1.Service{
		TypeMeta:   typeMeta(kindService),
		ObjectMeta: objMeta,
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: r.podSelector(),
			Ports:    []corev1.ServicePort{port},
		},
	}
	return headless, api
}

// dnsService is the virtual cluster's DNS address on the host: a ClusterIP Service,
// whatever spec.controlPlane.expose says (DNS is for the tenant's pods, never
// exposed outside the host), mapping port 53 to the control plane's DNS server. The
// control plane gives its ClusterIP to the tenant's pods as their nameserver.
func dnsService(r Ref) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeMeta(kindService),
		ObjectMeta: objectMeta(r, r.DNSServiceName(), ComponentControlPlane),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: r.podSelector(),
			Ports: []corev1.ServicePort{
				{Name: portNameDNS, Port: ServiceDNSPort, TargetPort: intstr.FromString(portNameDNS), Protocol: corev1.ProtocolUDP},
				{Name: portNameDNSTCP, Port: ServiceDNSPort, TargetPort: intstr.FromString(portNameDNSTCP), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path},
	}}
}
