package translate

import (
	corev1 "k8s.io/api/core/v1"
)

// VirtualPodStatus returns the status the virtual pod should show for a
// host pod: phase, conditions, message, reason, nominated node, host and
// pod IPs, start time, init, regular and ephemeral container statuses, QoS
// class, resize status, allocated resources, resources and volume health,
// copied.
//
// Left out: observedGeneration (on the pod and its conditions), which
// counts host generations, not virtual ones; and the resource claim
// statuses (resourceClaimStatuses, extendedResourceClaimStatus,
// nodeAllocatableResourceClaimStatuses), which name host claims. Node
// names go through [VirtualNodeName]. The host pod is not modified.
func VirtualPodStatus(host *corev1.Pod) corev1.PodStatus {
	if host == nil {
		return corev1.PodStatus{}
	}
	h := host.Status.DeepCopy()
	out := corev1.PodStatus{
		Phase:                      h.Phase,
		Conditions:                 h.Conditions,
		Message:                    h.Message,
		Reason:                     h.Reason,
		NominatedNodeName:          h.NominatedNodeName,
		HostIP:                     h.HostIP,
		HostIPs:                    h.HostIPs,
		PodIP:                      h.PodIP,
		PodIPs:                     h.PodIPs,
		StartTime:                  h.StartTime,
		InitContainerStatuses:      h.InitContainerStatuses,
		ContainerStatuses:          h.ContainerStatuses,
		QOSClass:                   h.QOSClass,
		EphemeralContainerStatuses: h.EphemeralContainerStatuses,
		Resize:                     h.Resize,
		AllocatedResources:         h.AllocatedResources,
		Resources:                  h.Resources,
		VolumeHealth:               h.VolumeHealth,
	}
	if out.NominatedNodeName != "" {
		out.NominatedNodeName = VirtualNodeName(out.NominatedNodeName)
	}
	for i := range out.Conditions {
		out.Conditions[i].ObservedGeneration = 0
	}
	return out
}

// VirtualServiceStatus returns the status the virtual Service should show
// for a host Service: its load balancer ingress points and conditions,
// copied. The allocated cluster IPs and node ports are spec, not status;
// the syncer copies them separately.
func VirtualServiceStatus(host *corev1.Service) corev1.ServiceStatus {
	if host == nil {
		return corev1.ServiceStatus{}
	}
	return *host.Status.DeepCopy()
}

// VirtualPersistentVolumeClaimStatus returns the status the virtual claim
// should show for a host claim: phase, access modes, capacity, conditions,
// allocated resources and volume attributes class status, copied. The bound
// volume's name is spec (spec.volumeName), which the syncer copies
// separately; virtual volumes mirror host volumes under the same name.
func VirtualPersistentVolumeClaimStatus(host *corev1.PersistentVolumeClaim) corev1.PersistentVolumeClaimStatus {
	if host == nil {
		return corev1.PersistentVolumeClaimStatus{}
	}
	return *host.Status.DeepCopy()
}
