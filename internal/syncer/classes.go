package syncer

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	resourcev1 "k8s.io/api/resource/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// FromHostLabel marks the objects of the virtual cluster that mirror a host
// class (spec.sync.fromHost): the syncer owns them, and undoes a tenant's change.
const FromHostLabel = "kubicle.dev/from-host"

// hostClass is one kind of cluster-scoped host object that spec.sync.fromHost
// shows, read-only, in the virtual cluster.
type hostClass struct {
	setting  string // the config field, for messages
	group    string
	resource string
	sync     *v1alpha1.HostClassSync
	newObj   func() client.Object
	// hidden reports host objects never shown, whatever the selector.
	hidden func(client.Object) bool
}

// hostClasses lists the class kinds of spec.sync.fromHost.
func (s *Syncer) hostClasses() []hostClass {
	from := &s.vc.Spec.Sync.FromHost
	return []hostClass{
		{"sync.fromHost.storageClasses", "storage.k8s.io", "storageclasses", &from.StorageClasses, func() client.Object { return &storagev1.StorageClass{} }, nil},
		{"sync.fromHost.ingressClasses", "networking.k8s.io", "ingressclasses", &from.IngressClasses, func() client.Object { return &networkingv1.IngressClass{} }, nil},
		{"sync.fromHost.runtimeClasses", "node.k8s.io", "runtimeclasses", &from.RuntimeClasses, func() client.Object { return &nodev1.RuntimeClass{} }, nil},
		{"sync.fromHost.priorityClasses", "scheduling.k8s.io", "priorityclasses", &from.PriorityClasses, func() client.Object { return &schedulingv1.PriorityClass{} }, isSystemPriorityClass},
		{"sync.fromHost.csiDrivers", "storage.k8s.io", "csidrivers", &from.CSIDrivers, func() client.Object { return &storagev1.CSIDriver{} }, nil},
		{"sync.fromHost.deviceClasses", "resource.k8s.io", "deviceclasses", &from.DeviceClasses, func() client.Object { return &resourcev1.DeviceClass{} }, nil},
	}
}

// isSystemPriorityClass reports the host's own classes (system-cluster-critical,
// system-node-critical), which no tenant pod may run at.
func isSystemPriorityClass(o client.Object) bool { return strings.HasPrefix(o.GetName(), "system-") }

// hostClassCache returns the host cache settings of the enabled class kinds: their
// selectors, so that an unselected class is never even read.
func hostClassCache(vc *v1alpha1.VirtualCluster) (map[client.Object]cache.ByObject, error) {
	s := &Syncer{vc: vc}
	out := map[client.Object]cache.ByObject{}
	for _, c := range s.hostClasses() {
		if !on(c.sync.Enabled) {
			continue
		}
		sel := labels.Everything()
		if c.sync.Selector != nil {
			var err error
			if sel, err = metav1.LabelSelectorAsSelector(c.sync.Selector); err != nil {
				return nil, fmt.Errorf("spec.%s.selector: %w", c.setting, err)
			}
		}
		out[c.newObj()] = cache.ByObject{Label: sel}
	}
	return out, nil
}

// setupHostClass mirrors one class kind: a change on either side enqueues the
// object's name.
func (s *Syncer) setupHostClass(c hostClass) error {
	byName := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetName()}}}
	})
	return ctrl.NewControllerManagedBy(s.mgr).
		Named("fromhost-" + c.resource).
		For(c.newObj()).
		WatchesRawSource(source.Kind(s.host.GetCache(), c.newObj(), byName)).
		WithOptions(controllerOptions()).
		Complete(&hostClassReconciler{Syncer: s, class: c})
}

// hostClassReconciler keeps the virtual copy of one host class equal to the host's.
type hostClassReconciler struct {
	*Syncer
	class hostClass
}

func (r *hostClassReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	res, err := r.reconcile(ctx, req)
	return settle(ctx, r.class.resource+" "+req.Name, res, err)
}

