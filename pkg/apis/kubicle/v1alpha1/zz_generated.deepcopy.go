// Deep copy functions for the types of this package, written by hand in the
// shape deepcopy-gen gives them. TestDeepCopyCoversEveryField fills every field
// of every type through reflection and fails when a copy shares memory with its
// original or misses a field, so a field added without its copy is caught.

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// copyBool returns a copy of a *bool.
func copyBool(in *bool) *bool {
	if in == nil {
		return nil
	}
	out := *in
	return &out
}

// copyInt32 returns a copy of a *int32.
func copyInt32(in *int32) *int32 {
	if in == nil {
		return nil
	}
	out := *in
	return &out
}

// copyStrings returns a copy of a []string.
func copyStrings(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	copy(out, in)
	return out
}

// copyStringMap returns a copy of a map[string]string.
func copyStringMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// copyResourceList returns a copy of a corev1.ResourceList.
func copyResourceList(in corev1.ResourceList) corev1.ResourceList {
	if in == nil {
		return nil
	}
	return in.DeepCopy()
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *VirtualCluster) DeepCopyInto(out *VirtualCluster) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	in.Status.DeepCopyInto(&out.Status)
}

// DeepCopy returns a deep copy of the receiver.
func (in *VirtualCluster) DeepCopy() *VirtualCluster {
	if in == nil {
		return nil
	}
	out := new(VirtualCluster)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a deep copy of the receiver as a runtime.Object.
func (in *VirtualCluster) DeepCopyObject() runtime.Object {
	if c := in.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *VirtualClusterList) DeepCopyInto(out *VirtualClusterList) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]VirtualCluster, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a deep copy of the receiver.
