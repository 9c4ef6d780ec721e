package deploy

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Verb sets, cloned into each rule so that no two objects share them. No
// rule grants "*", "deletecollection", "escalate", "bind" or
// "impersonate".
var (
	// verbsRead let the syncer watch objects through informers.
	verbsRead = []string{"get", "list", "watch"}
	// verbsSync let the syncer own objects: create the host copy of a
	// virtual object, apply changes to it and delete it with its virtual
	// original.
	verbsSync = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
)

// serviceAccount is the control plane's identity on the host. Pods opt in
// to a token (the StatefulSet sets automountServiceAccountToken), so no
// other pod that names this account by mistake gets one.
func serviceAccount(r Ref) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     typeMeta(kindServiceAccount),
		ObjectMeta:                   objectMeta(r, r.ServiceAccountName(), ComponentRBAC),
		AutomountServiceAccountToken: new(false),
	}
}

// role returns the control plane's Role in the host namespace: what the
// syncer needs there and nothing more. Each rule says why it exists. Rules
// for a kind that spec.sync.toHost leaves off are left out.
//
// A kind switched off after it was synced leaves its host copies behind
// until `kubicle delete` (or the operator) removes them by label; the syncer
// can no longer touch them, which is the point.
func role(vc *v1alpha1.VirtualCluster, r Ref) *rbacv1.Role {
	to := &vc.Spec.Sync.ToHost
	from := &vc.Spec.Sync.FromHost
	var rules []rbacv1.PolicyRule
	add := func(on bool, group string, resources []string, verbs []string, names ...string) {
		if on {
			rules = append(rules, rbacv1.PolicyRule{
				APIGroups: []string{group}, Resources: resources, Verbs: slices.Clone(verbs), ResourceNames: names,
			})
		}
	}
	pods := isTrue(to.Pods.Enabled)

	// Pods: the syncer creates the host pod of every virtual pod, reads its
	// status back and deletes it with the virtual pod.
	add(pods, "", []string{"pods"}, verbsSync)
	// Status flows host → virtual, so the status subresource is read, never
	// written.
	add(pods, "", []string{"pods/status"}, []string{"get"})
	// `kubectl logs` on the virtual cluster is served from the host pod.
	add(pods, "", []string{"pods/log"}, []string{"get"})
	// `kubectl exec`, `attach` and `port-forward` on the virtual cluster are
	// streamed to the host pod. SPDY requests are POSTs (create); WebSocket
	// requests are GETs, which hosts since 1.31 also authorize as create
	// (AuthorizePodWebsocketUpgradeCreatePermission), older ones as get.
	add(pods, "", []string{"pods/attach", "pods/exec", "pods/portforward"}, []string{"get", "create"})
	// `kubectl debug` adds ephemeral containers, and in-place resizes change
	// a running pod's resources; both reach the host pod only through these
	// subresources.
	add(pods, "", []string{"pods/ephemeralcontainers", "pods/resize"}, []string{"get", "update", "patch"})

	// Services make synced pods reachable; the host assigns their ClusterIPs
	// and load balancer addresses, which flow back.
	add(isTrue(to.Services.Enabled), "", []string{"services"}, verbsSync)
	// Endpoints of Services without a selector, which the tenant manages by
	// hand: EndpointSlices, and Endpoints for host tooling that still reads
	// them.
	add(isTrue(to.Endpoints.Enabled), "discovery.k8s.io", []string{"endpointslices"}, verbsSync)
	add(isTrue(to.Endpoints.Enabled), "", []string{"endpoints"}, verbsSync)
	// ConfigMaps that synced pods mount (or all, with all: true).
	add(isTrue(to.ConfigMaps.Enabled), "", []string{"configmaps"}, verbsSync)

	// Secrets: those synced pods mount (or all), the Secrets holding pod
	// service account tokens issued by the virtual API server, and the
	// exported kubeconfig.
	exportName := ""
	if isTrue(vc.Spec.ExportKubeConfig.Enabled) {
		exportName = vc.Spec.ExportKubeConfig.SecretName
	}
	switch {
	case isTrue(to.Secrets.Enabled) || pods:
		add(true, "", []string{"secrets"}, verbsSync)
	case exportName != "":
		// Only the kubeconfig: create cannot be limited by name, the rest is.
		add(true, "", []string{"secrets"}, []string{"create"})
		add(true, "", []string{"secrets"}, []string{"get", "update", "patch"}, exportName)
	}
	// The backing store's credentials (database DSN, etcd client
	// certificate) are read through the API, the same way for both drivers.
	if names := storeSecretNames(vc); len(names) > 0 {
		add(true, "", []string{"secrets"}, []string{"get"}, names...)
	}

	// PersistentVolumeClaims, so that the host provisions the tenant's
	// volumes.
	add(isTrue(to.PersistentVolumeClaims.Enabled), "", []string{"persistentvolumeclaims"}, verbsSync)
	// ServiceAccounts, for host integrations keyed on a pod's account.
	add(isTrue(to.ServiceAccounts.Enabled), "", []string{"serviceaccounts"}, verbsSync)
	// Ingresses, served by the host's ingress controller.
	add(isTrue(to.Ingresses.Enabled), "networking.k8s.io", []string{"ingresses"}, verbsSync)
	// The tenant's NetworkPolicies, translated into the host namespace.
	add(isTrue(to.NetworkPolicies.Enabled), "networking.k8s.io", []string{"networkpolicies"}, verbsSync)
	// DRA claims and the templates pods name, so that the host scheduler
	// allocates the tenant's devices (GPUs).
	add(isTrue(to.ResourceClaims.Enabled), "resource.k8s.io", []string{"resourceclaims", "resourceclaimtemplates"}, verbsSync)
	// Gangs, scheduled by the host as one.
	add(isTrue(to.Workloads.Enabled), "scheduling.k8s.io", []string{"podgroups", "workloads"}, verbsSync)

	// Events: the control plane records events on the host objects it
	// manages (create, and patch to count repeats), in both event APIs; it
	// reads host events about synced objects only when fromHost.events is on.
	eventVerbs := []string{"create", "patch"}
	if isTrue(from.Events.Enabled) {
		eventVerbs = []string{"get", "list", "watch", "create", "patch"}
	}
	rules = append(rules, rbacv1.PolicyRule{
		APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: eventVerbs,
	})
	// Leader election among control plane replicas, for the loops that must
	// run once (the syncer): a Lease is read, created and renewed.
	add(true, "coordination.k8s.io", []string{"leases"}, []string{"get", "create", "update"})

	// The control plane's own objects, read-only and by name: its Services
	// (the ClusterIP that synced pods use as KUBERNETES_SERVICE_HOST, the
	// load balancer address for the exported kubeconfig) and its StatefulSet
	// (the replica count, for etcd membership). List and watch by name need
	// a metadata.name field selector.
	if runsInPods(vc) {
		add(true, "", []string{"services"}, verbsRead, r.ServiceName(), r.HeadlessServiceName(), r.DNSServiceName())
		add(true, "apps", []string{"statefulsets"}, verbsRead, r.StatefulSetName())
	}

	return &rbacv1.Role{
		TypeMeta:   typeMeta(kindRole),
		ObjectMeta: objectMeta(r, r.RoleName(), ComponentRBAC),
		Rules:      rules,
	}
}

