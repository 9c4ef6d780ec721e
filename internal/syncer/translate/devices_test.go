package translate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckDeviceAccess(t *testing.T) {
	t.Parallel()
	hostPath := func(path string, typ *corev1.HostPathType) corev1.Volume {
		return corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: typ}}}
	}
	privileged := &corev1.SecurityContext{Privileged: ptr(true)}
	nvidia := []corev1.EnvVar{{Name: "A", Value: "b"}, {Name: EnvNvidiaVisibleDevices, Value: "all"}}
	for _, tc := range []struct {
		name   string
		spec   corev1.PodSpec
		policy DevicePolicy
		want   []string // field paths, in order
	}{
		{name: "clean pod", spec: corev1.PodSpec{
			Volumes:    []corev1.Volume{hostPath("/var/log", nil), {Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{Privileged: ptr(false)}, Env: []corev1.EnvVar{{Name: "CUDA_VISIBLE_DEVICES", Value: "0"}}}},
		}},
		{name: "/dev/nvidia0", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/dev/nvidia0", nil)}}, want: []string{"spec.volumes[0].hostPath.path"}},
		{name: "/dev", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/dev", nil)}}, want: []string{"spec.volumes[0].hostPath.path"}},
		{name: "/dev/ with trailing slash", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/dev/", nil)}}, want: []string{"spec.volumes[0].hostPath.path"}},
		{name: "root", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/", nil)}}, want: []string{"spec.volumes[0].hostPath.path"}},
		{name: "disguised", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("//var/../dev/./nvidiactl", nil)}}, want: []string{"spec.volumes[0].hostPath.path"}},
		{name: "relative", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("dev/nvidia0", nil)}}, want: []string{"spec.volumes[0].hostPath.path"}},
		{name: "/device is not /dev", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/devices", nil)}}},
		{name: "char device elsewhere", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/run/nvidia0", ptr(corev1.HostPathCharDev))}}, want: []string{"spec.volumes[0].hostPath.type"}},
		{name: "block device", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/x", ptr(corev1.HostPathBlockDev))}}, want: []string{"spec.volumes[0].hostPath.type"}},
		{name: "device hostPath allowed", spec: corev1.PodSpec{Volumes: []corev1.Volume{hostPath("/dev/nvidia0", ptr(corev1.HostPathCharDev))}}, policy: DevicePolicy{AllowDeviceHostPath: true}},
		{
			name: "privileged everywhere",
			spec: corev1.PodSpec{
				InitContainers:      []corev1.Container{{Name: "i", SecurityContext: privileged}},
				Containers:          []corev1.Container{{Name: "a"}, {Name: "b", SecurityContext: privileged}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d", SecurityContext: privileged}}},
			},
			want: []string{"spec.initContainers[0].securityContext.privileged", "spec.containers[1].securityContext.privileged", "spec.ephemeralContainers[0].securityContext.privileged"},
		},
		{name: "privileged allowed", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", SecurityContext: privileged}}}, policy: DevicePolicy{AllowPrivileged: true}},
		{
			name: "NVIDIA_VISIBLE_DEVICES",
			spec: corev1.PodSpec{
				InitContainers:      []corev1.Container{{Name: "i", Env: nvidia}},
				Containers:          []corev1.Container{{Name: "a", Env: nvidia}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d", Env: nvidia}}},
			},
			want: []string{"spec.initContainers[0].env[1].name", "spec.containers[0].env[1].name", "spec.ephemeralContainers[0].env[1].name"},
		},
		{name: "NVIDIA_VISIBLE_DEVICES allowed", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Env: nvidia}}}, policy: DevicePolicy{AllowNvidiaVisibleDevices: true}},
		{
			name: "several at once",
			spec: corev1.PodSpec{
				Volumes:    []corev1.Volume{hostPath("/tmp", nil), hostPath("/dev/dri", nil)},
				Containers: []corev1.Container{{Name: "a", SecurityContext: privileged, Env: nvidia}},
			},
			want: []string{"spec.volumes[1].hostPath.path", "spec.containers[0].securityContext.privileged", "spec.containers[0].env[1].name"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := CheckDeviceAccess(&corev1.Pod{Spec: tc.spec}, tc.policy)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("fields = %v, want %v (errors: %v)", got, tc.want, errs)
			}
		})
	}
	if errs := CheckDeviceAccess(nil, DevicePolicy{}); errs != nil {
		t.Errorf("CheckDeviceAccess(nil) = %v", errs)
	}
}
