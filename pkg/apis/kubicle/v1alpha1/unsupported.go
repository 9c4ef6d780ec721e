package v1alpha1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServedKubernetesVersion is the Kubernetes version that the control plane of
// this kubicle release embeds and serves. A test keeps it equal to the
// k8s.io/kubernetes version in go.mod.
const ServedKubernetesVersion = "v1.37.2"

// NotSupportedYet starts the detail of every error about a field that the
// type accepts but kubicle does not act on yet. Such a field is refused
// rather than silently ignored, so that a config never promises what does
// not happen.
const NotSupportedYet = "not supported yet"

// validateUnsupported refuses every field whose value asks for something that
// kubicle does not build yet. A no-op value (the field unset, false, or the
// value that changes nothing) passes. Each refusal names what is missing; the
// change that builds a field removes its refusal here.
func validateUnsupported(vc *VirtualCluster) field.ErrorList {
	spec := &vc.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList
	refuse := func(fp *field.Path, value any, why string) {
		errs = append(errs, field.Invalid(fp, value, NotSupportedYet+": "+why))
	}

	cp, cpp := &spec.ControlPlane, p.Child("controlPlane")
	if v := cp.Version; v != "" && versionRegexp.MatchString(v) && !versionMatches(v, ServedKubernetesVersion) {
		refuse(cpp.Child("version"), v, fmt.Sprintf(
			"this kubicle release serves Kubernetes %s only; leave version empty or name that version", ServedKubernetesVersion))
	}
	switch t := cp.Expose.Type; t {
	case ExposeNodePort, ExposeLoadBalancer:
		refuse(cpp.Child("expose", "type"), string(t),
			`the exported kubeconfig and "kubicle connect" do not use a node port or load balancer address; use "ClusterIP" or "PortForward"`)
	}

	to, tp := &spec.Sync.ToHost, p.Child("sync", "toHost")
	for _, k := range []struct {
		name string
		on   *bool
		why  string
	}{
		{"serviceAccounts", to.ServiceAccounts.Enabled, "ServiceAccounts are not copied to the host"},
		{"priorityClasses", to.PriorityClasses.Enabled, "the tenant's PriorityClasses are not copied to the host"},
		{"resourceClaims", to.ResourceClaims.Enabled, "ResourceClaims are not created on the host"},
		{"workloads", to.Workloads.Enabled, "Workload and PodGroup objects are not copied to the host"},
	} {
		if isTrue(k.on) {
			refuse(tp.Child(k.name, "enabled"), true, k.why)
		}
	}

	iso, ip := &spec.Isolation, p.Child("isolation")
	switch iso.Mode {
	case IsolationPrivate:
		refuse(ip.Child("mode"), string(iso.Mode), `no node can join a virtual cluster; use "shared" or "dedicated"`)
	case IsolationAuto:
		refuse(ip.Child("mode"), string(iso.Mode), `nodes are not provisioned for a virtual cluster; use "shared" or "dedicated"`)
	}
	if len(iso.GPU.AllowedGPUTypes) > 0 {
		refuse(ip.Child("gpu", "allowedGPUTypes"), strings.Join(iso.GPU.AllowedGPUTypes, ","),
			"GPU pods are not confined to GPU products; a dedicated pool's nodeSelector can name the product label")
	}
	if l := iso.GPU.ProductLabel; l != "" && l != DefaultGPUProductLabel {
		refuse(ip.Child("gpu", "productLabel"), l, "only allowedGPUTypes would read it")
	}

	s, sp := &spec.Sleep, p.Child("sleep")
	if s.AfterInactivity != nil {
		refuse(sp.Child("afterInactivity"), s.AfterInactivity.Duration.String(), "virtual clusters do not sleep")
	}
	if s.Schedule != nil {
		refuse(sp.Child("schedule"), "", "virtual clusters do not sleep")
	}
	if s.WakeOnRequest != nil && !*s.WakeOnRequest {
		refuse(sp.Child("wakeOnRequest"), false, "virtual clusters do not sleep")
	}
	return errs
}

// versionMatches reports whether want ("v1.37" or "1.37.2") names served
// ("v1.37.2"): the same minor version, and the same patch when want has one.
func versionMatches(want, served string) bool {
	w := strings.Split(strings.TrimPrefix(want, "v"), ".")
	s := strings.Split(strings.TrimPrefix(served, "v"), ".")
	for i := range w {
		if i >= len(s) || w[i] != s[i] {
			return false
		}
	}
	return true
}
