package syncer

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// virtualNodeLabel marks the virtual nodes the syncer created (and may delete).
const virtualNodeLabel = "kubicle.dev/virtual-node"

// nodeReconciler keeps one virtual Node per host node that runs a tenant pod or
// that the virtual cluster shows anyway ([nodeReconciler.nodeShown]): a mirror of
// the host node's labels, taints, capacity, allocatable (nvidia.com/gpu included)
// and conditions, with the kubelet endpoint pointing at the control plane. The node
// disappears when neither holds.
type nodeReconciler struct{ *Syncer }

func (s *Syncer) setupNodes() error {
	byNodeName := func(_ context.Context, o client.Object) []reconcile.Request {
		if n := o.(*corev1.Pod).Spec.NodeName; n != "" {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: n}}}
		}
		return nil
	}
	return ctrl.NewControllerManagedBy(s.mgr).Named("nodes").
		For(&corev1.Node{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(byNodeName)).
		WatchesRawSource(source.Kind(s.host.GetCache(), &corev1.Node{}, handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, n *corev1.Node) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: s.virtualNodeName(n.Name)}}}
		}))).
		WithOptions(controllerOptions()).
		Complete(&nodeReconciler{s})
}

func (r *nodeReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	err := r.reconcile(ctx, req.Name)
	r.metrics.observe("nodes", start, err)
	return settle(ctx, "node "+req.Name, reconcile.Result{}, err)
}

func (r *nodeReconciler) reconcile(ctx context.Context, name string) error {
	pods := &corev1.PodList{}
	if err := r.mgr.GetClient().List(ctx, pods, client.MatchingFields{indexNodeName: name}); err != nil {
		return err
	}
	if len(pods.Items) == 0 {
		if shown, err := r.nodeShown(ctx, name); err != nil {
			return err
		} else if shown {
			return r.ensureVirtualNode(ctx, name)
		}
		virtual := &corev1.Node{}
		if err := r.mgr.GetClient().Get(ctx, types.NamespacedName{Name: name}, virtual); err != nil {
			return client.IgnoreNotFound(err)
		}
		if virtual.Labels[virtualNodeLabel] != "true" {
			return nil // not ours (a private node joined to the virtual cluster)
		}
		return client.IgnoreNotFound(r.mgr.GetClient().Delete(ctx, virtual))
	}
	return r.ensureVirtualNode(ctx, name)
}

// nodeShown reports whether the virtual cluster shows host node name although no
// pod of its runs there: with spec.sync.fromHost.nodes.selector, the nodes it
// selects; otherwise the nodes the tenant's pods may use (see
// [translate.NodeAdmits]: in the pool of a dedicated tenant, and with no taint its
// pods may not tolerate), so that a new virtual cluster has its schedulable nodes,
// its capacity (GPUs included) visible before any pod runs.
func (r *nodeReconciler) nodeShown(ctx context.Context, name string) (bool, error) {
	hostName, err := r.hostNodeName(ctx, name)
	if err != nil || hostName == "" {
		return false, err
	}
	host := &corev1.Node{}
	if err := r.host.GetCache().Get(ctx, types.NamespacedName{Name: hostName}, host); apierrors.IsNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if sel := r.vc.Spec.Sync.FromHost.Nodes.Selector; sel != nil {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return false, err
		}
		return s.Matches(labels.Set(host.Labels)), nil
	}
	iso := &r.vc.Spec.Isolation
	tolerations := append(slices.Clone(iso.Tolerations), iso.AllowedTolerations...)
	for _, key := range translate.NodeConditionTaintKeys {
		tolerations = append(tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
	return translate.NodeAdmits(host, tolerations, iso.NodeSelector) == nil, nil
}

// ensureVirtualNode creates or refreshes the virtual mirror of host node name.
func (s *Syncer) ensureVirtualNode(ctx context.Context, name string) error {
	hostName, err := s.hostNodeName(ctx, name)
	if err != nil {
		return err
	}
	if hostName == "" {
		return apierrors.NewNotFound(corev1.Resource("nodes"), name)
	}
	host := &corev1.Node{}
	if err := s.host.GetCache().Get(ctx, types.NamespacedName{Name: hostName}, host); err != nil {
		return err
	}
	want := s.mirrorNode(host)
	vclient := s.mgr.GetClient()
	virtual := &corev1.Node{}
	err = vclient.Get(ctx, types.NamespacedName{Name: name}, virtual)
	if apierrors.IsNotFound(err) {
		// The cache may lag behind our own create: work on what the server returned.
		virtual = want.DeepCopy()
		if err := vclient.Create(ctx, virtual, FieldOwner); apierrors.IsAlreadyExists(err) {
			// Another worker created it a moment ago; read it past the cache.
			if err := s.mgr.GetAPIReader().Get(ctx, types.NamespacedName{Name: name}, virtual); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if virtual.Labels[virtualNodeLabel] != "true" {
		return nil
	}
	if !equality.Semantic.DeepEqual(virtual.Labels, want.Labels) || !equality.Semantic.DeepEqual(virtual.Spec.Taints, want.Spec.Taints) ||
		virtual.Spec.Unschedulable != want.Spec.Unschedulable {
		virtual.Labels, virtual.Spec.Taints, virtual.Spec.Unschedulable = want.Labels, want.Spec.Taints, want.Spec.Unschedulable
		if err := vclient.Update(ctx, virtual, FieldOwner); err != nil {
			return err
		}
	}
	if equality.Semantic.DeepEqual(virtual.Status, want.Status) {
		return nil
	}
	virtual.Status = want.Status
	return vclient.Status().Update(ctx, virtual, FieldOwner)
}

// mirrorNode is the virtual node for a host node.
func (s *Syncer) mirrorNode(host *corev1.Node) *corev1.Node {
	labels := map[string]string{}
	for k, v := range host.Labels {
		labels[k] = v
	}
	labels[virtualNodeLabel] = "true"
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: s.virtualNodeName(host.Name), Labels: labels},
		Spec:       corev1.NodeSpec{Taints: host.Spec.Taints, Unschedulable: host.Spec.Unschedulable},
		Status: corev1.NodeStatus{
			Capacity:    host.Status.Capacity,
			Allocatable: host.Status.Allocatable,
			Conditions:  host.Status.Conditions,
			NodeInfo:    host.Status.NodeInfo,
			Phase:       host.Status.Phase,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: s.cfg.KubeletIP},
				{Type: corev1.NodeHostName, Address: host.Name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: s.cfg.KubeletPort}},
		},
	}
	s.pseudoNode(n, host)
	return n
}
