package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/lifecycle"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Finalizer is put on every VirtualCluster the operator reconciles, so that
// deleting the resource first stops its control plane and removes its host
// objects.
const Finalizer = "kubicle.dev/cleanup"

// Default intervals of the [Reconciler].
const (
	// DefaultCheckInterval is how often a ready virtual cluster is checked.
	// A process that dies produces no event on the host, so only a check
	// notices it.
	DefaultCheckInterval = 30 * time.Second
	// DefaultReapplyInterval is how often the host objects of an unchanged
	// virtual cluster are applied again, repairing drift.
	DefaultReapplyInterval = 10 * time.Minute
	// startingInterval is how often a starting control plane is checked.
	startingInterval = 2 * time.Second
	// watchedStartingInterval is the backstop for a starting control plane
	// whose changes are watched (lifecycle.Readiness.Watched: a pod-driven
	// one's StatefulSet).
	watchedStartingInterval = 15 * time.Second
	// deletingInterval is how often a teardown checks that the host
	// objects are gone.
	deletingInterval = time.Second
	// cliConflictInterval is how often a virtual cluster that the CLI owns
	// is looked at again: when the CLI deletes it, the operator takes over.
	cliConflictInterval = time.Minute
	// conflictRetry is how soon a reconcile whose write lost a race runs
	// again: the cache catches up within milliseconds.
	conflictRetry = 200 * time.Millisecond
)

// Reconciler reconciles VirtualCluster objects on the host with the code
// `kubicle create` and `kubicle delete` run (package lifecycle): defaults
// and validation, the host objects of deploy.Render, the control plane
// (driver "process": a local process of the operator's machine; driver
// "pod": the StatefulSet), the status, and the teardown behind [Finalizer].
type Reconciler struct {
	// Client reads and writes VirtualCluster objects.
	Client client.Client
	// Host is the host cluster, for package lifecycle.
	Host *lifecycle.Host
	// Apply holds the options of lifecycle.Apply (executable, image); its
	// Log is set per reconcile.
	Apply lifecycle.ApplyOptions
	// CheckInterval is how often a ready virtual cluster is checked.
	// Default: DefaultCheckInterval.
	CheckInterval time.Duration
	// ReapplyInterval is how often an unchanged virtual cluster's host
	// objects are applied again. Default: DefaultReapplyInterval.
	ReapplyInterval time.Duration
	// Workers is how many virtual clusters are reconciled at once.
	// Default: 1.
	Workers int

	mu sync.Mutex
	// applied remembers, per VirtualCluster, which generation was last
	// applied and when, so that a check does not re-apply every object.
	applied map[types.UID]appliedMark
}

type appliedMark struct {
	generation int64
	at         time.Time
}

// SetupWithManager registers the reconciler with mgr: it watches
// VirtualCluster objects, and the control plane StatefulSets of pod-driven
// ones.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("virtualcluster").
		For(&v1alpha1.VirtualCluster{}).
		Watches(&appsv1.StatefulSet{}, handler.EnqueueRequestsFromMapFunc(statefulSetOwner)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}

// statefulSetOwner maps a control plane StatefulSet to its VirtualCluster:
// same namespace, and deploy.Ref.StatefulSetName is the virtual cluster's
// name.
func statefulSetOwner(_ context.Context, obj client.Object) []reconcile.Request {
	if obj.GetLabels()[deploy.LabelComponent] != deploy.ComponentControlPlane {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}}}
}

