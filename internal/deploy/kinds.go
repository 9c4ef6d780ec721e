package deploy

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

// Kind is one kind of host object that a virtual cluster may own, either
// rendered by [Render] or created by the syncer.
type Kind struct {
	// GroupVersionKind is the kind, at the version kubicle reads and writes.
	schema.GroupVersionKind
	// Resource is the kind's plural resource name, such as "pods".
	Resource string
	// Namespaced is true for kinds whose objects live in the host namespace.
	Namespaced bool
	// Synced is true for kinds whose objects of the virtual cluster include
	// ones the syncer creates (copies of virtual objects), not only ones
	// that [Render] returns.
	Synced bool
}

// GroupVersionResource returns the kind's resource, for dynamic clients.
func (k Kind) GroupVersionResource() schema.GroupVersionResource {
	return k.GroupVersion().WithResource(k.Resource)
}

// String returns the kind's resource and group, such as
// "statefulsets.apps" or "pods".
func (k Kind) String() string {
	return k.GroupVersionResource().GroupResource().String()
}

// Selector returns the label selector that finds the objects of this kind
// that belong to virtual cluster r:
//
//   - namespaced kinds: [translate.ManagedSelector], meant to be listed in
//     the host namespace only. It matches both the objects [Render] returns
//     and the copies the syncer makes, since a virtual cluster's name is
//     unique within its namespace.
//   - cluster-scoped kinds: [Ref.Selector], which adds
//     [LabelHostNamespace] so that a namesake virtual cluster in another
//     namespace is never matched.
//   - Namespace: [Ref.Selector] plus [LabelCreatedNamespace]=true, so that
//     only a namespace kubicle created is ever deleted.
func (k Kind) Selector(r Ref) labels.Selector {
	switch {
	case k.GroupVersionKind == kindNamespace.GroupVersionKind:
		set := r.selectorSet()
		set[LabelCreatedNamespace] = "true"
		return labels.SelectorFromSet(set)
	case k.Namespaced:
		return translate.ManagedSelector(r.Name)
	default:
		return r.Selector()
	}
}

// The kinds, one variable each so that the renderer and the deletion order
// cannot disagree about a kind's version or resource.
var (
	kindNamespace      = Kind{GroupVersionKind: gvk("", "v1", "Namespace"), Resource: "namespaces"}
	kindServiceAccount = Kind{GroupVersionKind: gvk("", "v1", "ServiceAccount"), Resource: "serviceaccounts", Namespaced: true, Synced: true}
	kindRole           = Kind{GroupVersionKind: gvk("rbac.authorization.k8s.io", "v1", "Role"), Resource: "roles", Namespaced: true}
	kindRoleBinding    = Kind{GroupVersionKind: gvk("rbac.authorization.k8s.io", "v1", "RoleBinding"), Resource: "rolebindings", Namespaced: true}
	kindClusterRole    = Kind{GroupVersionKind: gvk("rbac.authorization.k8s.io", "v1", "ClusterRole"), Resource: "clusterroles"}
	kindClusterBinding = Kind{GroupVersionKind: gvk("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"), Resource: "clusterrolebindings"}
	kindResourceQuota  = Kind{GroupVersionKind: gvk("", "v1", "ResourceQuota"), Resource: "resourcequotas", Namespaced: true}
	kindLimitRange     = Kind{GroupVersionKind: gvk("", "v1", "LimitRange"), Resource: "limitranges", Namespaced: true}
	kindNetworkPolicy  = Kind{GroupVersionKind: gvk("networking.k8s.io", "v1", "NetworkPolicy"), Resource: "networkpolicies", Namespaced: true, Synced: true}
	kindSecret         = Kind{GroupVersionKind: gvk("", "v1", "Secret"), Resource: "secrets", Namespaced: true, Synced: true}
	kindService        = Kind{GroupVersionKind: gvk("", "v1", "Service"), Resource: "services", Namespaced: true, Synced: true}
	kindStatefulSet    = Kind{GroupVersionKind: gvk("apps", "v1", "StatefulSet"), Resource: "statefulsets", Namespaced: true}
	kindPVC            = Kind{GroupVersionKind: gvk("", "v1", "PersistentVolumeClaim"), Resource: "persistentvolumeclaims", Namespaced: true, Synced: true}

	// Kinds only the syncer creates.
	kindPod                   = Kind{GroupVersionKind: gvk("", "v1", "Pod"), Resource: "pods", Namespaced: true, Synced: true}
	kindPodGroup              = Kind{GroupVersionKind: gvk("scheduling.k8s.io", "v1beta1", "PodGroup"), Resource: "podgroups", Namespaced: true, Synced: true}
	kindWorkload              = Kind{GroupVersionKind: gvk("scheduling.k8s.io", "v1beta1", "Workload"), Resource: "workloads", Namespaced: true, Synced: true}
	kindResourceClaim         = Kind{GroupVersionKind: gvk("resource.k8s.io", "v1", "ResourceClaim"), Resource: "resourceclaims", Namespaced: true, Synced: true}
	kindResourceClaimTemplate = Kind{GroupVersionKind: gvk("resource.k8s.io", "v1", "ResourceClaimTemplate"), Resource: "resourceclaimtemplates", Namespaced: true, Synced: true}
	kindIngress               = Kind{GroupVersionKind: gvk("networking.k8s.io", "v1", "Ingress"), Resource: "ingresses", Namespaced: true, Synced: true}
	kindEndpointSlice         = Kind{GroupVersionKind: gvk("discovery.k8s.io", "v1", "EndpointSlice"), Resource: "endpointslices", Namespaced: true, Synced: true}
	kindEndpoints             = Kind{GroupVersionKind: gvk("", "v1", "Endpoints"), Resource: "endpoints", Namespaced: true, Synced: true}
	kindConfigMap             = Kind{GroupVersionKind: gvk("", "v1", "ConfigMap"), Resource: "configmaps", Namespaced: true, Synced: true}
)

func gvk(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

// DeletionOrder returns every kind of host object a virtual cluster may
// own, in the order to delete them: the control plane first, so that no
// syncer recreates what is being deleted; then the tenant's pods and the
// objects that pods use; then the guardrails, config and volumes; the
// control plane's identity last but one, and the namespace last (deleting it
// removes whatever is left inside). Delete each kind's objects with
// [Kind.Selector], listing namespaced kinds in the host namespace only.
//
// The order matters for correctness, not only tidiness: a ResourceQuota or
// NetworkPolicy deleted before the pods it guards would let them run
// unguarded for a moment, and a Role deleted before the control plane would
// make a still-running syncer fail in confusing ways.
//
// Not listed: events (unlabelled, they expire), the control plane's
// leader-election Lease (unlabelled; it goes with a namespace kubicle
// created), and host PriorityClasses synced by sync.toHost.priorityClasses
// (the control plane is not granted that; see [Render]).
//
// The caller gets a new slice each time.
func DeletionOrder() []Kind {
	return []Kind{
		kindStatefulSet,
		kindPodGroup,
		kindWorkload,
		kindPod,
		kindResourceClaim,
		kindResourceClaimTemplate,
		kindIngress,
		kindService,
		kindEndpointSlice,
		kindEndpoints,
		kindNetworkPolicy,
		kindConfigMap,
		kindSecret,
		kindPVC,
		kindLimitRange,
		kindResourceQuota,
		kindRoleBinding,
		kindRole,
		kindServiceAccount,
		kindClusterBinding,
		kindClusterRole,
		kindNamespace,
	}
}
