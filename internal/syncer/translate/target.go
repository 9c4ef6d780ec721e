package translate

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Target says where the host objects of one virtual cluster go.
type Target struct {
	// VCluster is the virtual cluster's name. Required.
	VCluster string
	// HostNamespace is the host namespace that holds the virtual cluster's
	// synced objects. Required.
	HostNamespace string
}

// Validate reports a missing field.
func (t Target) Validate() error {
	var errs []error
	if t.VCluster == "" {
		errs = append(errs, errors.New("vCluster: required"))
	}
	if t.HostNamespace == "" {
		errs = append(errs, errors.New("hostNamespace: required"))
	}
	return errors.Join(errs...)
}

// hostMeta returns the object metadata of the host object for virtual: host
// name in format f, the target's host namespace, escaped labels and
// annotations with the markers. Nothing else of the virtual metadata
// (owner references, finalizers, UID, resource version) means anything on
// the host.
func (t Target) hostMeta(virtual metav1.Object, f Format) metav1.ObjectMeta {
	id := IdentityOf(t.VCluster, virtual)
	return metav1.ObjectMeta{
		Name:        id.HostName(f),
		Namespace:   t.HostNamespace,
		Labels:      HostLabels(id, virtual.GetLabels()),
		Annotations: HostAnnotations(id, virtual.GetAnnotations()),
	}
}

// check validates the target and the virtual object's name and namespace.
func (t Target) check(kind string, virtual metav1.Object) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("translating %s: %w", kind, err)
	}
	if virtual.GetName() == "" || virtual.GetNamespace() == "" {
		return fmt.Errorf("translating %s %q in namespace %q: name and namespace are required", kind, virtual.GetName(), virtual.GetNamespace())
	}
	return nil
}
