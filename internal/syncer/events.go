package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
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

// eventReconciler re-targets host events about synced objects (a pod scheduled, a
// claim provisioned, a quota exceeded) to the virtual objects they came from, so
// that `kubectl describe` and `kubectl get events` in the virtual cluster tell the
// tenant what the host did. Events about anything else in the host namespace stay
// on the host.
type eventReconciler struct{ *Syncer }

// eventKinds are the synced kinds whose host events are copied, with an empty object
// to look the host object up in the host cache.
var eventKinds = map[string]func() client.Object{
	"Pod":                   func() client.Object { return &corev1.Pod{} },
	"Service":               func() client.Object { return &corev1.Service{} },
	"PersistentVolumeClaim": func() client.Object { return &corev1.PersistentVolumeClaim{} },
	"Ingress":               func() client.Object { return &networkingv1.Ingress{} },
}

func (s *Syncer) setupEvents() error {
	return ctrl.NewControllerManagedBy(s.mgr).Named("events").
		WatchesRawSource(source.Kind(s.host.GetCache(), &corev1.Event{}, &handler.TypedEnqueueRequestForObject[*corev1.Event]{})).
		WithOptions(controllerOptions()).
		Complete(&eventReconciler{s})
}

func (r *eventReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	err := r.reconcile(ctx, req.NamespacedName)
	r.metrics.observe("events", start, err)
	return settle(ctx, "event "+req.String(), reconcile.Result{}, err)
}

func (r *eventReconciler) reconcile(ctx context.Context, key types.NamespacedName) error {
	ev := &corev1.Event{}
	if err := r.host.GetCache().Get(ctx, key, ev); err != nil {
		return client.IgnoreNotFound(err)
	}
	involved := ev.InvolvedObject
	newObj, ok := eventKinds[involved.Kind]
	if !ok || involved.Namespace != r.cfg.HostNamespace {
		return nil
	}
	hostObj := newObj()
	if err := r.host.GetCache().Get(ctx, types.NamespacedName{Namespace: involved.Namespace, Name: involved.Name}, hostObj); err != nil {
		return client.IgnoreNotFound(err) // gone, or not ours (the cache holds only ours)
	}
	if !translate.IsManaged(hostObj, r.cfg.Name) {
		return nil
	}
	id, err := translate.VirtualIdentity(hostObj)
	if err != nil || id.UID == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(r.cfg.Name + "/" + string(ev.UID)))
	name := truncate(id.Name, 200) + "." + hex.EncodeToString(sum[:8])
	first, last := ev.FirstTimestamp, ev.LastTimestamp
	if first.IsZero() {
		first = metav1.NewTime(ev.EventTime.Time)
	}
	if last.IsZero() {
		last = first
	}
	source := ev.Source
	if source.Component == "" {
		source.Component = ev.ReportingController
	}
	count := ev.Count
	if ev.Series != nil && ev.Series.Count > count {
		count = ev.Series.Count
	}
	if count == 0 {
		count = 1
	}
	want := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: id.Namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: involved.Kind, APIVersion: involved.APIVersion, Namespace: id.Namespace, Name: id.Name, UID: id.UID,
			FieldPath: involved.FieldPath,
		},
		Reason:         ev.Reason,
		Message:        r.virtualMessage(ev.Message, involved.Name, id),
		Source:         corev1.EventSource{Component: source.Component},
		FirstTimestamp: first,
		LastTimestamp:  last,
		Count:          count,
		Type:           ev.Type,
	}
	vclient := r.mgr.GetClient()
	existing := &corev1.Event{}
	err = vclient.Get(ctx, types.NamespacedName{Namespace: id.Namespace, Name: name}, existing)
	if apierrors.IsNotFound(err) {
		if err := vclient.Create(ctx, want, FieldOwner); err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsNotFound(err) {
			return err // NotFound: the virtual namespace is being deleted
		}
		return nil
	} else if err != nil {
		return err
	}
	if existing.Count == want.Count && existing.Message == want.Message && existing.LastTimestamp.Equal(&want.LastTimestamp) {
		return nil
	}
	existing.Count, existing.Message, existing.LastTimestamp = want.Count, want.Message, want.LastTimestamp
	return client.IgnoreNotFound(vclient.Update(ctx, existing, FieldOwner))
}

// virtualMessage rewrites host names in an event message to the virtual ones, so
// "Successfully assigned vc-a/web-x-shop-x-a to node-1" reads "… shop/web to node-1".
func (r *eventReconciler) virtualMessage(msg, hostName string, id translate.Identity) string {
	msg = strings.ReplaceAll(msg, r.cfg.HostNamespace+"/"+hostName, id.Namespace+"/"+id.Name)
	return r.hideHostNodeNames(context.Background(), strings.ReplaceAll(msg, hostName, id.Name))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
