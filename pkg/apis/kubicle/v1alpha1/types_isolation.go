package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// IsolationMode says where a tenant's pods run.
type IsolationMode string

// The isolation modes.
const (
	// IsolationShared runs the tenant's pods on any host node, next to other
	// tenants' pods.
	IsolationShared IsolationMode = "shared"
	// IsolationDedicated pins the tenant's pods to a pool of host nodes chosen
	// by isolation.nodeSelector and isolation.tolerations.
	IsolationDedicated IsolationMode = "dedicated"
	// IsolationPrivate runs the tenant's pods on nodes that join the virtual
	// cluster itself; pods are not synced to the host.
	IsolationPrivate IsolationMode = "private"
	// IsolationAuto pins the tenant's pods to host nodes that the host's node
	// autoscaler provisions for this virtual cluster alone.
	IsolationAuto IsolationMode = "auto"
)

// AllowedValues returns every isolation mode.
func (IsolationMode) AllowedValues() []string {
	return []string{string(IsolationShared), string(IsolationDedicated),
		string(IsolationPrivate), string(IsolationAuto)}
}

// PodSecurityStandard names a Kubernetes Pod Security Standard level.
type PodSecurityStandard string

// The Pod Security Standard levels.
const (
	// PodSecurityPrivileged allows everything, device access included.
	PodSecurityPrivileged PodSecurityStandard = "privileged"
	// PodSecurityBaseline forbids known privilege escalations: privileged
	// containers, host namespaces, hostPath volumes, added capabilities.
	PodSecurityBaseline PodSecurityStandard = "baseline"
	// PodSecurityRestricted adds the hardening best practices to baseline.
	PodSecurityRestricted PodSecurityStandard = "restricted"
)

// AllowedValues returns every Pod Security Standard level.
func (PodSecurityStandard) AllowedValues() []string {
	return []string{string(PodSecurityPrivileged), string(PodSecurityBaseline),
		string(PodSecurityRestricted)}
}

