package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Marker keys. Each is used both as a label key (value from [LabelValue])
// and as an annotation key (the value verbatim), except where noted.
const (
	// KeyVCluster names the virtual cluster a host object belongs to.
	KeyVCluster = "kubicle.dev/vcluster"
	// KeyNamespace names the virtual namespace; absent on host objects of
	// cluster-scoped virtual objects.
	KeyNamespace = "kubicle.dev/namespace"
	// KeyName names the virtual object.
	KeyName = "kubicle.dev/name"
	// KeyUID holds the virtual object's UID; absent when the UID is unknown.
	KeyUID = "kubicle.dev/uid"
	// KeyServiceAccount is an annotation on host pods holding the virtual
	// pod's service account name, which the downward API reads in place of
	// spec.serviceAccountName.
	KeyServiceAccount = "kubicle.dev/service-account"
	// KeyPodToken is a label, value "true", on the host Secrets that hold
	// pod service account tokens ([PodTokenSecret]).
	KeyPodToken = "kubicle.dev/pod-token"

	// LabelManagedBy is the well-known label that marks every host object
	// kubicle manages, with value [ManagedBy].
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of [LabelManagedBy] on kubicle's host objects.
	ManagedBy = "kubicle"
)

// hashedValuePrefix starts a label value that stands for a longer or
// invalid value; values that already start with it are hashed too, so the
// mapping stays injective.
const hashedValuePrefix = "sha256-"

// Identity names one virtual object.
type Identity struct {
	// VCluster is the name of the virtual cluster.
	VCluster string
	// Namespace is the virtual namespace, "" for a cluster-scoped object.
	Namespace string
	// Name is the virtual object's name.
	Name string
	// UID is the virtual object's UID; it may be empty before the object
	// is stored.
	UID types.UID
}

// IdentityOf returns the identity of a virtual object of virtual cluster vc.
func IdentityOf(vc string, virtual metav1.Object) Identity {
	return Identity{VCluster: vc, Namespace: virtual.GetNamespace(), Name: virtual.GetName(), UID: virtual.GetUID()}
}

// HostName returns the host name of the identity in format f; see the
// package-level [HostName].
func (id Identity) HostName(f Format) string {
	return HostName(id.VCluster, id.Namespace, id.Name, f)
}

// String returns "vc/namespace/name" (or "vc/name" when cluster-scoped).
func (id Identity) String() string {
	if id.Namespace == "" {
		return id.VCluster + "/" + id.Name
	}
	return id.VCluster + "/" + id.Namespace + "/" + id.Name
}

// LabelValue returns the label value kubicle stores for v: v itself when it
// is a valid label value that does not start with "sha256-", otherwise
// "sha256-" followed by 40 hex digits of the SHA-256 of v. The mapping is
// injective up to a 160-bit hash collision, and selectors built from it
// ([ServiceSelector], [ManagedSelector]) use the same encoding. The full
// value is always in the annotation of the same key.
func LabelValue(v string) string {
	if len(validation.IsValidLabelValue(v)) == 0 && !strings.HasPrefix(v, hashedValuePrefix) {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return hashedValuePrefix + hex.EncodeToString(sum[:20])
}

// Markers returns the labels and annotations that identify the host object
// of a virtual object: [LabelManagedBy], [KeyVCluster], [KeyNamespace]
// (namespaced objects only), [KeyName] and [KeyUID] (when known). Labels
// hold [LabelValue] encodings, annotations the values themselves.
func Markers(id Identity) (labels, annotations map[string]string) {
	labels = map[string]string{
		LabelManagedBy: ManagedBy,
		KeyVCluster:    LabelValue(id.VCluster),
		KeyName:        LabelValue(id.Name),
	}
	annotations = map[string]string{
		KeyVCluster: id.VCluster,
		KeyName:     id.Name,
	}
	if id.Namespace != "" {
		labels[KeyNamespace] = LabelValue(id.Namespace)
		annotations[KeyNamespace] = id.Namespace
	}
	if id.UID != "" {
		labels[KeyUID] = LabelValue(string(id.UID))
		annotations[KeyUID] = string(id.UID)
	}
	return labels, annotations
}

// SetMarkers adds the [Markers] of id to obj, replacing any values already
// stored under the marker keys.
func SetMarkers(obj metav1.Object, id Identity) {
	l, a := Markers(id)
	obj.SetLabels(merge(obj.GetLabels(), l))
	obj.SetAnnotations(merge(obj.GetAnnotations(), a))
}

// ManagedSelector selects the host objects of virtual cluster vc; use it to
// list or watch them.
func ManagedSelector(vc string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy, KeyVCluster: LabelValue(vc)})
}

// IsManaged reports whether a host object belongs to virtual cluster vc: it
// carries the managed-by marker and the virtual cluster label and annotation
// of vc. The syncer must never touch a host object for which this is false.
func IsManaged(obj metav1.Object, vc string) bool {
	if isNil(obj) {
		return false
	}
	l, a := obj.GetLabels(), obj.GetAnnotations()
	got, ok := a[KeyVCluster]
	return l[LabelManagedBy] == ManagedBy && ok && got == vc && l[KeyVCluster] == LabelValue(vc)
}

// ErrNotManaged is returned (wrapped) by [VirtualIdentity] for a host object
// that kubicle does not manage.
var ErrNotManaged = errors.New("not managed by kubicle")

// VirtualIdentity reads the identity of the virtual object behind a host
// object from its markers. It fails, wrapping [ErrNotManaged], when the
// managed-by label, the virtual cluster or the name is missing, or when a
// label disagrees with its annotation (a tampered object).
//
// Host Secrets holding pod tokens carry the identity of their pod; check
// [IsPodTokenSecret] before treating a host Secret as a synced Secret.
func VirtualIdentity(host metav1.Object) (Identity, error) {
	if isNil(host) {
		return Identity{}, fmt.Errorf("nil object: %w", ErrNotManaged)
	}
	if host.GetLabels()[LabelManagedBy] != ManagedBy {
		return Identity{}, fmt.Errorf("host object %s/%s: label %s is not %q: %w", host.GetNamespace(), host.GetName(), LabelManagedBy, ManagedBy, ErrNotManaged)
	}
	var id Identity
	for _, m := range []struct {
		key      string
		required bool
		into     *string
	}{
		{KeyVCluster, true, &id.VCluster},
		{KeyNamespace, false, &id.Namespace},
		{KeyName, true, &id.Name},
	} {
		v, err := marker(host, m.key, m.required)
		if err != nil {
			return Identity{}, err
		}
		*m.into = v
	}
	uid, err := marker(host, KeyUID, false)
	if err != nil {
		return Identity{}, err
	}
	id.UID = types.UID(uid)
	return id, nil
}

// marker reads one marker annotation and checks its label.
func marker(host metav1.Object, key string, required bool) (string, error) {
	v, ok := host.GetAnnotations()[key]
	lv, lok := host.GetLabels()[key]
	switch {
	case !ok && !lok && !required:
		return "", nil
	case !ok || v == "":
		return "", fmt.Errorf("host object %s/%s: annotation %s missing: %w", host.GetNamespace(), host.GetName(), key, ErrNotManaged)
	case !lok || lv != LabelValue(v):
		return "", fmt.Errorf("host object %s/%s: label %s does not match annotation %q: %w", host.GetNamespace(), host.GetName(), key, v, ErrNotManaged)
	}
	return v, nil
}

// isNil reports whether obj is nil or a nil pointer in an interface.
func isNil(obj metav1.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// merge returns a copy of base with over's entries set on top; nil when both
// are empty.
func merge(base, over map[string]string) map[string]string {
	if len(base)+len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
