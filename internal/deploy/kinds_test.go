package deploy

import (
	"bytes"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	resourcev1 "k8s.io/api/resource/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// hostScheme knows every kind that DeletionOrder lists.
func hostScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme, networkingv1.AddToScheme,
		discoveryv1.AddToScheme, resourcev1.AddToScheme, schedulingv1beta1.AddToScheme, coordinationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestRoundTrip encodes every rendered object with the scheme, decodes it
// strictly and checks that nothing was lost or changed.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	scheme := hostScheme(t)
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, format := range []struct {
				name string
				yaml bool
			}{{"json", false}, {"yaml", true}} {
				ser := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
					json.SerializerOptions{Yaml: format.yaml, Strict: true})
				for _, obj := range render(t, c) {
					gvk := obj.GetObjectKind().GroupVersionKind()
					what := format.name + " " + gvk.Kind + " " + obj.GetName()
					if gvks, _, err := scheme.ObjectKinds(obj); err != nil || len(gvks) != 1 || gvks[0] != gvk {
						t.Errorf("%s: apiVersion/kind %v, scheme says %v (%v)", what, gvk, gvks, err)
					}
					var buf bytes.Buffer
					if err := ser.Encode(obj, &buf); err != nil {
						t.Fatalf("%s: encoding: %v", what, err)
					}
					decoded, gotGVK, err := ser.Decode(buf.Bytes(), nil, nil)
					if err != nil {
						t.Fatalf("%s: decoding: %v\n%s", what, err, buf.Bytes())
					}
					if *gotGVK != gvk {
						t.Errorf("%s: decoded as %v", what, *gotGVK)
					}
					if !equality.Semantic.DeepEqual(obj, decoded) {
						t.Errorf("%s: changed by a round trip:\n%s", what, buf.Bytes())
					}
					var again bytes.Buffer
					if err := ser.Encode(decoded, &again); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(buf.Bytes(), again.Bytes()) {
						t.Errorf("%s: encodes differently after a round trip", what)
					}
				}
			}
		})
	}
}

// TestDeletionOrder checks the kinds list: each kind known to the scheme
// under its resource name, each once, every rendered kind present, and the
// order's fixed points.
func TestDeletionOrder(t *testing.T) {
	t.Parallel()
	scheme := hostScheme(t)
	order := DeletionOrder()
	seen := map[string]bool{}
	for _, k := range order {
		if !scheme.Recognizes(k.GroupVersionKind) {
			t.Errorf("%v: unknown to the scheme", k.GroupVersionKind)
		}
		if plural, _ := meta.UnsafeGuessKindToResource(k.GroupVersionKind); plural.Resource != k.Resource {
			t.Errorf("%v: resource %q, want %q", k.GroupVersionKind, k.Resource, plural.Resource)
		}
		if seen[k.String()] {
			t.Errorf("%s listed twice", k)
		}
		seen[k.String()] = true
	}
	if order[0] != kindStatefulSet {
		t.Errorf("first %s, want the control plane's StatefulSet, so nothing is resynced", order[0])
	}
	if last := order[len(order)-1]; last != kindNamespace {
		t.Errorf("last %s, want the Namespace", last)
	}
	index := func(k Kind) int {
		for i, o := range order {
			if o == k {
				return i
			}
		}
		return -1
	}
	for _, pair := range [][2]Kind{
		{kindPod, kindResourceQuota}, {kindPod, kindNetworkPolicy}, {kindPod, kindPVC},
		{kindPod, kindResourceClaim}, {kindStatefulSet, kindRole}, {kindRoleBinding, kindRole},
		{kindClusterBinding, kindClusterRole}, {kindRole, kindServiceAccount},
	} {
		if index(pair[0]) > index(pair[1]) {
			t.Errorf("%s is deleted after %s", pair[0], pair[1])
		}
	}
	for _, c := range goldenCases() {
		for _, obj := range render(t, c) {
			kindOf(t, obj)
		}
	}
	// A new slice each time.
	DeletionOrder()[0] = Kind{}
	if DeletionOrder()[0] != kindStatefulSet {
		t.Error("DeletionOrder returns shared state")
	}
}
