package syncer

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

// objectKind describes a kind synced one-to-one: spec down, status up.
type objectKind[T client.Object] struct {
	// name names the controller and the metric label.
	name string
	// format is the host name format of the kind.
	format translate.Format
	// new returns an empty object.
	new func() T
	// translate builds the host object.
	translate func(s *Syncer, virtual T) (T, error)
	// update copies the mutable parts of want into have and reports a change.
	update func(have, want T) bool
	// status copies the host's status into virtual and reports a change.
	status func(host, virtual T) bool
	// before runs before the host object is created or updated (e.g. to sync the
	// Secrets it references).
	before func(ctx context.Context, s *Syncer, virtual T) error
	// skip, when set, says a virtual object has no host copy.
	skip func(virtual T) bool
	// onHostPods, when set, returns the virtual objects to judge again when a
	// host pod of the virtual cluster changes (its IP comes or goes).
	onHostPods func(ctx context.Context, s *Syncer) []reconcile.Request
	// onNamespaces, when set, returns the virtual objects to translate again
	// when a virtual namespace changes (its labels decide what a namespace
	// selector selects).
	onNamespaces func(ctx context.Context, s *Syncer) []reconcile.Request
	// refusalRemovesHost makes a refusal by translate delete the host copy:
	// a copy that a rule allowed once must not outlive the rule's reason.
	refusalRemovesHost bool
}

type objectReconciler[T client.Object] struct {
	*Syncer
	kind objectKind[T]
}

func setupObjects[T client.Object](s *Syncer, kind objectKind[T]) error {
	b := ctrl.NewControllerManagedBy(s.mgr).Named(kind.name).
		For(kind.new()).
		WatchesRawSource(source.Kind(s.host.GetCache(), kind.new(), handler.TypedEnqueueRequestsFromMapFunc(mapHostToVirtual[T])))
	if kind.onHostPods != nil {
		b = b.WatchesRawSource(source.Kind(s.host.GetCache(), &corev1.Pod{}, handler.TypedEnqueueRequestsFromMapFunc(
			func(ctx context.Context, _ *corev1.Pod) []reconcile.Request { return kind.onHostPods(ctx, s) })))
	}
	if kind.onNamespaces != nil {
		b = b.Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, _ client.Object) []reconcile.Request { return kind.onNamespaces(ctx, s) }))
	}
	return b.WithOptions(controllerOptions()).Complete(&objectReconciler[T]{Syncer: s, kind: kind})
}

func (r *objectReconciler[T]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	err := r.reconcile(ctx, req.NamespacedName)
	r.metrics.observe(r.kind.name, start, err)
	return settle(ctx, r.kind.name+" "+req.String(), reconcile.Result{}, err)
}

func (r *objectReconciler[T]) reconcile(ctx context.Context, key types.NamespacedName) error {
	hostKey := types.NamespacedName{Namespace: r.cfg.HostNamespace, Name: translate.HostName(r.cfg.Name, key.Namespace, key.Name, r.kind.format)}
	host := r.kind.new()
	hostErr := r.host.GetCache().Get(ctx, hostKey, host)
	if hostErr != nil && !apierrors.IsNotFound(hostErr) {
		return hostErr
	}
	ours := hostErr == nil && ownsIdentity(r.cfg.Name, host, key)
	virtual := r.kind.new()
	err := r.mgr.GetClient().Get(ctx, key, virtual)
	if apierrors.IsNotFound(err) || (err == nil && (virtual.GetDeletionTimestamp() != nil || (r.kind.skip != nil && r.kind.skip(virtual)))) {
		if ours && host.GetDeletionTimestamp() == nil {
			uid := host.GetUID()
			return client.IgnoreNotFound(r.hostAPI.Delete(ctx, host, client.Preconditions{UID: &uid}))
		}
		return nil
	} else if err != nil {
		return err
	}
	if hostErr == nil && !ours {
		r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "host %s %s exists and is not managed by this virtual cluster", r.kind.name, hostKey.Name)
		return nil
	}
	if ours {
		if id, _ := translate.VirtualIdentity(host); id.UID != "" && id.UID != virtual.GetUID() {
			uid := host.GetUID() // left over from an earlier object of the same name
			return client.IgnoreNotFound(r.hostAPI.Delete(ctx, host, client.Preconditions{UID: &uid}))
		}
	}
	if r.kind.before != nil {
		if err := r.kind.before(ctx, r.Syncer, virtual); err != nil {
			return err
		}
	}
	want, err := r.kind.translate(r.Syncer, virtual)
	if err != nil {
		r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "cannot run on the host: %v", err)
		if ours && r.kind.refusalRemovesHost && host.GetDeletionTimestamp() == nil {
			uid := host.GetUID()
			return client.IgnoreNotFound(r.hostAPI.Delete(ctx, host, client.Preconditions{UID: &uid}))
		}
		return nil
	}
	if !ours {
		if err := r.hostAPI.Create(ctx, want, FieldOwner); err != nil && !apierrors.IsAlreadyExists(err) {
			if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
				r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "the host refused it: %v", err)
				return nil
			}
			return fmt.Errorf("creating host %s for %s: %w", r.kind.name, key, err)
		}
		return nil
	}
	changed := host.DeepCopyObject().(T)
	if r.kind.update(changed, want) {
		if err := r.hostAPI.Update(ctx, changed, FieldOwner); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	updated := virtual.DeepCopyObject().(T)
	if r.kind.status == nil || !r.kind.status(host, updated) {
		return nil
	}
	return client.IgnoreNotFound(r.mgr.GetClient().Status().Update(ctx, updated, FieldOwner))
}

