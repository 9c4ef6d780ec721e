package syncer

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// metrics are the syncer's own series. controller-runtime adds, per controller (one
// per kind): controller_runtime_reconcile_time_seconds, _reconcile_errors_total and
// workqueue_depth, which the control plane serves beside these.
type metrics struct {
	duration  *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	podCreate prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kubicle_syncer_sync_duration_seconds",
			Help:    "Time of one sync of one object, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubicle_syncer_sync_errors_total",
			Help: "Syncs that failed and were retried, by kind.",
		}, []string{"kind"}),
		podCreate: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kubicle_syncer_pod_create_latency_seconds",
			Help:    "Time from a virtual pod's creation to its host pod's creation.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.duration, m.errors, m.podCreate} {
			_ = reg.Register(c)
		}
	}
	return m
}

func (m *metrics) observe(kind string, start time.Time, err error) {
	m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if err != nil {
		m.errors.WithLabelValues(kind).Inc()
	}
}

func (m *metrics) podCreated(virtualCreated time.Time) {
	m.podCreate.Observe(time.Since(virtualCreated).Seconds())
}

// controllerOptions: several workers per kind, so that one slow host call does not
// hold up the rest (a 1000-pod Deployment is synced by all of them at once).
func controllerOptions() controller.Options {
	return controller.Options{MaxConcurrentReconciles: 8}
}

// event records an event on a virtual object, so that the tenant sees why its object
// did not reach the host (kubectl describe).
func (s *Syncer) event(obj client.Object, eventType, reason, format string, args ...any) {
	s.recorder.Eventf(obj, eventType, reason, format, args...)
}

// settle turns the errors of a lost race into a quick retry: a conflict (another
// writer, such as the host's kubelet or a controller of the virtual cluster, got
// there first) or an object gone meanwhile is not a failure, and is not logged as
// one; the next attempt reads fresh objects. Other errors pass through.
func settle(ctx context.Context, what string, res reconcile.Result, err error) (reconcile.Result, error) {
	switch {
	case apierrors.IsConflict(err):
		klog.FromContext(ctx).V(4).Info("Retrying after a lost race", "object", what, "reason", err.Error())
		return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
	case apierrors.IsNotFound(err):
		// Usually gone for good a moment later (its own event then settles it);
		// a second between tries keeps a lasting absence cheap.
		klog.FromContext(ctx).V(4).Info("Retrying after a lost race", "object", what, "reason", err.Error())
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	return res, err
}
