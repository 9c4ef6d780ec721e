package syncer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

// podReconciler owns the host copy of each virtual pod and the virtual pod's status.
type podReconciler struct{ *Syncer }

func (s *Syncer) setupPods() error {
	b := ctrl.NewControllerManagedBy(s.mgr).
		Named("pods").
		For(&corev1.Pod{}).
		WatchesRawSource(source.Kind(s.host.GetCache(), &corev1.Pod{}, handler.TypedEnqueueRequestsFromMapFunc(mapHostToVirtual[*corev1.Pod])))
	if on(s.vc.Spec.Sync.ToHost.NetworkPolicies.Enabled) {
		// A policy that comes, goes or changes its selector isolates other pods:
		// their host labels follow (see policyLabels).
		b = b.Watches(&networkingv1.NetworkPolicy{}, handler.EnqueueRequestsFromMapFunc(s.podsOfNamespace))
	}
	return b.WithOptions(controllerOptions()).Complete(&podReconciler{s})
}

// podsOfNamespace returns the virtual pods of obj's namespace.
func (s *Syncer) podsOfNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	var pods corev1.PodList
	if err := s.mgr.GetClient().List(ctx, &pods, client.InNamespace(obj.GetNamespace())); err != nil {
		s.log.Error(err, "Listing pods to label them again", "namespace", obj.GetNamespace())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(pods.Items))
	for _, p := range pods.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
	}
	return reqs
}

// podOptionsFor returns the translation options of one pod: the virtual
// cluster's, and the host labels that its NetworkPolicies decide.
func (r *podReconciler) podOptionsFor(ctx context.Context, virtual *corev1.Pod) (translate.PodOptions, error) {
	opts := r.podOptions()
	l, err := r.policyLabels(ctx, virtual)
	if err != nil {
		return opts, err
	}
	if len(l) > 0 {
		opts.Labels = maps.Clone(opts.Labels)
		if opts.Labels == nil {
			opts.Labels = map[string]string{}
		}
		maps.Copy(opts.Labels, l)
	}
	return opts, nil
}

// mapHostToVirtual enqueues the virtual object a host object was synced from.
func mapHostToVirtual[T client.Object](_ context.Context, host T) []reconcile.Request {
	id, err := translate.VirtualIdentity(host)
	if err != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: id.Namespace, Name: id.Name}}}
}

func (r *podReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	res, err := r.reconcile(ctx, req)
	r.metrics.observe("pods", start, err)
	return settle(ctx, "pod "+req.String(), res, err)
}

func (r *podReconciler) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	hostKey := types.NamespacedName{Namespace: r.cfg.HostNamespace, Name: translate.HostName(r.cfg.Name, req.Namespace, req.Name, translate.DNSSubdomain)}
	host := &corev1.Pod{}
	hostErr := r.host.GetCache().Get(ctx, hostKey, host)
	if hostErr != nil && !apierrors.IsNotFound(hostErr) {
		return reconcile.Result{}, hostErr
	}
	hostExists := hostErr == nil && r.owns(host, req.Namespace, req.Name)

	virtual := &corev1.Pod{}
	if err := r.mgr.GetClient().Get(ctx, req.NamespacedName, virtual); apierrors.IsNotFound(err) {
		// The virtual pod is gone (perhaps while we were down): so goes its copy.
		if hostExists {
			return reconcile.Result{}, r.deleteHostPod(ctx, host, nil)
		}
		return reconcile.Result{}, nil
	} else if err != nil {
		return reconcile.Result{}, err
	}

	if hostExists {
		if id, _ := translate.VirtualIdentity(host); id.UID != "" && id.UID != virtual.UID {
			// A host pod of an earlier virtual pod with the same name: replace it.
			return reconcile.Result{RequeueAfter: time.Second}, r.deleteHostPod(ctx, host, ptr(int64(0)))
		}
	}

	if virtual.DeletionTimestamp != nil {
		if hostExists {
			if host.DeletionTimestamp == nil {
				return reconcile.Result{}, r.deleteHostPod(ctx, host, virtual.DeletionGracePeriodSeconds)
			}
			return reconcile.Result{}, nil // the host pod's deletion will enqueue us again
		}
		// The host pod is gone; a kubelet would now finish the deletion.
		err := r.mgr.GetClient().Delete(ctx, virtual, client.GracePeriodSeconds(0), client.Preconditions{UID: &virtual.UID})
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}

	if !hostExists {
		if hostErr == nil {
			// The name is taken by a host object that is not ours: never touch it.
			r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "host pod %s exists and is not managed by this virtual cluster", hostKey.Name)
			return reconcile.Result{}, nil
		}
		return r.createHostPod(ctx, virtual)
	}

	if err := r.updateHostPod(ctx, virtual, host); err != nil {
		return reconcile.Result{}, err
	}
	if err := r.addEphemeralContainers(ctx, virtual, host); err != nil {
		return reconcile.Result{}, err
	}
	if err := r.ensureTokens(ctx, virtual); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: tokenRefreshAfter(virtual)}, r.syncStatus(ctx, virtual, host)
}