func roleBinding(r Ref) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   typeMeta(kindRoleBinding),
		ObjectMeta: objectMeta(r, r.RoleBindingName(), ComponentRBAC),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kindRole.Kind, Name: r.RoleName()},
		Subjects:   []rbacv1.Subject{serviceAccountSubject(r)},
	}
}

func serviceAccountSubject(r Ref) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: r.ServiceAccountName(), Namespace: r.Namespace}
}

// clusterRules returns the read-only cluster-wide rules the control plane
// needs: the host objects that spec.sync.fromHost shows in the virtual
// cluster, and nothing else. Never a write verb: the host namespace is the
// blast-radius boundary.
func clusterRules(vc *v1alpha1.VirtualCluster) []rbacv1.PolicyRule {
	from := &vc.Spec.Sync.FromHost
	var rules []rbacv1.PolicyRule
	add := func(on bool, group string, resources ...string) {
		if on {
			rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: slices.Clone(verbsRead)})
		}
	}
	// Nodes: a synced pod's node must exist in the virtual cluster (mirrored
	// or pseudo, both built from the host node), and a node selector shows
	// nodes before any pod runs there. With private nodes and no selector,
	// no host node is ever shown.
	add(isTrue(vc.Spec.Sync.ToHost.Pods.Enabled) || from.Nodes.Selector != nil, "", "nodes")
	// Classes that tenant objects name and cannot create.
	add(isTrue(from.StorageClasses.Enabled), "storage.k8s.io", "storageclasses")
	add(isTrue(from.IngressClasses.Enabled), "networking.k8s.io", "ingressclasses")
	add(isTrue(from.RuntimeClasses.Enabled), "node.k8s.io", "runtimeclasses")
	add(isTrue(from.PriorityClasses.Enabled), "scheduling.k8s.io", "priorityclasses")
	// What a virtual scheduler reads to place pods with volumes.
	// CSIStorageCapacity objects are namespaced, in the CSI driver's
	// namespace, hence cluster-wide read.
	add(isTrue(from.CSIDrivers.Enabled), "storage.k8s.io", "csidrivers", "csinodes", "csistoragecapacities")
	// DRA: the DeviceClasses tenant claims name, and the ResourceSlices that
	// say which devices exist, from which the tenant's view is built.
	add(isTrue(from.DeviceClasses.Enabled), "resource.k8s.io", "deviceclasses", "resourceslices")
	return rules
}