// metaChanged makes have's labels and annotations want's and reports a change,
// keeping the annotations that the host's own controllers write on the object
// (the volume binder's and provisioner's): the translation never sets those, and
// removing them would undo the host's work (a claim would never become Bound).
func metaChanged(have, want client.Object) bool {
	annotations := maps.Clone(want.GetAnnotations())
	for k, v := range have.GetAnnotations() {
		if _, set := annotations[k]; !set && hostOwnedAnnotation(k) {
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[k] = v
		}
	}
	changed := !maps.Equal(have.GetLabels(), want.GetLabels()) || !maps.Equal(have.GetAnnotations(), annotations)
	have.SetLabels(want.GetLabels())
	have.SetAnnotations(annotations)
	return changed
}

// hostOwnedAnnotation reports annotations that the host's controllers set on
// synced objects: the persistent volume binder's and the provisioners'.
func hostOwnedAnnotation(k string) bool {
	for _, prefix := range []string{"pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/"} {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// persistentVolumeClaims: claims go down, their phase and capacity come up. Only the
// requested size may change later (volume expansion); everything else of a claim is
// immutable on the host as anywhere.
var persistentVolumeClaims = objectKind[*corev1.PersistentVolumeClaim]{
	name:   "persistentvolumeclaims",
	format: translate.DNSSubdomain,
	new:    func() *corev1.PersistentVolumeClaim { return &corev1.PersistentVolumeClaim{} },
	translate: func(s *Syncer, v *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
		return translate.PersistentVolumeClaim(v, translate.PersistentVolumeClaimOptions{Target: s.target})
	},
	update: func(have, want *corev1.PersistentVolumeClaim) bool {
		changed := metaChanged(have, want)
		if !equality.Semantic.DeepEqual(have.Spec.Resources.Requests, want.Spec.Resources.Requests) {
			have.Spec.Resources.Requests = want.Spec.Resources.Requests
			changed = true
		}
		return changed
	},
	status: func(host, virtual *corev1.PersistentVolumeClaim) bool {
		want := translate.VirtualPersistentVolumeClaimStatus(host)
		if equality.Semantic.DeepEqual(want, virtual.Status) {
			return false
		}
		virtual.Status = want
		return true
	},
}

// ingresses: rules go down with their Service and TLS Secret names translated; the
// host ingress controller's load-balancer addresses come up.
var ingresses = objectKind[*networkingv1.Ingress]{
	name:   "ingresses",
	format: translate.DNSSubdomain,
	new:    func() *networkingv1.Ingress { return &networkingv1.Ingress{} },
	translate: func(s *Syncer, v *networkingv1.Ingress) (*networkingv1.Ingress, error) {
		return translate.Ingress(v, s.target)
	},
	update: func(have, want *networkingv1.Ingress) bool {
		changed := metaChanged(have, want)
		if !equality.Semantic.DeepEqual(have.Spec, want.Spec) {
			have.Spec = want.Spec
			changed = true
		}
		return changed
	},
	status: func(host, virtual *networkingv1.Ingress) bool {
		want := translate.VirtualIngressStatus(host)
		if equality.Semantic.DeepEqual(want, virtual.Status) {
			return false
		}
		virtual.Status = want
		return true
	},
	before: func(ctx context.Context, s *Syncer, v *networkingv1.Ingress) error {
		for _, name := range translate.IngressSecrets(v) {
			if err := s.syncSecret(ctx, types.NamespacedName{Namespace: v.Namespace, Name: name}, true); err != nil {
				return err
			}
		}
		return nil
	},
}

// endpointSlices: the slices of Services without selector, whose endpoints the tenant
// manages (directly, or as Endpoints that the virtual mirroring controller turns into
// slices), go to the host Service. Slices the EndpointSlice controller computes for
// selector Services are not copied: the host computes its own from the host pods.
var endpointSlices = objectKind[*discoveryv1.EndpointSlice]{
	name:   "endpointslices",
	format: translate.DNSSubdomain,
	new:    func() *discoveryv1.EndpointSlice { return &discoveryv1.EndpointSlice{} },
	skip:   computedEndpointSlice,
	translate: func(s *Syncer, v *discoveryv1.EndpointSlice) (*discoveryv1.EndpointSlice, error) {
		host, err := translate.EndpointSlice(v, s.target)
		if err != nil {
			return nil, err
		}
		return host, s.confineEndpoints(host)
	},
	// A pod's IP is the tenant's only while the pod lives: judge the hand-written
	// slices again when pods come and go, and take a refused one off the host.
	onHostPods:         manualEndpointSlices,
	refusalRemovesHost: true,
	update: func(have, want *discoveryv1.EndpointSlice) bool {
		changed := metaChanged(have, want)
		if !equality.Semantic.DeepEqual(have.Endpoints, want.Endpoints) || !equality.Semantic.DeepEqual(have.Ports, want.Ports) {
			have.Endpoints, have.Ports = want.Endpoints, want.Ports
			changed = true
		}
		return changed
	},
}

// computedEndpointSlice reports a slice that the virtual EndpointSlice controller
// computed for a Service with a selector, or one of no Service: never copied.
func computedEndpointSlice(v *discoveryv1.EndpointSlice) bool {
	return v.Labels[discoveryv1.LabelManagedBy] == "endpointslice-controller.k8s.io" || v.Labels[discoveryv1.LabelServiceName] == ""
}

// manualEndpointSlices returns the virtual EndpointSlices that the tenant wrote
// (those the EndpointSlice controller did not compute), to be judged again.
func manualEndpointSlices(ctx context.Context, s *Syncer) []reconcile.Request {
	var list discoveryv1.EndpointSliceList
	if err := s.mgr.GetClient().List(ctx, &list); err != nil {
		s.log.Error(err, "Listing EndpointSlices to judge them again")
		return nil
	}
	var reqs []reconcile.Request
	for _, sl := range list.Items {
		if !computedEndpointSlice(&sl) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: sl.Namespace, Name: sl.Name}})
		}
	}
	return reqs
}

