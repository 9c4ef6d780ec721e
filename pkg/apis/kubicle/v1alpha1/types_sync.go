package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sync chooses which kinds of objects the syncer copies between the virtual
// cluster and the host namespace.
type Sync struct {
	// ToHost lists the kinds copied from the virtual cluster to the host
	// namespace, with names and references translated. Spec flows down,
	// status flows back up.
	// Default: empty; every field has its own default.
	ToHost SyncToHost `json:"toHost,omitzero"`

	// FromHost lists the kinds copied from the host into the virtual cluster,
	// read-only for the tenant.
	// Default: empty; every field has its own default.
	FromHost SyncFromHost `json:"fromHost,omitzero"`
}

// ResourceSync turns syncing of one kind on or off.
type ResourceSync struct {
	// Enabled turns syncing of this kind on or off.
	// Default: depends on the kind; see the field that holds this one.
	Enabled *bool `json:"enabled,omitempty"`
}

// HostClassSync shows one kind of cluster-scoped host object (a class that
// tenant objects name) in the virtual cluster, read-only.
type HostClassSync struct {
	// Enabled shows the host's objects of this kind in the virtual cluster
	// under their own names. The host's objects stay the truth: a tenant's
	// change to a shown object, or its deletion, is undone at once, and an
	// object the tenant made under the same name is replaced.
	// Default: false.
	Enabled *bool `json:"enabled,omitempty"`

	// Selector limits the host objects shown to those whose labels it
	// selects, so that the platform offers some classes and not others.
	// Only while enabled is true.
	// Default: unset; every object of the kind (for priority classes, every
	// one but the host's own system-* classes, which are never shown).
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ReferencedResourceSync turns syncing of a kind on or off, and chooses
// between syncing every object of the kind or only those that a synced pod
// references.
type ReferencedResourceSync struct {
	// Enabled turns syncing of this kind on or off.
	// Default: true.
	Enabled *bool `json:"enabled,omitempty"`

	// All syncs every object of this kind. False syncs only the objects that a
	// synced pod references (volumes, env, envFrom, imagePullSecrets), so the
	// host namespace holds no more tenant data than the pods need.
	// Default: false.
	All *bool `json:"all,omitempty"`
}

// SyncToHost lists the kinds copied from the virtual cluster to the host.
type SyncToHost struct {
	// Pods syncs pods, the point of a virtual cluster: the host runs them.
	// Default: enabled, or disabled when isolation.mode is "private" (pods then
	// run on the virtual cluster's own nodes).
	Pods ResourceSync `json:"pods,omitzero"`

	// Services syncs Services, so that the host's network routes to the
	// tenant's pods.
	// Default: enabled.
	// +kubicle:default={"enabled":true}
	Services ResourceSync `json:"services,omitzero"`

	// Endpoints syncs EndpointSlices (and Endpoints) of Services without a
	// selector, which the tenant manages by hand.
	// Default: enabled.
	// +kubicle:default={"enabled":true}
	Endpoints ResourceSync `json:"endpoints,omitzero"`

	// ConfigMaps syncs ConfigMaps.
	// Default: enabled, only those that synced pods reference.
	// +kubicle:default={"all":false,"enabled":true}
	ConfigMaps ReferencedResourceSync `json:"configMaps,omitzero"`

	// Secrets syncs Secrets.
	// Default: enabled, only those that synced pods reference.
	// +kubicle:default={"all":false,"enabled":true}
	Secrets ReferencedResourceSync `json:"secrets,omitzero"`

	// PersistentVolumeClaims syncs PersistentVolumeClaims, so that the host
	// provisions the tenant's volumes.
	// Default: enabled.
	// +kubicle:default={"enabled":true}
	PersistentVolumeClaims ResourceSync `json:"persistentVolumeClaims,omitzero"`

	// Ingresses syncs Ingresses to the host's ingress controller. Off by
	// default because a tenant's Ingress claims a host name on the shared
	// ingress controller.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	Ingresses ResourceSync `json:"ingresses,omitzero"`

	// ServiceAccounts syncs ServiceAccounts to the host, for host integrations
	// that key on a pod's service account, such as cloud workload identity.
	// Tenant pods get tokens from the virtual API server either way.
	// Not supported yet: validation refuses true.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	ServiceAccounts ResourceSync `json:"serviceAccounts,omitzero"`

	// NetworkPolicies translates the tenant's NetworkPolicies into host
	// NetworkPolicies within the host namespace, so that they hold as on a
	// cluster of one's own: a pod a policy selects gets only what the
	// tenant's policies allow, and the host's guardrail policies no longer
	// admit the tenant's other pods to it for that direction. Peers are
	// confined to the tenant: pod and namespace selectors select only the
	// virtual cluster's pods, and an ipBlock never opens what
	// isolation.networkPolicy.egress blocks (a peer inside a blocked range is
	// dropped, with a Warning event). Pods always reach the virtual cluster's
	// API server and DNS, and its control plane reaches them.
	// Default: enabled.
	// +kubicle:default={"enabled":true}
	NetworkPolicies ResourceSync `json:"networkPolicies,omitzero"`

	// PriorityClasses syncs the tenant's PriorityClasses to the host. Off by
	// default: host PriorityClasses are cluster-wide, so a tenant could outrank
	// other tenants' pods. Cannot be enabled together with
	// fromHost.priorityClasses.
	// Not supported yet: validation refuses true.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	PriorityClasses ResourceSync `json:"priorityClasses,omitzero"`

	// ResourceClaims syncs DRA ResourceClaims (resource.k8s.io), so that pods
	// that claim devices such as GPUs get them from the host scheduler.
	// Not supported yet: validation refuses true.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	ResourceClaims ResourceSync `json:"resourceClaims,omitzero"`

	// Workloads syncs gang-scheduling objects (scheduling.k8s.io Workload and
	// PodGroup), so that the host schedules a gang as one rather than pod by
	// pod. Needs a host that serves that API (beta, off by default in
	// Kubernetes 1.37).
	// Not supported yet: validation refuses true.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	Workloads ResourceSync `json:"workloads,omitzero"`
}

// NodeSyncMode says what a virtual cluster's nodes show of the host's nodes.
type NodeSyncMode string

// The node sync modes.
const (
	// NodeSyncReal mirrors host nodes: names, labels, addresses, capacity.
	NodeSyncReal NodeSyncMode = "real"
	// NodeSyncPseudo shows generated nodes that hide the host's node names,
	// addresses and labels.
	NodeSyncPseudo NodeSyncMode = "pseudo"
)

// AllowedValues returns every node sync mode.
func (NodeSyncMode) AllowedValues() []string {
	return []string{string(NodeSyncReal), string(NodeSyncPseudo)}
}

// NodeSync says which host nodes a virtual cluster shows, and how.
type NodeSync struct {
	// Mode says what the virtual cluster's nodes show of the host nodes they
	// stand for. "real" mirrors them: name, labels, addresses, capacity.
	// "pseudo" gives each a made-up name ("node-" and ten hex digits, stable,
	// and different in every virtual cluster, so tenants cannot tell whether
	// they share a node), the control plane's address instead of the node's,
	// and only the well-known OS, architecture, instance-type, topology and
	// GPU labels (kubernetes.io/hostname is the made-up name); capacity,
	// taints and conditions stay true. Pods show the made-up node name and
	// address, and host events name it too.
	// Default: real.
	// +kubicle:default="real"
	Mode NodeSyncMode `json:"mode,omitempty"`

	// Selector selects host nodes to show in the virtual cluster whether or not
	// they run the tenant's pods, so that tenants see capacity before they
	// schedule. Nodes that run the tenant's pods are shown as well.
	// Default: unset; the nodes the tenant's pods may use are shown: those in
	// its pool (isolation.nodeSelector) whose taints its pods may tolerate
	// (isolation.tolerations, allowedTolerations), and any node that runs one
	// of its pods.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// SyncFromHost lists the kinds copied from the host into the virtual cluster.
type SyncFromHost struct {
	// Nodes says which host nodes appear in the virtual cluster, and how. A
	// pod's node must exist in the virtual cluster, so nodes are always synced.
	// Default: empty; every field has its own default.
	// +kubicle:default={"mode":"real"}
	Nodes NodeSync `json:"nodes,omitzero"`

	// StorageClasses shows the host's StorageClasses, which the tenant's
	// PersistentVolumeClaims name.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	StorageClasses HostClassSync `json:"storageClasses,omitzero"`

	// IngressClasses shows the host's IngressClasses, which the tenant's
	// Ingresses name.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	IngressClasses HostClassSync `json:"ingressClasses,omitzero"`

	// RuntimeClasses shows the host's RuntimeClasses. GPU pods often name one
	// ("nvidia"), and the virtual API server refuses a pod whose RuntimeClass
	// it does not know.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	RuntimeClasses HostClassSync `json:"runtimeClasses,omitzero"`

	// PriorityClasses shows the host's PriorityClasses, so that tenant pods can
	// name the classes that the platform offers (and host queueing expects);
	// a pod that names one runs at that class's priority on the host. The
	// host's system-* classes are never shown (the virtual cluster has its
	// own). A pod that names a class of the virtual cluster's own is refused
	// with a Warning event, except the built-in system-* classes, which run
	// at the host namespace's default priority with a Warning event. Cannot
	// be enabled together with toHost.priorityClasses.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	PriorityClasses HostClassSync `json:"priorityClasses,omitzero"`

	// CSIDrivers shows the host's CSIDriver objects, which say how the
	// volumes of each storage driver attach and mount.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	CSIDrivers HostClassSync `json:"csiDrivers,omitzero"`

	// DeviceClasses shows the host's DRA DeviceClasses (resource.k8s.io), which
	// the tenant's ResourceClaims name.
	// Default: disabled.
	// +kubicle:default={"enabled":false}
	DeviceClasses HostClassSync `json:"deviceClasses,omitzero"`

	// Events copies host events about the tenant's synced objects (scheduling
	// failures, image pulls, quota refusals) into the virtual cluster.
	// Default: enabled.
	// +kubicle:default={"enabled":true}
	Events ResourceSync `json:"events,omitzero"`
}
