package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

// ErrNotReady is returned by EnsureHostService when the syncer is still starting
// after readyWait.
var ErrNotReady = errors.New("the virtual cluster's syncer is still starting; retry in a few seconds")

// readyWait is how long a Service creation waits for the syncer's caches right after
// the control plane starts: the API server answers /readyz a second or two before
// the caches have synced, and a client that creates a Service at once (kubicle
// create, then kubectl apply) should not see an error for that.
const readyWait = 30 * time.Second

// waitReady waits until the caches have synced, ctx ends, or max has passed.
func (s *Syncer) waitReady(ctx context.Context, max time.Duration) error {
	deadline := time.Now().Add(max)
	for !s.Ready() {
		if time.Now().After(deadline) {
			return ErrNotReady
		}
		select {
		case <-ctx.Done():
			return ErrNotReady
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// serviceReconciler keeps a host Service per virtual Service. The host allocates the
// ClusterIP; the virtual Service is given the same one when it is created (see
// EnsureHostService, called from the API server's admission chain), so a tenant pod
// reaches a service at the address the virtual cluster shows.
type serviceReconciler struct{ *Syncer }

func (s *Syncer) setupServices() error {
	return ctrl.NewControllerManagedBy(s.mgr).Named("services").
		For(&corev1.Service{}).
		WatchesRawSource(source.Kind(s.host.GetCache(), &corev1.Service{}, handler.TypedEnqueueRequestsFromMapFunc(mapHostToVirtual[*corev1.Service]))).
		WithOptions(controllerOptions()).
		Complete(&serviceReconciler{s})
}

// skipService reports the virtual Services that are not synced: the virtual API
// server's own `kubernetes` Service, and ExternalName Services, which are DNS only.
func skipService(ns, name string, svc *corev1.Service) bool {
	if ns == "default" && name == "kubernetes" {
		return true
	}
	return svc != nil && svc.Spec.Type == corev1.ServiceTypeExternalName
}

func (r *serviceReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	err := r.reconcile(ctx, req.NamespacedName)
	r.metrics.observe("services", start, err)
	return reconcile.Result{}, err
}

func (r *serviceReconciler) reconcile(ctx context.Context, key types.NamespacedName) error {
	hostKey := types.NamespacedName{Namespace: r.cfg.HostNamespace, Name: translate.HostName(r.cfg.Name, key.Namespace, key.Name, translate.DNSLabel)}
	host := &corev1.Service{}
	hostErr := r.host.GetCache().Get(ctx, hostKey, host)
	if hostErr != nil && !apierrors.IsNotFound(hostErr) {
		return hostErr
	}
	ours := hostErr == nil && ownsIdentity(r.cfg.Name, host, key)
	virtual := &corev1.Service{}
	err := r.mgr.GetClient().Get(ctx, key, virtual)
	if apierrors.IsNotFound(err) || (err == nil && (virtual.DeletionTimestamp != nil || skipService(key.Namespace, key.Name, virtual))) {
		if ours {
			// Keep a host Service that admission created a moment ago for a virtual
			// Service the API server is about to store.
			if id, _ := translate.VirtualIdentity(host); id.UID == "" && time.Since(host.CreationTimestamp.Time) < 30*time.Second {
				return nil
			}
			return client.IgnoreNotFound(r.hostAPI.Delete(ctx, host, client.Preconditions{UID: &host.UID}))
		}
		return nil
	} else if err != nil {
		return err
	}
	if hostErr == nil && !ours {
		r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "host service %s exists and is not managed by this virtual cluster", hostKey.Name)
		return nil
	}
	if err := r.checkService(virtual); err != nil {
		r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "refused by the isolation policy: %v", err)
		return nil
	}
	want, err := translate.Service(virtual, r.target)
	if err != nil {
		r.event(virtual, corev1.EventTypeWarning, "SyncFailed", "cannot translate service: %v", err)
		return nil
	}
	if !ours {
		if err := r.hostAPI.Create(ctx, want, FieldOwner); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating host service for %s: %w", key, err)
		}
		return nil
	}
	if id, _ := translate.VirtualIdentity(host); id.UID != "" && id.UID != virtual.UID {
		// Left over from an earlier virtual Service of the same name.
		return client.IgnoreNotFound(r.hostAPI.Delete(ctx, host, client.Preconditions{UID: &host.UID}))
	}
	changed := host.DeepCopy()
	changed.Labels, changed.Annotations = want.Labels, want.Annotations
	changed.Spec.Selector = want.Spec.Selector
	changed.Spec.Type = want.Spec.Type
	changed.Spec.SessionAffinity = want.Spec.SessionAffinity
	changed.Spec.PublishNotReadyAddresses = want.Spec.PublishNotReadyAddresses
	changed.Spec.Ports = mergePorts(host.Spec.Ports, want.Spec.Ports)
	if !equality.Semantic.DeepEqual(changed, host) {
		if err := r.hostAPI.Update(ctx, changed, FieldOwner); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	if virtual.Spec.ClusterIP != "" && virtual.Spec.ClusterIP != corev1.ClusterIPNone && host.Spec.ClusterIP != "" && virtual.Spec.ClusterIP != host.Spec.ClusterIP {
		r.event(virtual, corev1.EventTypeWarning, "ClusterIPMismatch", "the host gave this service %s; recreate it to use that address", host.Spec.ClusterIP)
	}
	status := translate.VirtualServiceStatus(host)
	if equality.Semantic.DeepEqual(status, virtual.Status) {
		return nil
	}
	updated := virtual.DeepCopy()
	updated.Status = status
	return client.IgnoreNotFound(r.mgr.GetClient().Status().Update(ctx, updated, FieldOwner))
}

// mergePorts takes the wanted ports but keeps node ports the host allocated.
func mergePorts(have, want []corev1.ServicePort) []corev1.ServicePort {
	out := slices.Clone(want)
	for i := range out {
		for _, h := range have {
			if h.Name == out[i].Name && h.Port == out[i].Port && h.Protocol == out[i].Protocol {
				out[i].NodePort = h.NodePort
			}
		}
	}
	return out
}

// PolicyError is a tenant object that the virtual cluster's isolation policy
// refuses; its message names the field and the config that would allow it.
type PolicyError struct{ msg string }

// Error returns the refusal, which names the field and the config.
func (e *PolicyError) Error() string { return e.msg }

// checkService applies the isolation policy to a virtual Service: its type must
// be one of spec.isolation.allowedServiceTypes (ExternalName is DNS only, never
// synced), and it may not claim spec.externalIPs, which would take that address
// on every host node (CVE-2020-8554).
func (s *Syncer) checkService(v *corev1.Service) error {
	if len(v.Spec.ExternalIPs) > 0 {
		return &PolicyError{fmt.Sprintf("spec.externalIPs (%s): a Service of a virtual cluster cannot claim addresses on the host's nodes; use a Service of type LoadBalancer where spec.isolation.allowedServiceTypes allows it",
			strings.Join(v.Spec.ExternalIPs, ", "))}
	}
	t := v.Spec.Type
	if t == "" {
		t = corev1.ServiceTypeClusterIP
	}
	allowed := s.vc.Spec.Isolation.AllowedServiceTypes
	if t == corev1.ServiceTypeExternalName || slices.Contains(allowed, t) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return &PolicyError{fmt.Sprintf("spec.type: %s is not allowed in this virtual cluster; spec.isolation.allowedServiceTypes allows %s", t, orNone(names))}
}

// CheckService applies the isolation policy to a virtual Service being changed;
// a refusal is a [*PolicyError]. The control plane's admission plugin calls it on
// updates, as EnsureHostService does on creation.
func (s *Syncer) CheckService(virtual *corev1.Service) error {
	if !on(s.vc.Spec.Sync.ToHost.Services.Enabled) || skipService(virtual.Namespace, virtual.Name, virtual) {
		return nil
	}
	return s.checkService(virtual)
}

// EnsureHostService creates (or finds) the host Service for a virtual Service that is
// being created, and returns the ClusterIPs the host allocated for it. The control
// plane's admission plugin calls it before the virtual Service is stored and gives the
// virtual Service those addresses.
func (s *Syncer) EnsureHostService(ctx context.Context, virtual *corev1.Service) ([]string, error) {
	if err := s.waitReady(ctx, readyWait); err != nil {
		return nil, err
	}
	if !on(s.vc.Spec.Sync.ToHost.Services.Enabled) || skipService(virtual.Namespace, virtual.Name, virtual) {
		return nil, nil
	}
	if err := s.checkService(virtual); err != nil {
		return nil, err
	}
	if virtual.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil, nil
	}
	want, err := translate.Service(virtual, s.target)
	if err != nil {
		return nil, err
	}
	key := client.ObjectKeyFromObject(want)
	for attempt := 0; attempt < 3; attempt++ {
		err := s.hostAPI.Create(ctx, want.DeepCopy(), FieldOwner)
		if err == nil || apierrors.IsAlreadyExists(err) {
			host := &corev1.Service{}
			if err := s.hostAPI.Get(ctx, key, host); err != nil {
				return nil, err
			}
			if !ownsIdentity(s.cfg.Name, host, types.NamespacedName{Namespace: virtual.Namespace, Name: virtual.Name}) {
				return nil, fmt.Errorf("host service %s/%s exists and is not managed by this virtual cluster", key.Namespace, key.Name)
			}
			if id, _ := translate.VirtualIdentity(host); id.UID != "" {
				// A host Service of an earlier virtual Service of this name: replace it.
				if err := s.hostAPI.Delete(ctx, host, client.Preconditions{UID: &host.UID}); client.IgnoreNotFound(err) != nil {
					return nil, err
				}
				continue
			}
			return host.Spec.ClusterIPs, nil
		}
		return nil, fmt.Errorf("creating the host service: %w", err)
	}
	return nil, fmt.Errorf("host service %s/%s keeps reappearing", key.Namespace, key.Name)
}
