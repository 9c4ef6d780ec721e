package translate

import (
	"errors"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestLabelValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", 64)
	for _, tc := range []struct {
		name, in string
		hashed   bool
	}{
		{"plain", "default", false},
		{"empty", "", false},
		{"uid", "4f1c1b5e-8d6a-4f0e-9a57-2d3c8f1b6e2a", false},
		{"63 characters", long[:63], false},
		{"64 characters", long, true},
		{"subdomain name longer than a label value", strings.Repeat("a.", 40) + "b", true},
		{"invalid characters", "a/b", true},
		{"trailing dot", "a.", true},
		{"looks hashed", "sha256-0123", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := LabelValue(tc.in)
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
				t.Fatalf("LabelValue(%q) = %q, invalid: %v", tc.in, got, errs)
			}
			if hashed := got != tc.in; hashed != tc.hashed {
				t.Errorf("LabelValue(%q) = %q, hashed %v, want %v", tc.in, got, hashed, tc.hashed)
			}
			if tc.hashed && (!strings.HasPrefix(got, hashedValuePrefix) || len(got) != len(hashedValuePrefix)+40) {
				t.Errorf("LabelValue(%q) = %q, want sha256- and 40 hex digits", tc.in, got)
			}
		})
	}
	// A value that looks like another value's hash is hashed itself.
	h := LabelValue(long)
	if LabelValue(h) == h {
		t.Errorf("LabelValue(%q) kept a hash-shaped value", h)
	}
}

func TestMarkers(t *testing.T) {
	t.Parallel()
	longName := strings.Repeat("cm.", 30) + "x"
	for _, tc := range []struct {
		name            string
		id              Identity
		wantLabels      map[string]string
		wantAnnotations map[string]string
	}{
		{
			name: "namespaced",
			id:   Identity{VCluster: "vc1", Namespace: "default", Name: "web", UID: "uid-1"},
			wantLabels: map[string]string{
				LabelManagedBy: "kubicle", KeyVCluster: "vc1", KeyNamespace: "default", KeyName: "web", KeyUID: "uid-1",
			},
			wantAnnotations: map[string]string{KeyVCluster: "vc1", KeyNamespace: "default", KeyName: "web", KeyUID: "uid-1"},
		},
		{
			name:            "cluster-scoped without uid",
			id:              Identity{VCluster: "vc1", Name: "high"},
			wantLabels:      map[string]string{LabelManagedBy: "kubicle", KeyVCluster: "vc1", KeyName: "high"},
			wantAnnotations: map[string]string{KeyVCluster: "vc1", KeyName: "high"},
		},
		{
			name: "long name hashed in the label",
			id:   Identity{VCluster: "vc1", Namespace: "ns", Name: longName},
			wantLabels: map[string]string{
				LabelManagedBy: "kubicle", KeyVCluster: "vc1", KeyNamespace: "ns", KeyName: LabelValue(longName),
			},
			wantAnnotations: map[string]string{KeyVCluster: "vc1", KeyNamespace: "ns", KeyName: longName},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, a := Markers(tc.id)
			if !maps.Equal(l, tc.wantLabels) {
				t.Errorf("labels = %v, want %v", l, tc.wantLabels)
			}
			if !maps.Equal(a, tc.wantAnnotations) {
				t.Errorf("annotations = %v, want %v", a, tc.wantAnnotations)
			}
			for k, v := range l {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Errorf("label %s=%q invalid: %v", k, v, errs)
				}
			}
		})
	}
}

func managedObject(id Identity) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: id.HostName(DNSSubdomain), Namespace: "host-ns",
		Labels: map[string]string{"app": "x"}}}
	SetMarkers(cm, id)
	return cm
}

