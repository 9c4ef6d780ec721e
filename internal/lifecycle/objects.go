package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/dynamic"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/syncer/translate"
)

// FieldManager is the server-side apply field manager of every object the
// CLI writes.
const FieldManager = "kubicle"

// kindOf returns the deploy.Kind of a GroupVersionKind, from the list of
// every kind a virtual cluster may own.
func kindOf(gvk schema.GroupVersionKind) (deploy.Kind, bool) {
	for _, k := range deploy.DeletionOrder() {
		if k.GroupVersionKind == gvk {
			return k, true
		}
	}
	return deploy.Kind{}, false
}

// resourceFor returns the dynamic client of obj's kind, in obj's namespace
// when the kind is namespaced.
func resourceFor(dyn dynamic.Interface, obj runtime.Object, namespace string) (dynamic.ResourceInterface, deploy.Kind, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	k, ok := kindOf(gvk)
	if !ok {
		return nil, k, fmt.Errorf("kubicle does not manage objects of kind %s", gvk)
	}
	if k.Namespaced {
		return dyn.Resource(k.GroupVersionResource()).Namespace(namespace), k, nil
	}
	return dyn.Resource(k.GroupVersionResource()), k, nil
}

// toUnstructured converts a typed object for the dynamic client, leaving out
// the fields an apply configuration must not state.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

// apply writes obj to the host with server-side apply as [FieldManager].
// With force, fields another manager set are taken over.
func apply(ctx context.Context, dyn dynamic.Interface, obj deploy.Object, force bool) error {
	ri, k, err := resourceFor(dyn, obj, obj.GetNamespace())
	if err != nil {
		return err
	}
	u, err := toUnstructured(obj)
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", k.Kind, describeName(obj), err)
	}
	if _, err := ri.Apply(ctx, obj.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: force}); err != nil {
		return fmt.Errorf("applying %s %s: %w", k.Kind, describeName(obj), err)
	}
	return nil
}

func describeName(obj metav1.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

// belongsTo reports whether a host object's labels say it is virtual cluster
// r's. Cluster-scoped objects must also name r's host namespace.
func belongsTo(l map[string]string, r deploy.Ref, namespaced bool) bool {
	if l[translate.LabelManagedBy] != translate.ManagedBy || l[translate.KeyVCluster] != translate.LabelValue(r.Name) {
		return false
	}
	return namespaced || l[deploy.LabelHostNamespace] == translate.LabelValue(r.Namespace)
}

// checkOwnership refuses to apply over host objects that exist and are not
// virtual cluster r's: a user's Secret that happens to carry a name kubicle
// wants, or another tool's ClusterRole.
func checkOwnership(ctx context.Context, dyn dynamic.Interface, r deploy.Ref, objs []deploy.Object) error {
	var errs []error
	for _, obj := range objs {
		ri, k, err := resourceFor(dyn, obj, obj.GetNamespace())
		if err != nil {
			return err
		}
		got, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s %s: %w", k.Kind, describeName(obj), err)
		}
		if !belongsTo(got.GetLabels(), r, k.Namespaced) {
			errs = append(errs, fmt.Errorf("%s %s exists and does not belong to virtual cluster %s", k.Kind, describeName(obj), r))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("refusing to overwrite host objects: %w", errors.Join(errs...))
	}
	return nil
}

// hostObject is one host object of a virtual cluster.
type hostObject struct {
	Kind deploy.Kind
	Obj  *unstructured.Unstructured
}

// listOwned lists the host objects of virtual cluster r, kind by kind in
// deploy.DeletionOrder, each with its Kind.Selector; namespaced kinds only in
// r's namespace. Kinds the host does not serve (beta APIs that are off) are
// skipped.
func listOwned(ctx context.Context, dyn dynamic.Interface, r deploy.Ref) ([]hostObject, error) {
	var out []hostObject
	for _, k := range deploy.DeletionOrder() {
		list, err := listKind(ctx, dyn, k, r.Namespace, k.Selector(r))
		if err != nil {
			return nil, err
		}
		for i := range list {
			out = append(out, hostObject{Kind: k, Obj: &list[i]})
		}
	}
	return out, nil
}

// listKind lists objects of kind k matching sel; namespaced kinds in
// namespace only. A kind the host does not serve gives no objects.
func listKind(ctx context.Context, dyn dynamic.Interface, k deploy.Kind, namespace string, sel labels.Selector) ([]unstructured.Unstructured, error) {
	var ri dynamic.ResourceInterface = dyn.Resource(k.GroupVersionResource())
	if k.Namespaced {
		ri = dyn.Resource(k.GroupVersionResource()).Namespace(namespace)
	}
	list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if apierrors.IsNotFound(err) || isNotServed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", k, err)
	}
	return list.Items, nil
}