// Reconcile brings one virtual cluster to its spec; see the package
// documentation. A write that lost a race with another (the cache was a
// step behind) is retried without being reported as an error.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	res, err := r.reconcile(ctx, req)
	if err != nil && apierrors.IsConflict(err) {
		log.FromContext(ctx).V(1).Info("Conflict; retrying", "err", err.Error())
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	vc := &v1alpha1.VirtualCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, vc); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !vc.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, vc)
	}
	if !controllerutil.ContainsFinalizer(vc, Finalizer) {
		orig := vc.DeepCopy()
		controllerutil.AddFinalizer(vc, Finalizer)
		if err := r.Client.Patch(ctx, vc, client.MergeFrom(orig)); err != nil {
			return reconcile.Result{}, fmt.Errorf("adding finalizer %s: %w", Finalizer, err)
		}
	}

	desired := vc.DeepCopy()
	v1alpha1.Default(desired)
	if errs := v1alpha1.Validate(desired); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		logger.Info("Invalid spec; nothing applied", "problems", msgs)
		return reconcile.Result{}, r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonInvalidConfig, message: strings.Join(msgs, "; ")})
	}
	ref := deploy.RefOf(desired)
	cli, err := lifecycle.RecordedByCLI(ctx, r.Host, ref)
	if err != nil {
		return reconcile.Result{}, err
	}
	if cli {
		msg := fmt.Sprintf("virtual cluster %s was created by `kubicle create` (record ConfigMap %s/%s); the operator leaves it alone. Delete it with `kubicle delete %s -n %s` for the operator to take over",
			ref, ref.Namespace, lifecycle.RecordName(ref), ref.Name, ref.Namespace)
		return reconcile.Result{RequeueAfter: cliConflictInterval}, r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonManagedByCLI, message: msg})
	}

	driver := desired.Spec.ControlPlane.Driver
	running, err := lifecycle.RunningDriver(ctx, r.Host, ref, lifecycle.LocalStateDir(vc.Annotations))
	if err != nil {
		return reconcile.Result{}, err
	}
	if running != "" && running != driver {
		msg := fmt.Sprintf("spec.controlPlane.driver: Forbidden: the control plane runs with driver %q; the driver cannot change in place (its store stays with the old control plane): delete this VirtualCluster and create it again, or set the driver back to %q",
			running, running)
		return reconcile.Result{}, r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonInvalidConfig, message: msg})
	}

	logw := logWriter(logger)
	applied := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 || r.applyDue(vc) {
			if err := r.apply(ctx, vc, desired, logw); err != nil {
				return reconcile.Result{}, errors.Join(err, r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonApplyFailed, message: err.Error()}))
			}
			applied = true
		}
		ready := lifecycle.Check(ctx, r.Host, desired)
		switch {
		case ready.Stopped && !applied:
			// It ran at the last check and has exited since: start it
			// again, now.
			logger.Info("The control plane process is not running; starting it again", "reason", ready.Reason)
			continue
		case ready.Stopped:
			r.forget(vc.UID) // apply again on the retry
			err := fmt.Errorf("control plane of %s stopped: %s", ref, ready.Reason)
			return reconcile.Result{}, errors.Join(err, r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonControlPlaneStopped, message: ready.Reason}))
		case !ready.Ready:
			after := startingInterval
			if ready.Watched {
				after = watchedStartingInterval
			}
			return reconcile.Result{RequeueAfter: after}, r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseStarting, reason: ReasonStarting, message: ready.Reason, endpoint: ready.Endpoint})
		}
		if applied || vc.Status.Phase != v1alpha1.PhaseRunning {
			if err := lifecycle.Export(ctx, r.Host, desired, ready.Endpoint, logw); err != nil {
				r.forget(vc.UID)
				return reconcile.Result{}, errors.Join(err, r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonApplyFailed, message: err.Error()}))
			}
		}
		msg := fmt.Sprintf("the virtual API server at %s is ready", ready.Endpoint)
		if ready.Where != "" {
			msg += " (" + ready.Where + ")"
		}
		return reconcile.Result{RequeueAfter: r.checkInterval()}, r.setStatus(ctx, vc, outcome{
			phase: v1alpha1.PhaseRunning, reason: ReasonRunning, message: msg, endpoint: ready.Endpoint, version: ready.KubernetesVersion,
		})
	}
}