func TestIsManaged(t *testing.T) {
	t.Parallel()
	id := Identity{VCluster: "vc1", Namespace: "default", Name: "web", UID: "u1"}
	for _, tc := range []struct {
		name string
		obj  metav1.Object
		vc   string
		want bool
	}{
		{"managed", managedObject(id), "vc1", true},
		{"other virtual cluster", managedObject(id), "vc2", false},
		{"no markers", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, "vc1", false},
		{"nil interface", nil, "vc1", false},
		{"nil pointer", (*corev1.ConfigMap)(nil), "vc1", false},
		{"managed by someone else", with(managedObject(id), func(o *corev1.ConfigMap) { o.Labels[LabelManagedBy] = "helm" }), "vc1", false},
		{"annotation missing", with(managedObject(id), func(o *corev1.ConfigMap) { delete(o.Annotations, KeyVCluster) }), "vc1", false},
		{"label disagrees", with(managedObject(id), func(o *corev1.ConfigMap) { o.Labels[KeyVCluster] = "vc2" }), "vc1", false},
		{"long virtual cluster name", managedObject(Identity{VCluster: strings.Repeat("v", 70), Name: "n"}), strings.Repeat("v", 70), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IsManaged(tc.obj, tc.vc); got != tc.want {
				t.Errorf("IsManaged = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVirtualIdentity(t *testing.T) {
	t.Parallel()
	ids := []Identity{
		{VCluster: "vc1", Namespace: "default", Name: "web", UID: "u1"},
		{VCluster: "vc1", Name: "cluster-scoped"},
		{VCluster: "vc1", Namespace: "ns", Name: strings.Repeat("long.", 50) + "name", UID: "u2"},
	}
	for _, id := range ids {
		t.Run("round trip "+id.String(), func(t *testing.T) {
			t.Parallel()
			got, err := VirtualIdentity(managedObject(id))
			if err != nil {
				t.Fatal(err)
			}
			if got != id {
				t.Errorf("VirtualIdentity = %+v, want %+v", got, id)
			}
		})
	}
	base := Identity{VCluster: "vc1", Namespace: "default", Name: "web", UID: "u1"}
	for _, tc := range []struct {
		name string
		obj  metav1.Object
	}{
		{"nil", nil},
		{"nil pointer", (*corev1.Pod)(nil)},
		{"no markers", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}}}},
		{"no managed-by", with(managedObject(base), func(o *corev1.ConfigMap) { delete(o.Labels, LabelManagedBy) })},
		{"no vcluster annotation", with(managedObject(base), func(o *corev1.ConfigMap) { delete(o.Annotations, KeyVCluster) })},
		{"no name annotation", with(managedObject(base), func(o *corev1.ConfigMap) { delete(o.Annotations, KeyName) })},
		{"empty name annotation", with(managedObject(base), func(o *corev1.ConfigMap) { o.Annotations[KeyName] = "" })},
		{"namespace label tampered", with(managedObject(base), func(o *corev1.ConfigMap) { o.Labels[KeyNamespace] = "kube-system" })},
		{"namespace annotation tampered", with(managedObject(base), func(o *corev1.ConfigMap) { o.Annotations[KeyNamespace] = "kube-system" })},
		{"namespace label without annotation", with(managedObject(base), func(o *corev1.ConfigMap) { delete(o.Annotations, KeyNamespace) })},
		{"uid tampered", with(managedObject(base), func(o *corev1.ConfigMap) { o.Labels[KeyUID] = "u2" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := VirtualIdentity(tc.obj)
			if !errors.Is(err, ErrNotManaged) {
				t.Errorf("VirtualIdentity error = %v, want ErrNotManaged", err)
			}
		})
	}
}

func TestSetMarkersOverwritesForgedValues(t *testing.T) {
	t.Parallel()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Labels:      map[string]string{KeyVCluster: "other", "keep": "me"},
		Annotations: map[string]string{KeyName: "forged"},
	}}
	SetMarkers(cm, Identity{VCluster: "vc1", Namespace: "ns", Name: "real"})
	if cm.Labels[KeyVCluster] != "vc1" || cm.Annotations[KeyName] != "real" || cm.Labels["keep"] != "me" {
		t.Errorf("SetMarkers: labels %v annotations %v", cm.Labels, cm.Annotations)
	}
}

func TestManagedSelector(t *testing.T) {
	t.Parallel()
	sel := ManagedSelector("vc1")
	for _, tc := range []struct {
		name string
		id   Identity
		want bool
	}{
		{"own", Identity{VCluster: "vc1", Namespace: "a", Name: "b"}, true},
		{"other", Identity{VCluster: "vc2", Namespace: "a", Name: "b"}, false},
	} {
		l, _ := Markers(tc.id)
		if got := sel.Matches(labels.Set(l)); got != tc.want {
			t.Errorf("%s: ManagedSelector(vc1).Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
	if sel.Matches(labels.Set{KeyVCluster: "vc1"}) {
		t.Error("ManagedSelector matches an object without managed-by")
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u"}}
	id := IdentityOf("vc", pod)
	if want := (Identity{VCluster: "vc", Namespace: "ns", Name: "p", UID: "u"}); id != want {
		t.Errorf("IdentityOf = %+v, want %+v", id, want)
	}
	if id.String() != "vc/ns/p" || (Identity{VCluster: "vc", Name: "c"}).String() != "vc/c" {
		t.Errorf("String = %q", id.String())
	}
	if id.HostName(DNSLabel) != HostName("vc", "ns", "p", DNSLabel) {
		t.Errorf("Identity.HostName differs from HostName")
	}
}

func with[T any](v T, f func(T)) T {
	f(v)
	return v
}