// Isolation chooses where a tenant's pods run and which guardrails its host
// namespace gets.
type Isolation struct {
	// Mode says where the tenant's pods run. "shared": any host node, next to
	// other tenants. "dedicated": only the host nodes that nodeSelector selects
	// (tolerations let pods onto tainted pool nodes); the syncer sets both on
	// every host pod and the tenant cannot override them. "private": nodes that
	// join the virtual cluster itself; pods are not synced to the host, and the
	// virtual scheduler places them. "auto": host nodes that the host's node
	// autoscaler provisions for this virtual cluster alone, labelled and
	// tainted kubicle.dev/virtual-cluster=<namespace>.
	// Not supported yet: validation refuses "private" and "auto".
	// Default: shared.
	// +kubicle:default="shared"
	Mode IsolationMode `json:"mode,omitempty"`

	// NodeSelector selects the host nodes of a dedicated pool. Required with
	// mode "dedicated", forbidden otherwise. A tenant pod whose own
	// nodeSelector gives one of these keys another value is refused.
	// Default: none.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let the tenant's pods onto the tainted nodes of a dedicated
	// pool. Only with mode "dedicated".
	// Default: none.
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// AllowedTolerations are the tolerations the tenant's pods may carry,
	// which is how the platform grants a tenant nodes it reserves with a
	// taint, such as GPU nodes tainted nvidia.com/gpu. A pod's toleration is
	// allowed when one of these tolerates every taint it tolerates (same key,
	// or an empty key with operator Exists; operator Exists, or the same
	// value; an empty effect, or the same one). Tolerations of the taints
	// Kubernetes sets on nodes itself (node.kubernetes.io/not-ready,
	// unreachable, unschedulable, memory-pressure, disk-pressure,
	// pid-pressure, network-unavailable), of effect PreferNoSchedule, and
	// with mode "dedicated" the pool's own tolerations are always allowed.
	// Any other toleration is refused: the virtual API server refuses the
	// pod at once, and the syncer does not create a host pod for one admitted
	// earlier, with a Warning event that names the toleration and this field.
	// Default: none.
	AllowedTolerations []corev1.Toleration `json:"allowedTolerations,omitempty"`

	// PodSecurityStandard is the Pod Security Standard that every tenant pod
	// must meet, judged by the upstream Pod Security library: the virtual API
	// server refuses a pod (or an ephemeral container, kubectl debug) that
	// breaks it at once, whatever pod-security labels the tenant puts on its
	// own namespaces, and the syncer does not create a host pod for one
	// admitted earlier (a SyncRefused Warning event and condition). The host
	// namespace also gets the pod-security.kubernetes.io/enforce label at this
	// level. "baseline" forbids privileged containers, host namespaces and
	// hostPath volumes, the usual ways out of a GPU container (/dev/nvidia*
	// mounts); "restricted" also requires non-root containers.
	// Default: baseline.
	// +kubicle:default="baseline"
	PodSecurityStandard PodSecurityStandard `json:"podSecurityStandard,omitempty"`

	// ResourceQuota is the hard limit of a ResourceQuota on the host namespace,
	// keyed by quota resource name: "requests.cpu", "limits.memory", "pods",
	// "requests.nvidia.com/gpu" and so on. Extended resources such as GPUs are
	// limited as "requests.<name>" only.
	// Default: none, or "requests.<gpu.resourceName>" set to gpu.maxGPUs when
	// that is set.
	ResourceQuota corev1.ResourceList `json:"resourceQuota,omitempty"`

	// LimitRange is a LimitRange for containers on the host namespace.
	// Default: empty, or default requests and limits for the compute resources
	// that resourceQuota limits, since a quota on them refuses pods that do not
	// state them.
	LimitRange LimitRange `json:"limitRange,omitzero"`

	// NetworkPolicy isolates the host namespace's network.
	// Default: empty; every field has its own default.
	// +kubicle:default={"enabled":true}
	NetworkPolicy NetworkPolicy `json:"networkPolicy,omitzero"`

	// GPU limits the tenant's use of GPUs.
	// Default: empty; every field has its own default.
	GPU GPU `json:"gpu,omitzero"`

	// AllowedEndpointCIDRs are the address ranges (such as "192.0.2.0/24", an
	// external database) that the tenant's hand-written EndpointSlices, those of
	// Services without a selector, may name besides the IPs of the tenant's own
	// pods. Any other address (another tenant's pod, the host API server, a node)
	// is refused: the slice stays in the virtual cluster with a Warning event
	// that names the address, and its host Service gets no endpoint for it.
	// Default: none; own pods only.
	AllowedEndpointCIDRs []string `json:"allowedEndpointCIDRs,omitempty"`

	// AllowedServiceTypes are the Service types the tenant's Services may have
	// on the host: "ClusterIP", "NodePort" (a port on every host node) and
	// "LoadBalancer" (a node port and a load balancer of the host's cloud).
	// ExternalName Services are always allowed: they are DNS only and never
	// reach the host. A Service of another type is refused when it is created
	// or changed, with an error that names the type and this field; a
	// Service with spec.externalIPs is always refused, since it would claim
	// that address on every host node.
	// Default: ["ClusterIP"].
	// +kubicle:default=["ClusterIP"]
	AllowedServiceTypes []corev1.ServiceType `json:"allowedServiceTypes,omitempty"`
}

// LimitRange is the container limit range of a host namespace.
type LimitRange struct {
	// Default are the limits given to containers that state none.
	// Default: with a quota on limits.cpu or limits.memory, cpu 1 and memory
	// 512Mi for the quota's resources; otherwise none.
	Default corev1.ResourceList `json:"default,omitempty"`

	// DefaultRequest are the requests given to containers that state none.
	// Default: with a quota on requests.cpu or requests.memory (or cpu or
	// memory), cpu 100m and memory 128Mi for the quota's resources; otherwise
	// none.
	DefaultRequest corev1.ResourceList `json:"defaultRequest,omitempty"`

	// Max is the most a container may request or limit, per resource.
	// Default: none.
	Max corev1.ResourceList `json:"max,omitempty"`

	// Min is the least a container may request, per resource.
	// Default: none.
	Min corev1.ResourceList `json:"min,omitempty"`
}

