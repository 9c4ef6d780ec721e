package translate

import (
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EnvNvidiaVisibleDevices is the variable through which the NVIDIA container
// runtime exposes GPUs to a container, bypassing the device plugin and
// therefore the tenant's GPU quota.
const EnvNvidiaVisibleDevices = "NVIDIA_VISIBLE_DEVICES"

// DevicePolicy says which ways to reach host devices a virtual cluster may
// use. The zero value allows none, which is the default for tenants; GPUs
// are meant to be requested as resources (nvidia.com/gpu) or through DRA
// ResourceClaims, which the host's quota and scheduler account for.
type DevicePolicy struct {
	// AllowDeviceHostPath allows hostPath volumes of /dev, anything under
	// it, the root directory, and hostPath volumes of type CharDevice or
	// BlockDevice. Default false.
	AllowDeviceHostPath bool
	// AllowPrivileged allows containers with securityContext.privileged,
	// which see every host device. Default false.
	AllowPrivileged bool
	// AllowNvidiaVisibleDevices allows containers to set
	// NVIDIA_VISIBLE_DEVICES in env. Default false.
	AllowNvidiaVisibleDevices bool
}

// CheckDeviceAccess returns one error per way the virtual pod would reach
// host devices that the policy does not allow, each naming its field
// (spec.volumes[0].hostPath.path, spec.containers[1].securityContext.privileged,
// spec.initContainers[0].env[2].name, ...). Init, regular and ephemeral
// containers are checked. [Pod] runs it and refuses such pods; the syncer
// can call it first to report the refusal as an event on the virtual pod.
//
// Values that come from ConfigMaps or Secrets through envFrom cannot be
// seen here; the policy covers what the pod spec states.
func CheckDeviceAccess(pod *corev1.Pod, policy DevicePolicy) field.ErrorList {
	if pod == nil {
		return nil
	}
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if !policy.AllowDeviceHostPath {
		for i, v := range pod.Spec.Volumes {
			if v.HostPath == nil {
				continue
			}
			p := spec.Child("volumes").Index(i).Child("hostPath")
			if t := v.HostPath.Type; t != nil && (*t == corev1.HostPathCharDev || *t == corev1.HostPathBlockDev) {
				errs = append(errs, field.Forbidden(p.Child("type"), "host device volumes are not allowed in this virtual cluster"))
			} else if exposesDev(v.HostPath.Path) {
				errs = append(errs, field.Forbidden(p.Child("path"), "hostPath volumes that expose /dev are not allowed in this virtual cluster"))
			}
		}
	}
	check := func(p *field.Path, sc *corev1.SecurityContext, env []corev1.EnvVar) {
		if !policy.AllowPrivileged && sc != nil && sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Forbidden(p.Child("securityContext", "privileged"), "privileged containers are not allowed in this virtual cluster"))
		}
		if !policy.AllowNvidiaVisibleDevices {
			for j, e := range env {
				if e.Name == EnvNvidiaVisibleDevices {
					errs = append(errs, field.Forbidden(p.Child("env").Index(j).Child("name"), EnvNvidiaVisibleDevices+" may not be set; request GPUs as resources"))
				}
			}
		}
	}
	for i, c := range pod.Spec.InitContainers {
		check(spec.Child("initContainers").Index(i), c.SecurityContext, c.Env)
	}
	for i, c := range pod.Spec.Containers {
		check(spec.Child("containers").Index(i), c.SecurityContext, c.Env)
	}
	for i, c := range pod.Spec.EphemeralContainers {
		check(spec.Child("ephemeralContainers").Index(i), c.SecurityContext, c.Env)
	}
	return errs
}

// exposesDev reports whether a host path is /dev, below it, or an ancestor
// of it (the root). Relative paths are read from the root, as the kubelet
// would resolve them.
func exposesDev(p string) bool {
	c := path.Clean("/" + p)
	return c == "/" || c == "/dev" || strings.HasPrefix(c, "/dev/")
}