func (r *hostClassReconciler) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	host := r.class.newObj()
	err := r.host.GetCache().Get(ctx, req.NamespacedName, host)
	if err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	shown := err == nil && (r.class.hidden == nil || !r.class.hidden(host))

	vclient := r.mgr.GetClient()
	virtual := r.class.newObj()
	verr := vclient.Get(ctx, req.NamespacedName, virtual)
	if verr != nil && !apierrors.IsNotFound(verr) {
		return reconcile.Result{}, verr
	}
	exists := verr == nil
	if !shown {
		// Gone from the host, or no longer selected: so goes the copy, never an
		// object of the tenant's own.
		if exists && virtual.GetLabels()[FromHostLabel] == "true" {
			return reconcile.Result{}, client.IgnoreNotFound(vclient.Delete(ctx, virtual, client.Preconditions{UID: ptr(virtual.GetUID())}))
		}
		return reconcile.Result{}, nil
	}

	want := mirrorClass(host)
	if !exists {
		return reconcile.Result{}, client.IgnoreAlreadyExists(vclient.Create(ctx, want, FieldOwner))
	}
	if virtual.GetLabels()[FromHostLabel] != "true" {
		// The tenant made an object under the host class's name: the host's wins.
		return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, client.IgnoreNotFound(vclient.Delete(ctx, virtual, client.Preconditions{UID: ptr(virtual.GetUID())}))
	}
	if sameClass(want, virtual) {
		return reconcile.Result{}, nil
	}
	want.SetResourceVersion(virtual.GetResourceVersion())
	err = vclient.Update(ctx, want, FieldOwner)
	if apierrors.IsInvalid(err) {
		// A field that cannot change (a PriorityClass's value, a StorageClass's
		// provisioner): replace the copy.
		return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, client.IgnoreNotFound(vclient.Delete(ctx, virtual, client.Preconditions{UID: ptr(virtual.GetUID())}))
	}
	return reconcile.Result{}, client.IgnoreNotFound(err)
}

// mirrorClass returns the virtual copy of a host class: the same content, its
// labels with the FromHostLabel marker, and its annotations (the default
// StorageClass and IngressClass are marked so), nothing of its identity.
func mirrorClass(host client.Object) client.Object {
	out := host.DeepCopyObject().(client.Object)
	meta := metav1.ObjectMeta{Name: host.GetName(), Labels: map[string]string{}, Annotations: map[string]string{}}
	for k, v := range host.GetLabels() {
		meta.Labels[k] = v
	}
	meta.Labels[FromHostLabel] = "true"
	for k, v := range host.GetAnnotations() {
		if k != corev1.LastAppliedConfigAnnotation {
			meta.Annotations[k] = v
		}
	}
	if len(meta.Annotations) == 0 {
		meta.Annotations = nil
	}
	setObjectMeta(out, meta)
	return out
}

// sameClass reports whether the virtual copy already says what want says:
// the same content, labels and annotations.
func sameClass(want, virtual client.Object) bool {
	a, b := want.DeepCopyObject().(client.Object), virtual.DeepCopyObject().(client.Object)
	for _, o := range []client.Object{a, b} {
		setObjectMeta(o, metav1.ObjectMeta{Name: o.GetName(), Labels: o.GetLabels(), Annotations: o.GetAnnotations()})
	}
	return equality.Semantic.DeepEqual(a, b)
}

// setObjectMeta replaces the object metadata of o, one of the class types.
func setObjectMeta(o client.Object, meta metav1.ObjectMeta) {
	switch c := o.(type) {
	case *storagev1.StorageClass:
		c.ObjectMeta, c.TypeMeta = meta, metav1.TypeMeta{}
	case *networkingv1.IngressClass:
		c.ObjectMeta, c.TypeMeta = meta, metav1.TypeMeta{}
	case *nodev1.RuntimeClass:
		c.ObjectMeta, c.TypeMeta = meta, metav1.TypeMeta{}
	case *schedulingv1.PriorityClass:
		c.ObjectMeta, c.TypeMeta = meta, metav1.TypeMeta{}
	case *storagev1.CSIDriver:
		c.ObjectMeta, c.TypeMeta = meta, metav1.TypeMeta{}
	case *resourcev1.DeviceClass:
		c.ObjectMeta, c.TypeMeta = meta, metav1.TypeMeta{}
	default:
		panic(fmt.Sprintf("setObjectMeta: %T is not a host class", o))
	}
}

// offeredPriorityClass reports whether name is a host PriorityClass that tenant
// pods may run at: shown by sync.fromHost.priorityClasses (enabled, selected) and
// not one of the host's system-* classes.
func (s *Syncer) offeredPriorityClass(name string) bool {
	if !on(s.vc.Spec.Sync.FromHost.PriorityClasses.Enabled) || strings.HasPrefix(name, "system-") {
		return false
	}
	pc := &schedulingv1.PriorityClass{}
	return s.host.GetCache().Get(context.Background(), types.NamespacedName{Name: name}, pc) == nil
}