func (in *VirtualClusterList) DeepCopy() *VirtualClusterList {
	if in == nil {
		return nil
	}
	out := new(VirtualClusterList)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a deep copy of the receiver as a runtime.Object.
func (in *VirtualClusterList) DeepCopyObject() runtime.Object {
	if c := in.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *VirtualClusterSpec) DeepCopyInto(out *VirtualClusterSpec) {
	*out = *in
	in.ControlPlane.DeepCopyInto(&out.ControlPlane)
	in.Sync.DeepCopyInto(&out.Sync)
	in.Isolation.DeepCopyInto(&out.Isolation)
	in.Sleep.DeepCopyInto(&out.Sleep)
	in.ExportKubeConfig.DeepCopyInto(&out.ExportKubeConfig)
}

// DeepCopy returns a deep copy of the receiver.
func (in *VirtualClusterSpec) DeepCopy() *VirtualClusterSpec {
	if in == nil {
		return nil
	}
	out := new(VirtualClusterSpec)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *VirtualClusterStatus) DeepCopyInto(out *VirtualClusterStatus) {
	*out = *in
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
}

// DeepCopy returns a deep copy of the receiver.
func (in *VirtualClusterStatus) DeepCopy() *VirtualClusterStatus {
	if in == nil {
		return nil
	}
	out := new(VirtualClusterStatus)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *ControlPlane) DeepCopyInto(out *ControlPlane) {
	*out = *in
	in.Resources.DeepCopyInto(&out.Resources)
	out.Replicas = copyInt32(in.Replicas)
	in.BackingStore.DeepCopyInto(&out.BackingStore)
	in.Scheduler.DeepCopyInto(&out.Scheduler)
	in.Expose.DeepCopyInto(&out.Expose)
}

// DeepCopy returns a deep copy of the receiver.
func (in *ControlPlane) DeepCopy() *ControlPlane {
	if in == nil {
		return nil
	}
	out := new(ControlPlane)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *BackingStore) DeepCopyInto(out *BackingStore) {
	*out = *in
	in.Persistence.DeepCopyInto(&out.Persistence)
	out.ExternalEtcd = in.ExternalEtcd.DeepCopy()
	out.Database = in.Database.DeepCopy()
}

// DeepCopy returns a deep copy of the receiver.
func (in *BackingStore) DeepCopy() *BackingStore {
	if in == nil {
		return nil
	}
	out := new(BackingStore)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Persistence) DeepCopyInto(out *Persistence) {
	*out = *in
	out.Enabled = copyBool(in.Enabled)
	if in.Size != nil {
		size := in.Size.DeepCopy()
		out.Size = &size
	}
}

// DeepCopy returns a deep copy of the receiver.
func (in *Persistence) DeepCopy() *Persistence {
	if in == nil {
		return nil
	}
	out := new(Persistence)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *ExternalEtcd) DeepCopyInto(out *ExternalEtcd) {
	*out = *in
	out.Endpoints = copyStrings(in.Endpoints)
	out.TLSSecretRef = in.TLSSecretRef.DeepCopy()
}

// DeepCopy returns a deep copy of the receiver.
func (in *ExternalEtcd) DeepCopy() *ExternalEtcd {
	if in == nil {
		return nil
	}
	out := new(ExternalEtcd)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Database) DeepCopyInto(out *Database) {
	*out = *in
	out.DSNSecretRef = in.DSNSecretRef.DeepCopy()
}

// DeepCopy returns a deep copy of the receiver.
func (in *Database) DeepCopy() *Database {
	if in == nil {
		return nil
	}
	out := new(Database)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *SecretReference) DeepCopyInto(out *SecretReference) {
	*out = *in
}

// DeepCopy returns a deep copy of the receiver.
func (in *SecretReference) DeepCopy() *SecretReference {
	if in == nil {
		return nil
	}
	out := new(SecretReference)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *SecretKeyReference) DeepCopyInto(out *SecretKeyReference) {
	*out = *in
}

// DeepCopy returns a deep copy of the receiver.
func (in *SecretKeyReference) DeepCopy() *SecretKeyReference {
	if in == nil {
		return nil
	}
	out := new(SecretKeyReference)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Scheduler) DeepCopyInto(out *Scheduler) {
	*out = *in
	out.Enabled = copyBool(in.Enabled)
}

// DeepCopy returns a deep copy of the receiver.
func (in *Scheduler) DeepCopy() *Scheduler {
	if in == nil {
		return nil
	}
	out := new(Scheduler)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Expose) DeepCopyInto(out *Expose) {
	*out = *in
	out.Annotations = copyStringMap(in.Annotations)
	out.ExtraSANs = copyStrings(in.ExtraSANs)
}

// DeepCopy returns a deep copy of the receiver.
func (in *Expose) DeepCopy() *Expose {
	if in == nil {
		return nil
	}
	out := new(Expose)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Sync) DeepCopyInto(out *Sync) {
	*out = *in
	in.ToHost.DeepCopyInto(&out.ToHost)
	in.FromHost.DeepCopyInto(&out.FromHost)
}

// DeepCopy returns a deep copy of the receiver.
func (in *Sync) DeepCopy() *Sync {
	if in == nil {
		return nil
	}
	out := new(Sync)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *ResourceSync) DeepCopyInto(out *ResourceSync) {
	*out = *in
	out.Enabled = copyBool(in.Enabled)
}

// DeepCopy returns a deep copy of the receiver.
func (in *ResourceSync) DeepCopy() *ResourceSync {
	if in == nil {
		return nil
	}
	out := new(ResourceSync)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *ReferencedResourceSync) DeepCopyInto(out *ReferencedResourceSync) {
	*out = *in
	out.Enabled = copyBool(in.Enabled)
	out.All = copyBool(in.All)
}

// DeepCopy returns a deep copy of the receiver.
func (in *ReferencedResourceSync) DeepCopy() *ReferencedResourceSync {
	if in == nil {
		return nil
	}
	out := new(ReferencedResourceSync)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *SyncToHost) DeepCopyInto(out *SyncToHost) {
	*out = *in
	in.Pods.DeepCopyInto(&out.Pods)
	in.Services.DeepCopyInto(&out.Services)
	in.Endpoints.DeepCopyInto(&out.Endpoints)
	in.ConfigMaps.DeepCopyInto(&out.ConfigMaps)
	in.Secrets.DeepCopyInto(&out.Secrets)
	in.PersistentVolumeClaims.DeepCopyInto(&out.PersistentVolumeClaims)
	in.Ingresses.DeepCopyInto(&out.Ingresses)
	in.ServiceAccounts.DeepCopyInto(&out.ServiceAccounts)
	in.NetworkPolicies.DeepCopyInto(&out.NetworkPolicies)
	in.PriorityClasses.DeepCopyInto(&out.PriorityClasses)
	in.ResourceClaims.DeepCopyInto(&out.ResourceClaims)
	in.Workloads.DeepCopyInto(&out.Workloads)
}

// DeepCopy returns a deep copy of the receiver.
func (in *SyncToHost) DeepCopy() *SyncToHost {
	if in == nil {
		return nil
	}
	out := new(SyncToHost)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *NodeSync) DeepCopyInto(out *NodeSync) {
	*out = *in
	out.Selector = in.Selector.DeepCopy()
}

// DeepCopy returns a deep copy of the receiver.
func (in *NodeSync) DeepCopy() *NodeSync {
	if in == nil {
		return nil
	}
	out := new(NodeSync)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *SyncFromHost) DeepCopyInto(out *SyncFromHost) {
	*out = *in
	in.Nodes.DeepCopyInto(&out.Nodes)
	in.StorageClasses.DeepCopyInto(&out.StorageClasses)
	in.IngressClasses.DeepCopyInto(&out.IngressClasses)
	in.RuntimeClasses.DeepCopyInto(&out.RuntimeClasses)
	in.PriorityClasses.DeepCopyInto(&out.PriorityClasses)
	in.CSIDrivers.DeepCopyInto(&out.CSIDrivers)
	in.DeviceClasses.DeepCopyInto(&out.DeviceClasses)
	in.Events.DeepCopyInto(&out.Events)
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *HostClassSync) DeepCopyInto(out *HostClassSync) {
	*out = *in
	out.Enabled = copyBool(in.Enabled)
	if in.Selector != nil {
		out.Selector = in.Selector.DeepCopy()
	}
}

// DeepCopy returns a deep copy of the receiver.
func (in *HostClassSync) DeepCopy() *HostClassSync {
	if in == nil {
		return nil
	}
	out := new(HostClassSync)
	in.DeepCopyInto(out)
	return out
}

// DeepCopy returns a deep copy of the receiver.
func (in *SyncFromHost) DeepCopy() *SyncFromHost {
	if in == nil {
		return nil
	}
	out := new(SyncFromHost)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Isolation) DeepCopyInto(out *Isolation) {
	*out = *in
	out.NodeSelector = copyStringMap(in.NodeSelector)
	if in.Tolerations != nil {
		out.Tolerations = make([]corev1.Toleration, len(in.Tolerations))
		for i := range in.Tolerations {
			in.Tolerations[i].DeepCopyInto(&out.Tolerations[i])
		}
	}
	if in.AllowedTolerations != nil {
		out.AllowedTolerations = make([]corev1.Toleration, len(in.AllowedTolerations))
		for i := range in.AllowedTolerations {
			in.AllowedTolerations[i].DeepCopyInto(&out.AllowedTolerations[i])
		}
	}
	out.ResourceQuota = copyResourceList(in.ResourceQuota)
	in.LimitRange.DeepCopyInto(&out.LimitRange)
	in.NetworkPolicy.DeepCopyInto(&out.NetworkPolicy)
	in.GPU.DeepCopyInto(&out.GPU)
	out.AllowedEndpointCIDRs = copyStrings(in.AllowedEndpointCIDRs)
	if in.AllowedServiceTypes != nil {
		out.AllowedServiceTypes = make([]corev1.ServiceType, len(in.AllowedServiceTypes))
		copy(out.AllowedServiceTypes, in.AllowedServiceTypes)
	}
}

// DeepCopy returns a deep copy of the receiver.
func (in *Isolation) DeepCopy() *Isolation {
	if in == nil {
		return nil
	}
	out := new(Isolation)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *LimitRange) DeepCopyInto(out *LimitRange) {
	*out = *in
	out.Default = copyResourceList(in.Default)
	out.DefaultRequest = copyResourceList(in.DefaultRequest)
	out.Max = copyResourceList(in.Max)
	out.Min = copyResourceList(in.Min)
}

// DeepCopy returns a deep copy of the receiver.
func (in *LimitRange) DeepCopy() *LimitRange {
	if in == nil {
		return nil
	}
	out := new(LimitRange)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *NetworkPolicy) DeepCopyInto(out *NetworkPolicy) {
	*out = *in
	out.Enabled = copyBool(in.Enabled)
	in.Egress.DeepCopyInto(&out.Egress)
}

// DeepCopyInto copies the receiver into out; in must be non-nil.
func (in *NetworkEgress) DeepCopyInto(out *NetworkEgress) {
	*out = *in
	out.BlockedCIDRs = copyStrings(in.BlockedCIDRs)
	out.AllowedCIDRs = copyStrings(in.AllowedCIDRs)
	out.AllowedNamespaces = copyStrings(in.AllowedNamespaces)
}

// DeepCopy returns a deep copy of the receiver.
func (in *NetworkEgress) DeepCopy() *NetworkEgress {
	if in == nil {
		return nil
	}
	out := new(NetworkEgress)
	in.DeepCopyInto(out)
	return out
}

// DeepCopy returns a deep copy of the receiver.
func (in *NetworkPolicy) DeepCopy() *NetworkPolicy {
	if in == nil {
		return nil
	}
	out := new(NetworkPolicy)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *GPU) DeepCopyInto(out *GPU) {
	*out = *in
	out.MaxGPUs = copyInt32(in.MaxGPUs)
	out.AllowedGPUTypes = copyStrings(in.AllowedGPUTypes)
}

// DeepCopy returns a deep copy of the receiver.
func (in *GPU) DeepCopy() *GPU {
	if in == nil {
		return nil
	}
	out := new(GPU)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Sleep) DeepCopyInto(out *Sleep) {
	*out = *in
	if in.AfterInactivity != nil {
		d := *in.AfterInactivity
		out.AfterInactivity = &d
	}
	out.WakeOnRequest = copyBool(in.WakeOnRequest)
	out.Schedule = in.Schedule.DeepCopy()
}

// DeepCopy returns a deep copy of the receiver.
func (in *Sleep) DeepCopy() *Sleep {
	if in == nil {
		return nil
	}
	out := new(Sleep)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *SleepSchedule) DeepCopyInto(out *SleepSchedule) {
	*out = *in
}

// DeepCopy returns a deep copy of the receiver.
func (in *SleepSchedule) DeepCopy() *SleepSchedule {
	if in == nil {
		return nil
	}
	out := new(SleepSchedule)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *ExportKubeConfig) DeepCopyInto(out *ExportKubeConfig) {
	*out = *in
	out.Enabled = copyBool(in.Enabled)
}

// DeepCopy returns a deep copy of the receiver.
func (in *ExportKubeConfig) DeepCopy() *ExportKubeConfig {
	if in == nil {
		return nil
	}
	out := new(ExportKubeConfig)
	in.DeepCopyInto(out)
	return out
}