// confineEndpoints refuses a hand-written EndpointSlice that names an address
// outside the tenant: not an IP of one of the virtual cluster's host pods, nor in
// spec.isolation.allowedEndpointCIDRs. Copied as is, such a slice would make a
// host Service, reachable by the tenant, front another tenant's pod, a node or the
// host API server (the CVE-2021-25740 class).
func (s *Syncer) confineEndpoints(slice *discoveryv1.EndpointSlice) error {
	var allowed []*net.IPNet
	for _, c := range s.vc.Spec.Isolation.AllowedEndpointCIDRs {
		if _, n, err := net.ParseCIDR(c); err == nil {
			allowed = append(allowed, n)
		}
	}
	var pods corev1.PodList
	if err := s.host.GetCache().List(context.Background(), &pods, client.InNamespace(s.cfg.HostNamespace),
		client.MatchingLabels{translate.KeyVCluster: translate.LabelValue(s.cfg.Name)}); err != nil {
		return fmt.Errorf("listing the virtual cluster's host pods: %w", err)
	}
	own := map[string]bool{}
	for _, p := range pods.Items {
		for _, ip := range p.Status.PodIPs {
			own[ip.IP] = true
		}
	}
	for _, e := range slice.Endpoints {
		for _, a := range e.Addresses {
			ip := net.ParseIP(a)
			if own[a] || (ip != nil && slices.ContainsFunc(allowed, func(n *net.IPNet) bool { return n.Contains(ip) })) {
				continue
			}
			return fmt.Errorf("endpoint address %s is not a pod of this virtual cluster: a Service without selector may name its own pods' IPs, "+
				"and the ranges in spec.isolation.allowedEndpointCIDRs (%s)", a, orNone(s.vc.Spec.Isolation.AllowedEndpointCIDRs))
		}
	}
	return nil
}

