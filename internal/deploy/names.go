package deploy

import (
	"k8s.io/apimachinery/pkg/labels"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Label keys that deploy adds to the markers of package translate
// ([translate.LabelManagedBy], [translate.KeyVCluster]). Every key is under
// kubicle.dev, a domain that translate escapes in tenant labels, so no
// tenant object synced to the host can carry them.
const (
	// LabelHostNamespace names the host namespace of the virtual cluster an
	// object belongs to. A virtual cluster's name is unique only within its
	// host namespace, so cluster-scoped objects (the Namespace, ClusterRole
	// and ClusterRoleBinding) need it to be told apart from those of a
	// namesake in another namespace.
	LabelHostNamespace = "kubicle.dev/host-namespace"
	// LabelComponent says which part of a virtual cluster an object serves;
	// see the Component constants. The control plane's Services, StatefulSet
	// and NetworkPolicy select its pods by it together with
	// [translate.KeyVCluster].
	LabelComponent = "kubicle.dev/component"
	// LabelCreatedNamespace, value "true", marks a Namespace that kubicle
	// created for a virtual cluster, so that deleting the virtual cluster
	// deletes it. A namespace that existed before carries no kubicle labels
	// and is never deleted.
	LabelCreatedNamespace = "kubicle.dev/created-by-kubicle"
	// AnnotationConfigHash on the control plane's pod template holds a hash
	// of its config and PKI Secrets, so that the pods roll when either
	// changes.
	AnnotationConfigHash = "kubicle.dev/config-hash"
)

// Values of [LabelComponent].
const (
	// ComponentNamespace marks the host namespace.
	ComponentNamespace = "namespace"
	// ComponentRBAC marks the control plane's ServiceAccount, Roles and
	// bindings.
	ComponentRBAC = "rbac"
	// ComponentConfig marks the Secrets that configure the control plane.
	ComponentConfig = "config"
	// ComponentControlPlane marks the control plane's StatefulSet, pods,
	// volumes and Services.
	ComponentControlPlane = "control-plane"
	// ComponentGuardrails marks the ResourceQuota, LimitRange and
	// NetworkPolicies of the host namespace.
	ComponentGuardrails = "guardrails"
	// ComponentKubeConfig marks the exported kubeconfig Secret.
	ComponentKubeConfig = "kubeconfig"
)

// Well-known labels that every host object of a virtual cluster carries
// besides the markers, for tools that group objects by application.
const (
	labelAppName     = "app.kubernetes.io/name"
	labelAppInstance = "app.kubernetes.io/instance"
	appName          = "kubicle"
)

// Ref identifies one virtual cluster on the host: its name and its host
// namespace. It names the host objects of the virtual cluster, so that the
// CLI, the operator and the control plane agree on them.
type Ref struct {
	// Name is the virtual cluster's metadata.name.
	Name string
	// Namespace is the host namespace, the virtual cluster's
	// metadata.namespace.
	Namespace string
}

// RefOf returns the Ref of a virtual cluster.
func RefOf(vc *v1alpha1.VirtualCluster) Ref {
	return Ref{Name: vc.Name, Namespace: vc.Namespace}
}

// String returns "namespace/name".
func (r Ref) String() string { return r.Namespace + "/" + r.Name }

// Labels returns the labels of a host object of the virtual cluster that
// serves component: [translate.LabelManagedBy], [translate.KeyVCluster],
// [LabelHostNamespace], [LabelComponent] and app.kubernetes.io/name and
// instance. The result is a new map.
//
// The marker annotations of package translate are deliberately absent:
// without them [translate.IsManaged] is false, so the syncer, which lists
// host objects by [translate.ManagedSelector], never mistakes one of these
// objects for the orphaned copy of a virtual object.
func (r Ref) Labels(component string) map[string]string {
	return map[string]string{
		translate.LabelManagedBy: translate.ManagedBy,
		translate.KeyVCluster:    translate.LabelValue(r.Name),
		LabelHostNamespace:       translate.LabelValue(r.Namespace),
		LabelComponent:           component,
		labelAppName:             appName,
		labelAppInstance:         translate.LabelValue(r.Name),
	}
}

// Selector selects every object that [Render] returns for the virtual
// cluster, in any namespace: [translate.LabelManagedBy],
// [translate.KeyVCluster] and [LabelHostNamespace]. Objects the syncer
// creates carry no [LabelHostNamespace]; [Kind.Selector] gives the selector
// that also finds those, kind by kind.
func (r Ref) Selector() labels.Selector {
	return labels.SelectorFromSet(r.selectorSet())
}

func (r Ref) selectorSet() labels.Set {
	return labels.Set{
		translate.LabelManagedBy: translate.ManagedBy,
		translate.KeyVCluster:    translate.LabelValue(r.Name),
		LabelHostNamespace:       translate.LabelValue(r.Namespace),
	}
}

// podSelector returns the labels that select the control plane's pods. The
// set is immutable in a StatefulSet, so it never changes. Both keys are
// under kubicle.dev, which no tenant pod can carry on the host, so no tenant
// pod can join the API server's Services.
func (r Ref) podSelector() map[string]string {
	return map[string]string{
		translate.KeyVCluster: translate.LabelValue(r.Name),
		LabelComponent:        ComponentControlPlane,
	}
}

// Names of host objects. The virtual cluster's name is a DNS label of at
// most [v1alpha1.MaxNameLength] characters, so every name below is a valid
// name of its kind. None contains "--", and none contains "-x-" unless the
// virtual cluster's own name does, so they stay apart from the names of
// synced objects ([translate.HostName]).

// StatefulSetName is the name of the control plane's StatefulSet; its pods
// are StatefulSetName-0, -1, ….
func (r Ref) StatefulSetName() string { return r.Name }

// ServiceName is the name of the Service in front of the virtual API
// server, port 443.
func (r Ref) ServiceName() string { return r.Name }

// HeadlessServiceName is the name of the StatefulSet's headless Service,
// which gives each control plane pod a DNS name (for etcd peers).
func (r Ref) HeadlessServiceName() string { return r.Name + "-headless" }

// DNSServiceName is the name of the Service of the virtual cluster's DNS (driver
// pod): its ClusterIP is the tenant pods' nameserver.
func (r Ref) DNSServiceName() string { return r.Name + "-dns" }

// ServiceAccountName is the name of the control plane's ServiceAccount, and
// of its Role and RoleBinding.
func (r Ref) ServiceAccountName() string { return r.Name + "-control-plane" }

// RoleName is the name of the control plane's Role in the host namespace.
func (r Ref) RoleName() string { return r.ServiceAccountName() }

// RoleBindingName is the name of the binding of [Ref.RoleName].
func (r Ref) RoleBindingName() string { return r.ServiceAccountName() }

// ClusterRoleName is the name of the control plane's read-only ClusterRole
// and its binding: "kubicle-<name>.<namespace>". Neither part can contain a
// dot, so different virtual clusters never share it.
func (r Ref) ClusterRoleName() string { return "kubicle-" + r.Name + "." + r.Namespace }

// ClusterRoleBindingName is the name of the binding of [Ref.ClusterRoleName].
func (r Ref) ClusterRoleBindingName() string { return r.ClusterRoleName() }

// ConfigSecretName is the name of the Secret holding the control plane's
// config file.
func (r Ref) ConfigSecretName() string { return r.Name + "-config" }

// PKISecretName is the name of the Secret holding the control plane's PKI
// when the caller supplies one ([RenderOptions.PKI]).
func (r Ref) PKISecretName() string { return r.Name + "-pki" }

// ResourceQuotaName is the name of the host namespace's ResourceQuota.
func (r Ref) ResourceQuotaName() string { return r.Name }

// LimitRangeName is the name of the host namespace's LimitRange.
func (r Ref) LimitRangeName() string { return r.Name }

// WorkloadsNetworkPolicyName is the name of the NetworkPolicy that guards
// the tenant's synced pods.
func (r Ref) WorkloadsNetworkPolicyName() string { return r.Name + "-workloads" }

// WorkloadsEgressNetworkPolicyName is the name of the NetworkPolicy that lets
// the tenant's pods out: to their own namespace and what the config opens.
func (r Ref) WorkloadsEgressNetworkPolicyName() string { return r.Name + "-workloads-egress" }

// WorkloadsControlPlaneNetworkPolicyName is the name of the NetworkPolicy that
// keeps every tenant pod and the control plane's pods in touch, whatever the
// tenant's own policies say.
func (r Ref) WorkloadsControlPlaneNetworkPolicyName() string {
	return r.Name + "-workloads-control-plane"
}

// ControlPlaneNetworkPolicyName is the name of the NetworkPolicy that guards
// the control plane's pods.
func (r Ref) ControlPlaneNetworkPolicyName() string { return r.Name + "-control-plane" }
