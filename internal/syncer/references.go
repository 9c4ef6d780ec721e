package syncer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

// Field indexes on virtual pods: the ConfigMaps and Secrets each one references.
const (
	indexConfigMapRefs = "kubicle.dev/configmap-refs"
	indexSecretRefs    = "kubicle.dev/secret-refs"
	indexNodeName      = "spec.nodeName"
)

// references returns the names of the ConfigMaps and Secrets a pod needs, in its
// own namespace: volumes (also projected), env, envFrom, image pull secrets.
func references(pod *corev1.Pod) (configMaps, secrets []string) {
	cm := map[string]bool{}
	sec := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			cm[v.ConfigMap.Name] = true
		case v.Secret != nil:
			sec[v.Secret.SecretName] = true
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					cm[s.ConfigMap.Name] = true
				}
				if s.Secret != nil {
					sec[s.Secret.Name] = true
				}
			}
		}
	}
	containers := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	for _, c := range containers {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				cm[r.Name] = true
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				sec[r.Name] = true
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				cm[e.ConfigMapRef.Name] = true
			}
			if e.SecretRef != nil {
				sec[e.SecretRef.Name] = true
			}
		}
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		sec[s.Name] = true
	}
	delete(cm, "")
	delete(sec, "")
	return sortedKeys(cm), sortedKeys(sec)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Syncer) setupIndexes(ctx context.Context) error {
	idx := s.mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &corev1.Pod{}, indexConfigMapRefs, func(o client.Object) []string {
		cms, _ := references(o.(*corev1.Pod))
		return cms
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &corev1.Pod{}, indexSecretRefs, func(o client.Object) []string {
		_, secs := references(o.(*corev1.Pod))
		return secs
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &corev1.Pod{}, indexNodeName, func(o client.Object) []string {
		if n := o.(*corev1.Pod).Spec.NodeName; n != "" {
			return []string{n}
		}
		return nil
	})
}

// ensureReferences syncs the ConfigMaps and Secrets a pod references before its host
// pod is created, so that the host kubelet finds them. One that does not exist yet in
// the virtual cluster is synced when it appears (the pod waits, as on any cluster).
func (r *podReconciler) ensureReferences(ctx context.Context, pod *corev1.Pod) error {
	cms, secs := references(pod)
	if !on(r.vc.Spec.Sync.ToHost.ConfigMaps.Enabled) {
		cms = nil // not synced by configuration: the host pod waits for them
	}
	for _, name := range cms {
		if err := r.syncConfigMap(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: name}, true); err != nil {
			return err
		}
	}
	for _, name := range secs {
		if err := r.syncSecret(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: name}, true); err != nil {
			return err
		}
	}
	return nil
}

// dependencyReconciler syncs ConfigMaps or Secrets: those some virtual pod references
// (or all, by option) have a host copy kept equal to the virtual one; others have none.
type dependencyReconciler struct {
	*Syncer
	kind string
	sync func(ctx context.Context, key types.NamespacedName, referenced bool) error
}

func (r *dependencyReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	err := r.sync(ctx, req.NamespacedName, false)
	r.metrics.observe(r.kind, start, err)
	return settle(ctx, r.kind+" "+req.String(), reconcile.Result{}, err)
}

// mapPodRefs enqueues the ConfigMaps (or Secrets) a virtual pod references.
func mapPodRefs(secrets bool) handler.TypedMapFunc[client.Object, reconcile.Request] {
	return func(_ context.Context, o client.Object) []reconcile.Request {
		cms, secs := references(o.(*corev1.Pod))
		names := cms
		if secrets {
			names = secs
		}
		reqs := make([]reconcile.Request, 0, len(names))
		for _, n := range names {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: n}})
		}
		return reqs
	}
}

func (s *Syncer) setupConfigMaps() error {
	return ctrl.ControllerManagedBy(s.mgr).Named("configmaps").For(&corev1.ConfigMap{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(mapPodRefs(false))).
		WatchesRawSource(source.Kind(s.host.GetCache(), &corev1.ConfigMap{}, handler.TypedEnqueueRequestsFromMapFunc(mapHostToVirtual[*corev1.ConfigMap]))).
		WithOptions(controllerOptions()).
		Complete(&dependencyReconciler{Syncer: s, kind: "configmaps", sync: s.syncConfigMap})
}

func (s *Syncer) setupSecrets() error {
	return ctrl.ControllerManagedBy(s.mgr).Named("secrets").For(&corev1.Secret{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(mapPodRefs(true))).
		WatchesRawSource(source.Kind(s.host.GetCache(), &corev1.Secret{}, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, o *corev1.Secret) []reconcile.Request {
			if translate.IsPodTokenSecret(o) {
				return nil // belongs to a pod, not to a virtual Secret
			}
			return mapHostToVirtual(ctx, o)
		}))).
		WithOptions(controllerOptions()).
		Complete(&dependencyReconciler{Syncer: s, kind: "secrets", sync: s.syncSecret})
}