// clusterRole returns the read-only ClusterRole and its binding, or nils
// when spec.sync.fromHost needs nothing from outside the namespace.
func clusterRole(vc *v1alpha1.VirtualCluster, r Ref) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	rules := clusterRules(vc)
	if len(rules) == 0 {
		return nil, nil
	}
	cr := &rbacv1.ClusterRole{
		TypeMeta:   typeMeta(kindClusterRole),
		ObjectMeta: clusterMeta(r, r.ClusterRoleName(), ComponentRBAC),
		Rules:      rules,
	}
	crb := &rbacv1.ClusterRoleBinding{
		TypeMeta:   typeMeta(kindClusterBinding),
		ObjectMeta: clusterMeta(r, r.ClusterRoleBindingName(), ComponentRBAC),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kindClusterRole.Kind, Name: r.ClusterRoleName()},
		Subjects:   []rbacv1.Subject{serviceAccountSubject(r)},
	}
	return cr, crb
}

// storeSecretNames returns the Secrets the backing store's config names.
func storeSecretNames(vc *v1alpha1.VirtualCluster) []string {
	bs := &vc.Spec.ControlPlane.BackingStore
	var names []string
	if bs.Database != nil && bs.Database.DSNSecretRef != nil {
		names = append(names, bs.Database.DSNSecretRef.Name)
	}
	if bs.ExternalEtcd != nil && bs.ExternalEtcd.TLSSecretRef != nil {
		names = append(names, bs.ExternalEtcd.TLSSecretRef.Name)
	}
	return names
}

// typeMeta returns the TypeMeta of kind k.
func typeMeta(k Kind) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: k.GroupVersion().String(), Kind: k.Kind}
}

// objectMeta returns the metadata of a namespaced host object.
func objectMeta(r Ref, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: r.Labels(component)}
}

// clusterMeta returns the metadata of a cluster-scoped host object.
func clusterMeta(r Ref, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: r.Labels(component)}
}

func isTrue(b *bool) bool { return b != nil && *b }
