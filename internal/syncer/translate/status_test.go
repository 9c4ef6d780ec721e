package translate

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fields of PodStatus that VirtualPodStatus leaves out on purpose. A new
// field in k8s.io/api fails TestVirtualPodStatusCoversEveryField until it
// is either copied or listed here.
var droppedPodStatusFields = map[string]bool{
	"ObservedGeneration":                   true,
	"ResourceClaimStatuses":                true,
	"ExtendedResourceClaimStatus":          true,
	"NodeAllocatableResourceClaimStatuses": true,
}

// fullHostPodStatus sets every field of PodStatus.
func fullHostPodStatus() corev1.PodStatus {
	start := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cs := func(name string) []corev1.ContainerStatus {
		return []corev1.ContainerStatus{{
			Name: name, Ready: true, RestartCount: 2, Image: "img", ImageID: "sha256:1", ContainerID: "containerd://1",
			Started: ptr(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		}}
	}
	return corev1.PodStatus{
		ObservedGeneration: 3,
		Phase:              corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, ObservedGeneration: 3, LastTransitionTime: start},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, ObservedGeneration: 3},
		},
		Message:                    "m",
		Reason:                     "r",
		NominatedNodeName:          "node-2",
		HostIP:                     "192.168.0.1",
		HostIPs:                    []corev1.HostIP{{IP: "192.168.0.1"}, {IP: "fd00::1"}},
		PodIP:                      "10.244.0.5",
		PodIPs:                     []corev1.PodIP{{IP: "10.244.0.5"}, {IP: "fd01::5"}},
		StartTime:                  &start,
		InitContainerStatuses:      cs("init"),
		ContainerStatuses:          cs("main"),
		QOSClass:                   corev1.PodQOSGuaranteed,
		EphemeralContainerStatuses: cs("debug"),
		Resize:                     corev1.PodResizeStatusInProgress,
		ResourceClaimStatuses:      []corev1.PodResourceClaimStatus{{Name: "gpu", ResourceClaimName: ptr("host-claim")}},
		ExtendedResourceClaimStatus: &corev1.PodExtendedResourceClaimStatus{
			ResourceClaimName: "host-claim",
		},
		AllocatedResources:                   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
		Resources:                            &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		NodeAllocatableResourceClaimStatuses: []corev1.NodeAllocatableResourceClaimStatus{{ResourceClaimName: "host-claim"}},
		VolumeHealth:                         []corev1.PodVolumeHealth{{}},
	}
}

func TestVirtualPodStatus(t *testing.T) {
	t.Parallel()
	host := &corev1.Pod{Status: fullHostPodStatus()}
	before := host.DeepCopy()
	got := VirtualPodStatus(host)
	if !reflect.DeepEqual(host, before) {
		t.Fatal("VirtualPodStatus modified the host pod")
	}
	want := fullHostPodStatus()
	want.ObservedGeneration = 0
	want.Conditions[0].ObservedGeneration = 0
	want.Conditions[1].ObservedGeneration = 0
	want.ResourceClaimStatuses = nil
	want.ExtendedResourceClaimStatus = nil
	want.NodeAllocatableResourceClaimStatuses = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("VirtualPodStatus =\n%+v\nwant\n%+v", got, want)
	}
	// The result shares no memory with the host pod.
	got.ContainerStatuses[0].Name = "changed"
	got.PodIPs[0].IP = "changed"
	if host.Status.ContainerStatuses[0].Name != "main" || host.Status.PodIPs[0].IP != "10.244.0.5" {
		t.Error("VirtualPodStatus aliases the host status")
	}
	if !reflect.DeepEqual(VirtualPodStatus(nil), corev1.PodStatus{}) {
		t.Error("VirtualPodStatus(nil) is not empty")
	}
}

// TestVirtualPodStatusCoversEveryField fails when PodStatus gains a field
// that VirtualPodStatus neither copies nor deliberately drops.
func TestVirtualPodStatusCoversEveryField(t *testing.T) {
	t.Parallel()
	full := fullHostPodStatus()
	got := VirtualPodStatus(&corev1.Pod{Status: full})
	fv, gv := reflect.ValueOf(full), reflect.ValueOf(got)
	for i := range fv.NumField() {
		name := fv.Type().Field(i).Name
		if fv.Field(i).IsZero() {
			t.Errorf("fullHostPodStatus leaves %s unset; set it so this test covers it", name)
			continue
		}
		if copied := !gv.Field(i).IsZero(); copied == droppedPodStatusFields[name] {
			t.Errorf("PodStatus.%s: copied %v, but listed as dropped %v", name, copied, droppedPodStatusFields[name])
		}
	}
}

func TestVirtualServiceAndClaimStatus(t *testing.T) {
	t.Parallel()
	svc := &corev1.Service{Status: corev1.ServiceStatus{
		LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}},
		Conditions:   []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}},
	}}
	if got := VirtualServiceStatus(svc); !reflect.DeepEqual(got, svc.Status) {
		t.Errorf("VirtualServiceStatus = %+v", got)
	}
	pvc := &corev1.PersistentVolumeClaim{Status: corev1.PersistentVolumeClaimStatus{
		Phase:       corev1.ClaimBound,
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
	}}
	if got := VirtualPersistentVolumeClaimStatus(pvc); !reflect.DeepEqual(got, pvc.Status) {
		t.Errorf("VirtualPersistentVolumeClaimStatus = %+v", got)
	}
	if !reflect.DeepEqual(VirtualServiceStatus(nil), corev1.ServiceStatus{}) ||
		!reflect.DeepEqual(VirtualPersistentVolumeClaimStatus(nil), corev1.PersistentVolumeClaimStatus{}) {
		t.Error("nil inputs give non-empty statuses")
	}
}
