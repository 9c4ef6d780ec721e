package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualCluster is one tenant's virtual Kubernetes cluster: a kube-apiserver,
// a subset of kube-controller-manager, an optional kube-scheduler, a backing
// store and a syncer, all running in one namespace of the host cluster.
//
// metadata.name names the virtual cluster; metadata.namespace is the host
// namespace that holds its control plane and the objects synced from it.
type VirtualCluster struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. metadata.name names the virtual cluster and
	// metadata.namespace is the host namespace that holds it.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired virtual cluster.
	// Default: empty; every field has its own default.
	Spec VirtualClusterSpec `json:"spec,omitzero"`
	// Status is the observed state of the virtual cluster, written by kubicle.
	Status VirtualClusterStatus `json:"status,omitzero"`
}

// VirtualClusterList is a list of VirtualCluster objects.
type VirtualClusterList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the virtual clusters.
	Items []VirtualCluster `json:"items"`
}

// VirtualClusterSpec is the desired state of a virtual cluster. Every section
// is optional: an empty spec gives a single-replica virtual cluster backed by
// SQLite whose pods run on the host's shared nodes.
type VirtualClusterSpec struct {
	// ControlPlane configures the virtual cluster's control plane: how it runs,
	// where it stores its state and how clients reach it.
	// Default: empty; every field has its own default.
	ControlPlane ControlPlane `json:"controlPlane,omitzero"`

	// Sync chooses which kinds of objects the syncer copies from the virtual
	// cluster to the host (toHost) and from the host into the virtual cluster
	// (fromHost).
	// Default: empty; every field has its own default.
	Sync Sync `json:"sync,omitzero"`

	// Isolation chooses where the tenant's pods run and which guardrails the
	// host namespace gets: Pod Security Standard, quota, limit range, network
	// policy and GPU limits.
	// Default: empty; every field has its own default.
	Isolation Isolation `json:"isolation,omitzero"`

	// Sleep puts an idle virtual cluster to sleep and wakes it again.
	// Not supported yet: validation refuses every setting that would put a
	// virtual cluster to sleep.
	// Default: empty; the virtual cluster never sleeps.
	Sleep Sleep `json:"sleep,omitzero"`

	// ExportKubeConfig writes a kubeconfig for the virtual cluster to a Secret
	// in the host namespace, for GitOps tools and CI jobs that run on the host.
	// Default: empty; every field has its own default.
	ExportKubeConfig ExportKubeConfig `json:"exportKubeConfig,omitzero"`
}

// VirtualClusterPhase is a coarse summary of a virtual cluster's state. The
// conditions carry the detail.
type VirtualClusterPhase string

// The phases of a virtual cluster.
const (
	// PhasePending means the virtual cluster is accepted but nothing of it runs yet.
	PhasePending VirtualClusterPhase = "Pending"
	// PhaseStarting means the control plane is starting or not yet ready.
	PhaseStarting VirtualClusterPhase = "Starting"
	// PhaseRunning means the control plane serves requests and the syncer runs.
	PhaseRunning VirtualClusterPhase = "Running"
	// PhaseSleeping means the control plane is scaled to zero until it is woken.
	PhaseSleeping VirtualClusterPhase = "Sleeping"
	// PhaseFailed means the virtual cluster cannot run; the conditions say why.
	PhaseFailed VirtualClusterPhase = "Failed"
	// PhaseDeleting means the virtual cluster and its host objects are being removed.
	PhaseDeleting VirtualClusterPhase = "Deleting"
)

// AllowedValues returns every phase.
func (VirtualClusterPhase) AllowedValues() []string {
	return []string{string(PhasePending), string(PhaseStarting), string(PhaseRunning),
		string(PhaseSleeping), string(PhaseFailed), string(PhaseDeleting)}
}

// Condition types of a virtual cluster.
const (
	// ConditionReady is True when the virtual cluster serves requests and syncs.
	ConditionReady = "Ready"
	// ConditionValid is False when the spec fails validation; its message lists
	// every problem.
	ConditionValid = "Valid"
	// ConditionControlPlaneReady is True when the virtual API server answers
	// its readiness check.
	ConditionControlPlaneReady = "ControlPlaneReady"
	// ConditionSyncerReady is True when the syncer has caught up with both
	// clusters.
	ConditionSyncerReady = "SyncerReady"
)

// VirtualClusterStatus is the observed state of a virtual cluster.
type VirtualClusterStatus struct {
	// Phase is a coarse summary of the virtual cluster's state.
	Phase VirtualClusterPhase `json:"phase,omitempty"`

	// Conditions are the latest observations of the virtual cluster's state,
	// one per type: Ready, Valid, ControlPlaneReady, SyncerReady.
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the metadata.generation that the status describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Endpoint is the URL at which the virtual API server is reachable, as
	// written into the exported kubeconfig.
	Endpoint string `json:"endpoint,omitempty"`

	// KubernetesVersion is the version the virtual API server reports.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}