// orNone joins values, or says "none set".
func orNone(values []string) string {
	if len(values) == 0 {
		return "none set"
	}
	return strings.Join(values, ", ")
}

// networkPolicies: the tenant's NetworkPolicies go down translated and confined to
// the tenant ([translate.NetworkPolicy]); a peer narrowed on the way is told to the
// tenant with a Warning event. They are translated again when namespaces change,
// since a namespace selector resolves to the virtual namespaces it selects now.
var networkPolicies = objectKind[*networkingv1.NetworkPolicy]{
	name:   "networkpolicies",
	format: translate.DNSSubdomain,
	new:    func() *networkingv1.NetworkPolicy { return &networkingv1.NetworkPolicy{} },
	translate: func(s *Syncer, v *networkingv1.NetworkPolicy) (*networkingv1.NetworkPolicy, error) {
		egress := &s.vc.Spec.Isolation.NetworkPolicy.Egress
		host, notes, err := translate.NetworkPolicy(v, translate.NetworkPolicyOptions{
			Target: s.target, ResolveNamespaces: s.resolveNamespaces,
			BlockedCIDRs: egress.BlockedCIDRs, AllowedCIDRs: egress.AllowedCIDRs,
		})
		for _, n := range notes {
			s.event(v, corev1.EventTypeWarning, "NetworkPolicyConfined", "%s", n)
		}
		return host, err
	},
	onNamespaces: func(ctx context.Context, s *Syncer) []reconcile.Request {
		var list networkingv1.NetworkPolicyList
		if err := s.mgr.GetClient().List(ctx, &list); err != nil {
			s.log.Error(err, "Listing NetworkPolicies to translate them again")
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, p := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
		}
		return reqs
	},
	update: func(have, want *networkingv1.NetworkPolicy) bool {
		changed := metaChanged(have, want)
		if !equality.Semantic.DeepEqual(have.Spec, want.Spec) {
			have.Spec = want.Spec
			changed = true
		}
		return changed
	},
}

// resolveNamespaces lists the virtual namespaces whose labels selector matches.
func (s *Syncer) resolveNamespaces(selector labels.Selector) ([]string, error) {
	var list corev1.NamespaceList
	if err := s.mgr.GetClient().List(context.Background(), &list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	return names, nil
}

// policyLabels returns the host labels that say whether the tenant's
// NetworkPolicies select a virtual pod, per direction (see
// [translate.KeyIsolatedIngress]), or nil when they are not synced.
func (s *Syncer) policyLabels(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	if !on(s.vc.Spec.Sync.ToHost.NetworkPolicies.Enabled) {
		return nil, nil
	}
	var list networkingv1.NetworkPolicyList
	if err := s.mgr.GetClient().List(ctx, &list, client.InNamespace(pod.Namespace)); err != nil {
		return nil, err
	}
	ingress, egress := false, false
	for _, p := range list.Items {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		for _, t := range p.Spec.PolicyTypes {
			ingress = ingress || t == networkingv1.PolicyTypeIngress
			egress = egress || t == networkingv1.PolicyTypeEgress
		}
	}
	return map[string]string{translate.KeyIsolatedIngress: strconv.FormatBool(ingress), translate.KeyIsolatedEgress: strconv.FormatBool(egress)}, nil
}