// isNotServed reports an error that says the host has no such resource.
func isNotServed(err error) bool {
	return err != nil && (apierrors.IsMethodNotSupported(err) ||
		strings.Contains(err.Error(), "the server could not find the requested resource"))
}

// foreignObjects returns up to max objects in namespace that kubicle manages
// for a virtual cluster other than name.
func foreignObjects(ctx context.Context, dyn dynamic.Interface, namespace, name string, limit int) ([]string, error) {
	managed, _ := labels.NewRequirement(translate.LabelManagedBy, selection.Equals, []string{translate.ManagedBy})
	other, _ := labels.NewRequirement(translate.KeyVCluster, selection.NotEquals, []string{translate.LabelValue(name)})
	has, _ := labels.NewRequirement(translate.KeyVCluster, selection.Exists, nil)
	sel := labels.NewSelector().Add(*managed, *has, *other)
	var found []string
	for _, k := range deploy.DeletionOrder() {
		if !k.Namespaced {
			continue
		}
		items, err := listKind(ctx, dyn, k, namespace, sel)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			found = append(found, fmt.Sprintf("%s %s (virtual cluster %q)", k.Kind, it.GetName(), it.GetLabels()[translate.KeyVCluster]))
			if len(found) >= limit {
				return found, nil
			}
		}
	}
	return found, nil
}

// deleteOwned deletes every host object of virtual cluster r in
// deploy.DeletionOrder, the namespace only when deleteNamespace, and waits
// until none is left (a namespace takes a few seconds to finalise) or
// timeout passes.
func deleteOwned(ctx context.Context, dyn dynamic.Interface, r deploy.Ref, deleteNamespace bool, timeout time.Duration, p *progress) error {
	nsDeleted, err := deleteObjects(ctx, dyn, r, deleteNamespace, p)
	if err != nil {
		return err
	}
	// Objects with finalizers (the namespace, pods on a slow node) go away a
	// little later; "nothing left" is the promise, so wait for it.
	w := p.waiter("host objects to go away")
	deadline := time.Now().Add(timeout)
	for {
		left, err := remaining(ctx, dyn, r, nsDeleted)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("host objects of %s still there after %s: %s", r, timeout, strings.Join(left, ", "))
		}
		w.still(strings.Join(first(left, 5), ", "))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// deleteObjects asks the host to delete every host object of virtual
// cluster r in deploy.DeletionOrder, the namespace only when
// deleteNamespace, and does not wait for them to go. It reports whether it
// deleted the namespace.
func deleteObjects(ctx context.Context, dyn dynamic.Interface, r deploy.Ref, deleteNamespace bool, p *progress) (nsDeleted bool, err error) {
	background := metav1.DeletePropagationBackground
	counts := map[string]int{}
	var order []string
	for _, k := range deploy.DeletionOrder() {
		if k.Kind == "Namespace" && !deleteNamespace {
			continue
		}
		items, err := listKind(ctx, dyn, k, r.Namespace, k.Selector(r))
		if err != nil {
			return false, err
		}
		for _, it := range items {
			nsDeleted = nsDeleted || k.Kind == "Namespace"
			if it.GetDeletionTimestamp() != nil {
				continue // asked before; it is on its way
			}
			ri := dyn.Resource(k.GroupVersionResource())
			var rc dynamic.ResourceInterface = ri
			if k.Namespaced {
				rc = ri.Namespace(it.GetNamespace())
			}
			err := rc.Delete(ctx, it.GetName(), metav1.DeleteOptions{PropagationPolicy: &background})
			if err != nil && !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("deleting %s %s: %w", k.Kind, describeName(&it), err)
			}
			if counts[k.Kind] == 0 {
				order = append(order, k.Kind)
			}
			counts[k.Kind]++
		}
	}
	if len(order) > 0 {
		parts := make([]string, len(order))
		for i, k := range order {
			parts[i] = fmt.Sprintf("%d %s", counts[k], k)
		}
		p.done("Deleted host objects: %s", strings.Join(parts, ", "))
	}
	return nsDeleted, nil
}

// remaining names the host objects of r that still exist. When the
// namespace is being deleted, what is inside goes with it, so only the
// namespace and cluster-scoped objects are checked.
func remaining(ctx context.Context, dyn dynamic.Interface, r deploy.Ref, nsDeleted bool) ([]string, error) {
	var left []string
	for _, k := range deploy.DeletionOrder() {
		if (k.Kind == "Namespace" && !nsDeleted) || (k.Namespaced && nsDeleted) {
			continue
		}
		items, err := listKind(ctx, dyn, k, r.Namespace, k.Selector(r))
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			left = append(left, k.Kind+" "+describeName(&it))
		}
	}
	return left, nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
