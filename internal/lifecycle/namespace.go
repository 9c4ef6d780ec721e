package lifecycle

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// nsPlan is what Create found about the host namespace.
type nsPlan struct {
	// exists is true when the namespace was there before.
	exists bool
	// ours is true when kubicle created it for this virtual cluster.
	ours bool
}

// planNamespace checks that the host namespace may hold virtual cluster r:
// it is missing, or kubicle created it for r, or it holds nothing of another
// virtual cluster.
func planNamespace(ctx context.Context, h *Host, r deploy.Ref) (nsPlan, error) {
	ns, err := h.Client.CoreV1().Namespaces().Get(ctx, r.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nsPlan{}, nil
	}
	if err != nil {
		return nsPlan{}, fmt.Errorf("reading host namespace %s: %w", r.Namespace, err)
	}
	if ns.DeletionTimestamp != nil {
		return nsPlan{}, fmt.Errorf("host namespace %s is being deleted; try again once it is gone", r.Namespace)
	}
	l := ns.Labels
	if owner := l[translate.KeyVCluster]; owner != "" && l[translate.LabelManagedBy] == translate.ManagedBy && !belongsTo(l, r, false) {
		return nsPlan{}, fmt.Errorf("host namespace %s belongs to virtual cluster %q; choose another namespace with -n", r.Namespace, owner)
	}
	foreign, err := foreignObjects(ctx, h.Dynamic, r.Namespace, r.Name, 3)
	if err != nil {
		return nsPlan{}, err
	}
	if len(foreign) > 0 {
		return nsPlan{}, fmt.Errorf("host namespace %s holds objects of another virtual cluster (%s); a namespace holds one virtual cluster: choose another with -n",
			r.Namespace, strings.Join(foreign, ", "))
	}
	return nsPlan{exists: true, ours: belongsTo(l, r, false) && l[deploy.LabelCreatedNamespace] == "true"}, nil
}

// applyPodSecurityLabels puts the Pod Security labels of vc on a namespace
// that existed before, and nothing else, so that it is never deleted with
// the virtual cluster. It does not take labels over from another manager: a
// namespace whose Pod Security level someone else chose is an error to
// resolve, not to overwrite.
func applyPodSecurityLabels(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) error {
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: vc.Namespace, Labels: deploy.PodSecurityLabels(vc)},
	}
	err := apply(ctx, h.Dynamic, ns, false)
	if apierrors.IsConflict(err) {
		return fmt.Errorf("host namespace %s has Pod Security labels set by someone else that differ from spec.isolation.podSecurityStandard %q: %w",
			vc.Namespace, vc.Spec.Isolation.PodSecurityStandard, err)
	}
	return err
}

// releaseNamespace removes the labels kubicle applied to a namespace it did
// not create, or that it keeps (--keep-namespace): an apply with no labels
// drops the fields kubicle's field manager alone owns. A namespace that is
// gone or going is left alone (an apply would create it again).
func releaseNamespace(ctx context.Context, h *Host, name string) error {
	got, err := h.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && got.DeletionTimestamp != nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}
	if err := apply(ctx, h.Dynamic, ns, false); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing kubicle's labels from namespace %s: %w", name, err)
	}
	return nil
}