// owns reports whether host carries this virtual cluster's markers for ns/name.
func (r *podReconciler) owns(host client.Object, ns, name string) bool {
	if !translate.IsManaged(host, r.cfg.Name) {
		return false
	}
	id, err := translate.VirtualIdentity(host)
	return err == nil && id.Namespace == ns && id.Name == name
}

func (r *podReconciler) createHostPod(ctx context.Context, virtual *corev1.Pod) (reconcile.Result, error) {
	if errs := translate.CheckDeviceAccess(virtual, r.podOptions().Devices); len(errs) > 0 {
		return reconcile.Result{}, r.refuse(ctx, virtual, "SyncRefused", fmt.Sprintf("refused by the host's device policy: %v", errs.ToAggregate()))
	}
	if errs := translate.CheckPlacement(virtual, r.placement()); len(errs) > 0 {
		return reconcile.Result{}, r.refuse(ctx, virtual, "SyncRefused", fmt.Sprintf("refused by the virtual cluster's placement: %v", errs.ToAggregate()))
	}
	if err := r.ensureReferences(ctx, virtual); err != nil {
		return reconcile.Result{}, fmt.Errorf("syncing what pod %s/%s references: %w", virtual.Namespace, virtual.Name, err)
	}
	if err := r.ensureTokens(ctx, virtual); err != nil {
		return reconcile.Result{}, fmt.Errorf("issuing service account tokens for pod %s/%s: %w", virtual.Namespace, virtual.Name, err)
	}
	opts, err := r.podOptionsFor(ctx, virtual)
	if err != nil {
		return reconcile.Result{}, err
	}
	host, err := translate.Pod(virtual, opts)
	if err != nil {
		return reconcile.Result{}, r.refuse(ctx, virtual, "SyncFailed", fmt.Sprintf("cannot run on the host: %v", err))
	}
	if why, err := r.checkNode(ctx, host); err != nil {
		return reconcile.Result{}, err
	} else if why != "" {
		return reconcile.Result{}, r.refuse(ctx, virtual, "SyncRefused", "refused by the virtual cluster's placement: spec.nodeName: "+why)
	}
	// A pod cannot be created with ephemeral containers; they are added
	// through their subresource once it exists.
	host.Spec.EphemeralContainers = nil
	if pc := virtual.Spec.PriorityClassName; pc != "" && host.Spec.PriorityClassName == "" {
		if !strings.HasPrefix(pc, "system-") {
			return reconcile.Result{}, r.refuse(ctx, virtual, "SyncRefused", fmt.Sprintf(
				"priorityClassName %q is not a class the platform offers: pods run on the host at the host's classes shown in this virtual cluster (sync.fromHost.priorityClasses) or at the default priority", pc))
		}
		// Charts name the built-in classes that every cluster has; the host's
		// are never lent to a tenant, so the pod runs, at the default.
		r.event(virtual, corev1.EventTypeWarning, "PriorityClassNotSynced",
			"priorityClassName %q has no effect on the host: the host's system classes are not lent to tenants, so the pod runs at the host namespace's default priority", pc)
	}
	if why, err := r.checkPodSecurity(host); err != nil {
		return reconcile.Result{}, err
	} else if why != "" {
		return reconcile.Result{}, r.refuse(ctx, virtual, "SyncRefused", "refused by the virtual cluster's pod security: "+why)
	}
	if err := r.hostAPI.Create(ctx, host, FieldOwner); apierrors.IsAlreadyExists(err) {
		return reconcile.Result{RequeueAfter: 200 * time.Millisecond}, nil
	} else if err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			// Host admission (quota, pod security, limits) said no: tell the tenant.
			r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "the host refused the pod: %v", err)
			return reconcile.Result{RequeueAfter: 5 * time.Second}, nil
		}
		return reconcile.Result{}, err
	}
	r.metrics.podCreated(virtual.CreationTimestamp.Time)
	return reconcile.Result{}, nil
}