// apply runs lifecycle.Apply, remembers it, and records on the
// VirtualCluster object where the control plane runs when the host's objects
// do not say (lifecycle.Applied.Location: a process-driven one).
func (r *Reconciler) apply(ctx context.Context, vc, desired *v1alpha1.VirtualCluster, logw *lineLogger) error {
	o := r.Apply
	o.Log = logw
	a, err := lifecycle.Apply(ctx, r.Host, desired, o)
	if err != nil {
		return err
	}
	r.remember(vc.UID, vc.Generation)
	orig := vc.DeepCopy()
	changed := false
	for k, v := range a.Location {
		if vc.Annotations[k] != v {
			if vc.Annotations == nil {
				vc.Annotations = map[string]string{}
			}
			vc.Annotations[k] = v
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := r.Client.Patch(ctx, vc, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("recording where the control plane runs: %w", err)
	}
	return nil
}

// finalize tears down a deleted virtual cluster and then removes the
// finalizer.
func (r *Reconciler) finalize(ctx context.Context, vc *v1alpha1.VirtualCluster) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	if !controllerutil.ContainsFinalizer(vc, Finalizer) {
		return reconcile.Result{}, nil
	}
	ref := deploy.Ref{Name: vc.Name, Namespace: vc.Namespace}
	cli, err := lifecycle.RecordedByCLI(ctx, r.Host, ref)
	if err != nil {
		return reconcile.Result{}, err
	}
	if !cli {
		if vc.Status.Phase != v1alpha1.PhaseDeleting {
			if err := r.setStatus(ctx, vc, outcome{phase: v1alpha1.PhaseDeleting, reason: ReasonDeleting, message: "stopping the control plane and deleting its host objects"}); err != nil {
				return reconcile.Result{}, err
			}
		}
		left, err := lifecycle.Teardown(ctx, r.Host, ref, lifecycle.TeardownOptions{
			StateDir: lifecycle.LocalStateDir(vc.Annotations),
			Log:      logWriter(logger),
		})
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("deleting the host objects of %s: %w", ref, err)
		}
		if len(left) > 0 {
			logger.V(1).Info("Waiting for host objects to go", "left", left)
			return reconcile.Result{RequeueAfter: deletingInterval}, nil
		}
		logger.Info("Deleted the control plane and every host object")
	}
	r.forget(vc.UID)
	orig := vc.DeepCopy()
	controllerutil.RemoveFinalizer(vc, Finalizer)
	if err := r.Client.Patch(ctx, vc, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("removing finalizer %s: %w", Finalizer, err)
	}
	return reconcile.Result{}, nil
}

// setStatus writes the status that o gives vc, when it differs from the
// one it has.
func (r *Reconciler) setStatus(ctx context.Context, vc *v1alpha1.VirtualCluster, o outcome) error {
	next := nextStatus(vc.Status, vc.Generation, o, metav1.Now())
	if equality.Semantic.DeepEqual(next, vc.Status) {
		return nil
	}
	vc.Status = next
	if err := r.Client.Status().Update(ctx, vc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("updating the status of %s/%s: %w", vc.Namespace, vc.Name, err)
	}
	return nil
}

// applyDue reports whether vc's host objects should be applied now: its
// generation was not applied yet (by this process), or long enough ago.
func (r *Reconciler) applyDue(vc *v1alpha1.VirtualCluster) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.applied[vc.UID]
	every := r.ReapplyInterval
	if every <= 0 {
		every = DefaultReapplyInterval
	}
	return !ok || m.generation != vc.Generation || time.Since(m.at) > every
}

func (r *Reconciler) remember(uid types.UID, generation int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applied == nil {
		r.applied = map[types.UID]appliedMark{}
	}
	r.applied[uid] = appliedMark{generation: generation, at: time.Now()}
}

func (r *Reconciler) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.applied, uid)
}

func (r *Reconciler) checkInterval() time.Duration {
	if r.CheckInterval <= 0 {
		return DefaultCheckInterval
	}
	return r.CheckInterval
}

// lineLogger is an io.Writer that logs each line written to it: the
// progress lines of package lifecycle, as the CLI prints them.
type lineLogger struct {
	log logr.Logger
	buf []byte
}

func logWriter(l logr.Logger) *lineLogger { return &lineLogger{log: l} }

// Write logs every complete line of p.
func (w *lineLogger) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimSpace(strings.TrimLeft(string(w.buf[:i]), " •✓!"))
		w.buf = w.buf[i+1:]
		if line != "" {
			w.log.Info(line)
		}
	}
}