func (s *Syncer) referenced(ctx context.Context, index string, key types.NamespacedName) (bool, error) {
	pods := &corev1.PodList{}
	if err := s.mgr.GetClient().List(ctx, pods, client.InNamespace(key.Namespace), client.MatchingFields{index: key.Name}); err != nil {
		return false, err
	}
	return len(pods.Items) > 0, nil
}

func (s *Syncer) syncConfigMap(ctx context.Context, key types.NamespacedName, referenced bool) error {
	virtual := &corev1.ConfigMap{}
	all := s.vc.Spec.Sync.ToHost.ConfigMaps.All != nil && *s.vc.Spec.Sync.ToHost.ConfigMaps.All
	return syncDependency(ctx, s, key, virtual, &corev1.ConfigMap{}, referenced, all, indexConfigMapRefs, func() (client.Object, error) {
		return translate.ConfigMap(virtual, s.target)
	}, func(have, want client.Object) bool {
		h, w := have.(*corev1.ConfigMap), want.(*corev1.ConfigMap)
		changed := !equalStrings(h.Data, w.Data) || !equalBytes(h.BinaryData, w.BinaryData) || !equalStrings(h.Labels, w.Labels)
		h.Data, h.BinaryData, h.Labels, h.Annotations = w.Data, w.BinaryData, w.Labels, w.Annotations
		return changed
	})
}

func (s *Syncer) syncSecret(ctx context.Context, key types.NamespacedName, referenced bool) error {
	virtual := &corev1.Secret{}
	all := s.vc.Spec.Sync.ToHost.Secrets.All != nil && *s.vc.Spec.Sync.ToHost.Secrets.All
	return syncDependency(ctx, s, key, virtual, &corev1.Secret{}, referenced, all, indexSecretRefs, func() (client.Object, error) {
		return translate.Secret(virtual, s.target)
	}, func(have, want client.Object) bool {
		h, w := have.(*corev1.Secret), want.(*corev1.Secret)
		changed := !equalBytes(h.Data, w.Data) || !equalStrings(h.Labels, w.Labels)
		h.Data, h.Labels, h.Annotations = w.Data, w.Labels, w.Annotations
		return changed
	})
}

// syncDependency makes the host copy of one virtual ConfigMap or Secret match: present
// and equal when some pod references it (or all are synced), absent otherwise.
func syncDependency(ctx context.Context, s *Syncer, key types.NamespacedName, virtual, host client.Object,
	referenced, all bool, index string, build func() (client.Object, error), update func(have, want client.Object) bool) error {
	hostKey := types.NamespacedName{Namespace: s.cfg.HostNamespace, Name: translate.HostName(s.cfg.Name, key.Namespace, key.Name, translate.DNSSubdomain)}
	hostErr := s.host.GetCache().Get(ctx, hostKey, host)
	if hostErr != nil && !apierrors.IsNotFound(hostErr) {
		return hostErr
	}
	ours := hostErr == nil && ownsIdentity(s.cfg.Name, host, key) && !translate.IsPodTokenSecret(host)
	if hostErr == nil && !ours {
		return nil // someone else's object under that name: never touch it
	}
	virtualErr := s.mgr.GetClient().Get(ctx, key, virtual)
	if virtualErr != nil && !apierrors.IsNotFound(virtualErr) {
		return virtualErr
	}
	wanted := virtualErr == nil && virtual.GetDeletionTimestamp() == nil
	if wanted && !referenced && !all {
		var err error
		if referenced, err = s.referenced(ctx, index, key); err != nil {
			return err
		}
		wanted = referenced
	}
	if !wanted {
		if ours {
			return client.IgnoreNotFound(s.hostAPI.Delete(ctx, host))
		}
		return nil
	}
	want, err := build()
	if err != nil {
		return err
	}
	if !ours {
		if err := s.hostAPI.Create(ctx, want, FieldOwner); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating host copy of %s: %w", key, err)
		}
		return nil
	}
	changed := host.DeepCopyObject().(client.Object)
	if !update(changed, want) {
		return nil
	}
	return client.IgnoreNotFound(s.hostAPI.Update(ctx, changed, FieldOwner))
}

// ownsIdentity reports whether host carries this virtual cluster's markers for key.
func ownsIdentity(vc string, host client.Object, key types.NamespacedName) bool {
	if !translate.IsManaged(host, vc) {
		return false
	}
	id, err := translate.VirtualIdentity(host)
	return err == nil && id.Namespace == key.Namespace && id.Name == key.Name
}

func equalStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func equalBytes(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || string(w) != string(v) {
			return false
		}
	}
	return true
}