// placement is where the tenant's pods may run: spec.isolation's node
// selector, pool tolerations and allowed tolerations.
func (r *podReconciler) placement() translate.PlacementPolicy {
	iso := &r.vc.Spec.Isolation
	return translate.PlacementPolicy{NodeSelector: iso.NodeSelector, Tolerations: iso.Tolerations, AllowedTolerations: iso.AllowedTolerations}
}

// checkNode returns why a host pod that names its node (the virtual
// scheduler's choice, or the tenant's) may not run there, or "": such a pod
// skips the host scheduler, so the syncer judges the node's pool and taints
// in its place.
func (r *podReconciler) checkNode(ctx context.Context, host *corev1.Pod) (string, error) {
	if host.Spec.NodeName == "" {
		return "", nil
	}
	node := &corev1.Node{}
	if err := r.host.GetCache().Get(ctx, types.NamespacedName{Name: host.Spec.NodeName}, node); apierrors.IsNotFound(err) {
		return fmt.Sprintf("node %s does not exist on the host", host.Spec.NodeName), nil
	} else if err != nil {
		return "", err
	}
	if err := translate.NodeAdmits(node, host.Spec.Tolerations, r.vc.Spec.Isolation.NodeSelector); err != nil {
		return err.Error(), nil
	}
	return "", nil
}

// refuse tells the tenant why its pod does not reach the host, where it looks:
// a Warning event, and on the pod the condition PodScheduled=False with the
// same reason and message, which `kubectl describe pod` shows.
func (r *podReconciler) refuse(ctx context.Context, virtual *corev1.Pod, reason, message string) error {
	r.event(virtual, corev1.EventTypeWarning, reason, "%s", message)
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: message}
	i := slices.IndexFunc(virtual.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == corev1.PodScheduled })
	if i >= 0 {
		have := virtual.Status.Conditions[i]
		if have.Status == cond.Status && have.Reason == cond.Reason && have.Message == cond.Message {
			return nil
		}
	}
	updated := virtual.DeepCopy()
	cond.LastTransitionTime = metav1.Now()
	if i >= 0 {
		updated.Status.Conditions[i] = cond
	} else {
		updated.Status.Conditions = append(updated.Status.Conditions, cond)
	}
	if updated.Status.Phase == "" {
		updated.Status.Phase = corev1.PodPending
	}
	return client.IgnoreNotFound(r.mgr.GetClient().Status().Update(ctx, updated, FieldOwner))
}

// wantedHostPod returns the host pod that virtual translates to now, or nil when
// it does not translate (the tenant was told when the pod was created).
func (r *podReconciler) wantedHostPod(ctx context.Context, virtual *corev1.Pod) (*corev1.Pod, error) {
	opts, err := r.podOptionsFor(ctx, virtual)
	if err != nil {
		return nil, err
	}
	want, err := translate.Pod(virtual, opts)
	if err != nil {
		return nil, nil
	}
	return want, nil
}

// updateHostPod carries the mutable parts of the virtual spec down: labels,
// annotations, container images and activeDeadlineSeconds. It patches only the
// fields the syncer owns, so whatever the host added (scheduling gates of a queue,
// injected tolerations, labels of host controllers) stays.
func (r *podReconciler) updateHostPod(ctx context.Context, virtual, host *corev1.Pod) error {
	want, err := r.wantedHostPod(ctx, virtual)
	if want == nil || err != nil {
		return err
	}
	patch := client.MergeFrom(host.DeepCopy())
	changed := host.DeepCopy()
	for k, v := range want.Labels {
		if changed.Labels[k] != v {
			if changed.Labels == nil {
				changed.Labels = map[string]string{}
			}
			changed.Labels[k] = v
		}
	}
	for k, v := range want.Annotations {
		if changed.Annotations[k] != v {
			if changed.Annotations == nil {
				changed.Annotations = map[string]string{}
			}
			changed.Annotations[k] = v
		}
	}
	setImages(changed.Spec.Containers, want.Spec.Containers)
	setImages(changed.Spec.InitContainers, want.Spec.InitContainers)
	changed.Spec.ActiveDeadlineSeconds = want.Spec.ActiveDeadlineSeconds
	if equality.Semantic.DeepEqual(changed.ObjectMeta.Labels, host.Labels) && maps.Equal(changed.Annotations, host.Annotations) &&
		equality.Semantic.DeepEqual(changed.Spec, host.Spec) {
		return nil
	}
	return client.IgnoreNotFound(r.hostAPI.Patch(ctx, changed, patch, FieldOwner))
}