// NetworkPolicy isolates the host namespace's network.
type NetworkPolicy struct {
	// Enabled creates NetworkPolicies on the host namespace that let the
	// tenant's pods reach each other, the virtual API server and cluster DNS,
	// and refuse connections from other host namespaces.
	// Default: true.
	// +kubicle:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// Egress says where the tenant's pods may connect outside their own host
	// namespace. Within it they always reach each other and, with driver
	// "pod", the virtual API server and DNS, which run there. Only while
	// enabled is true.
	// Default: empty; every field has its own default.
	Egress NetworkEgress `json:"egress,omitzero"`
}

// NetworkEgress says where a tenant's pods may connect outside their host
// namespace: every address except the blocked ranges, and inside those the
// allowed ranges and namespaces.
type NetworkEgress struct {
	// BlockedCIDRs are the address ranges that the tenant's pods may not
	// reach, except where allowedCIDRs or allowedNamespaces open a part of
	// them; every IPv4 address outside them (the internet) is open. The
	// default blocks the private, shared (carrier-grade NAT), loopback,
	// link-local and benchmarking ranges, where the host's nodes, its API
	// server, other namespaces' pods and Services, and cloud metadata
	// (169.254.169.254) live on most clusters, the embedded host
	// (198.18.0.0/15) included. List "0.0.0.0/0" to block every IPv4 address.
	// IPv6 is open only outside the IPv6 ranges listed here, and only when at
	// least one is listed (for instance "fc00::/7"); with none, the tenant's
	// pods reach no IPv6 address outside their namespace.
	// Default: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
	// "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8", "198.18.0.0/15"].
	// +kubicle:default=["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16","100.64.0.0/10","169.254.0.0/16","127.0.0.0/8","198.18.0.0/15"]
	BlockedCIDRs []string `json:"blockedCIDRs,omitempty"`

	// AllowedCIDRs are address ranges that the tenant's pods may reach even
	// where blockedCIDRs block them, such as "10.20.0.5/32" for a database
	// of the platform, or the host API server's address.
	// Default: none.
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`

	// AllowedNamespaces are host namespaces whose pods the tenant's pods may
	// reach, by name, such as a shared model cache or an observability
	// stack. Another tenant's host namespace admits no one from outside, so
	// naming it here opens nothing.
	// Default: none.
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`
}

// GPU limits a tenant's use of GPUs.
type GPU struct {
	// MaxGPUs is the most GPUs all the tenant's pods together may request. It
	// becomes the host quota entry "requests.<resourceName>", which the host
	// enforces; 0 allows no GPUs.
	// Default: unset; only resourceQuota limits GPUs.
	// +kubicle:minimum=0
	MaxGPUs *int32 `json:"maxGPUs,omitempty"`

	// AllowedGPUTypes are the GPU products the tenant's pods may run on, as
	// values of the node label named by productLabel, such as
	// "NVIDIA-H100-80GB-HBM3". The syncer requires one of them through node
	// affinity on every host pod that requests GPUs.
	// Not supported yet: validation refuses a non-empty list.
	// Default: none; any GPU product.
	AllowedGPUTypes []string `json:"allowedGPUTypes,omitempty"`

	// ResourceName is the extended resource under which host nodes advertise
	// GPUs.
	// Default: nvidia.com/gpu, the name of NVIDIA's device plugin.
	// +kubicle:default="nvidia.com/gpu"
	ResourceName string `json:"resourceName,omitempty"`

	// ProductLabel is the node label whose value names a node's GPU product.
	// Not supported yet: validation refuses a value other than the default,
	// since only allowedGPUTypes reads it.
	// Default: nvidia.com/gpu.product, set by NVIDIA GPU Feature Discovery.
	// +kubicle:default="nvidia.com/gpu.product"
	ProductLabel string `json:"productLabel,omitempty"`
}