// addEphemeralContainers adds to the host pod the ephemeral containers that the
// virtual pod has and it has not (kubectl debug adds them to the virtual pod),
// through the host's ephemeralcontainers subresource, under the same pod
// security check as the pod itself. Ephemeral containers cannot be changed or
// removed once added, on either side.
func (r *podReconciler) addEphemeralContainers(ctx context.Context, virtual, host *corev1.Pod) error {
	if len(virtual.Spec.EphemeralContainers) == len(host.Spec.EphemeralContainers) {
		return nil
	}
	want, err := r.wantedHostPod(ctx, virtual)
	if want == nil || err != nil {
		return err
	}
	changed := host.DeepCopy()
	var added []string
	for _, c := range want.Spec.EphemeralContainers {
		if !slices.ContainsFunc(changed.Spec.EphemeralContainers, func(h corev1.EphemeralContainer) bool { return h.Name == c.Name }) {
			changed.Spec.EphemeralContainers = append(changed.Spec.EphemeralContainers, c)
			added = append(added, c.Name)
		}
	}
	if len(added) == 0 {
		return nil
	}
	if why, err := r.checkPodSecurity(changed); err != nil {
		return err
	} else if why != "" {
		r.event(virtual, corev1.EventTypeWarning, "SyncRefused", "ephemeral containers %v refused by the virtual cluster's pod security: %s", added, why)
		return nil
	}
	if err := r.hostAPI.SubResource("ephemeralcontainers").Update(ctx, changed, FieldOwner); err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "the host refused ephemeral containers %v: %v", added, err)
			return nil
		}
		return client.IgnoreNotFound(err)
	}
	return nil
}

func setImages(have, want []corev1.Container) {
	for i := range have {
		for _, w := range want {
			if w.Name == have[i].Name {
				have[i].Image = w.Image
			}
		}
	}
}

// syncStatus writes the host pod's truth into the virtual pod: its node (through
// the binding subresource, as a scheduler would) and its status.
func (r *podReconciler) syncStatus(ctx context.Context, virtual, host *corev1.Pod) error {
	vclient := r.mgr.GetClient()
	if host.Spec.NodeName != "" && virtual.Spec.NodeName == "" {
		nodeName := r.virtualNodeName(host.Spec.NodeName)
		if err := r.ensureVirtualNode(ctx, nodeName); err != nil {
			return err
		}
		binding := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: virtual.Name, Namespace: virtual.Namespace, UID: virtual.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: nodeName},
		}
		if err := vclient.SubResource("binding").Create(ctx, virtual, binding); err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("binding virtual pod %s/%s to %s: %w", virtual.Namespace, virtual.Name, nodeName, err)
		}
		if err := vclient.Get(ctx, client.ObjectKeyFromObject(virtual), virtual); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	want := translate.VirtualPodStatus(host)
	if r.pseudoNodes() {
		// The node's address is the host's: show the made-up node's.
		if want.NominatedNodeName != "" {
			want.NominatedNodeName = r.virtualNodeName(want.NominatedNodeName)
		}
		if want.HostIP != "" {
			want.HostIP, want.HostIPs = r.cfg.KubeletIP, []corev1.HostIP{{IP: r.cfg.KubeletIP}}
		}
	}
	if equality.Semantic.DeepEqual(want, virtual.Status) {
		return nil
	}
	updated := virtual.DeepCopy()
	updated.Status = want
	return client.IgnoreNotFound(vclient.Status().Update(ctx, updated, FieldOwner))
}

func (r *podReconciler) deleteHostPod(ctx context.Context, host *corev1.Pod, grace *int64) error {
	opts := []client.DeleteOption{client.Preconditions{UID: &host.UID}}
	if grace != nil {
		opts = append(opts, client.GracePeriodSeconds(*grace))
	}
	if err := r.hostAPI.Delete(ctx, host, opts...); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return err
	}
	id, err := translate.VirtualIdentity(host)
	if err != nil {
		return nil
	}
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.cfg.HostNamespace, Name: translate.PodTokenSecretName(r.cfg.Name, id.Namespace, id.Name)}}
	return client.IgnoreNotFound(r.hostAPI.Delete(ctx, token))
}

func ptr[T any](v T) *T { return &v }
