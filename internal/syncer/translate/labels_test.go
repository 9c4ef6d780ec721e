package translate

import (
	"maps"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestIsReservedKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"app", false},
		{"app.kubernetes.io/name", false},
		{"app.kubernetes.io/managed-by", true},
		{"kubicle.dev/vcluster", true},
		{"kubicle.dev/anything", true},
		{"sub.kubicle.dev/x", true},
		{"Kubicle.Dev/x", true},
		{"notkubicle.dev/x", false},
		{"kubicle.dev.example.com/x", false},
		{"kueue.x-k8s.io/queue-name", true},
		{"kueue.x-k8s.io/priority-class", true},
		{"kueue.x-k8s.io/admission", true},
		{"kubicle.dev", false}, // no prefix: an unprefixed key named "kubicle.dev"
		{"example.com/kubicle.dev", false},
	} {
		if got := IsReservedKey(tc.key); got != tc.want {
			t.Errorf("IsReservedKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestEscapeKey(t *testing.T) {
	t.Parallel()
	longPrefix := strings.Repeat("a", 240) + ".kubicle.dev"
	for _, tc := range []struct {
		key, want  string
		reversible bool
	}{
		{"app", "app", true},
		{"example.com/team", "example.com/team", true},
		{"kubicle.dev/vcluster", "kubicle.dev.tenant.kubicle.dev/vcluster", true},
		{"kueue.x-k8s.io/queue-name", "kueue.x-k8s.io.tenant.kubicle.dev/queue-name", true},
		{"app.kubernetes.io/managed-by", "app.kubernetes.io.tenant.kubicle.dev/managed-by", true},
		// An attempt to write an escaped key directly is escaped again.
		{"kubicle.dev.tenant.kubicle.dev/vcluster", "kubicle.dev.tenant.kubicle.dev.tenant.kubicle.dev/vcluster", true},
		{"team.tenant.kubicle.dev/x", "team.tenant.kubicle.dev.tenant.kubicle.dev/x", true},
		{longPrefix + "/x", "", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			got := EscapeKey(tc.key)
			if tc.want != "" && got != tc.want {
				t.Errorf("EscapeKey(%q) = %q, want %q", tc.key, got, tc.want)
			}
			if errs := validation.IsQualifiedName(got); len(errs) > 0 && len(validation.IsQualifiedName(tc.key)) == 0 {
				t.Errorf("EscapeKey(%q) = %q, not a valid key: %v", tc.key, got, errs)
			}
			back, ok := UnescapeKey(got)
			if ok != tc.reversible || (ok && back != tc.key) {
				t.Errorf("UnescapeKey(%q) = %q, %v; want %q, %v", got, back, ok, tc.key, tc.reversible)
			}
			if IsReservedKey(tc.key) && isMarkerKey(got) {
				t.Errorf("EscapeKey(%q) = marker key %q", tc.key, got)
			}
		})
	}
}

func TestUnescapeKeyRejectsHostKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []string{
		KeyVCluster, KeyName, LabelManagedBy, KeyPodToken,
		"kueue.x-k8s.io/queue-name",                     // set by the host
		"team.tenant.kubicle.dev/x",                     // "team/x" is never escaped
		"h0123.hashed.kubicle.dev/x",                    // hashed escapes cannot be reversed
		".tenant.kubicle.dev/x", "tenant.kubicle.dev/x", // no original prefix
	} {
		if got, ok := UnescapeKey(k); ok {
			t.Errorf("UnescapeKey(%q) = %q, true; want false", k, got)
		}
	}
}

// TestHostLabelsHijack checks that a tenant cannot set kubicle's markers,
// claim another virtual cluster or namespace, or pick its host queue.
func TestHostLabelsHijack(t *testing.T) {
	t.Parallel()
	id := Identity{VCluster: "vc1", Namespace: "team-a", Name: "web-0", UID: "u1"}
	virtual := map[string]string{
		"app":                       "web",
		KeyVCluster:                 "vc2",
		KeyNamespace:                "kube-system",
		KeyName:                     "other",
		LabelManagedBy:              "helm",
		"kueue.x-k8s.io/queue-name": "vip-queue",
		"kubicle.dev.tenant.kubicle.dev/vcluster": "nested",
	}
	got := HostLabels(id, virtual)
	want := map[string]string{
		"app":          "web",
		LabelManagedBy: "kubicle",
		KeyVCluster:    "vc1",
		KeyNamespace:   "team-a",
		KeyName:        "web-0",
		KeyUID:         "u1",
		"kubicle.dev.tenant.kubicle.dev/vcluster":                    "vc2",
		"kubicle.dev.tenant.kubicle.dev/namespace":                   "kube-system",
		"kubicle.dev.tenant.kubicle.dev/name":                        "other",
		"app.kubernetes.io.tenant.kubicle.dev/managed-by":            "helm",
		"kueue.x-k8s.io.tenant.kubicle.dev/queue-name":               "vip-queue",
		"kubicle.dev.tenant.kubicle.dev.tenant.kubicle.dev/vcluster": "nested",
	}
	if !maps.Equal(got, want) {
		t.Errorf("HostLabels =\n%v\nwant\n%v", got, want)
	}
	if back := VirtualLabels(got); !maps.Equal(back, virtual) {
		t.Errorf("VirtualLabels(HostLabels(l)) = %v, want %v", back, virtual)
	}
}

func TestVirtualLabels(t *testing.T) {
	t.Parallel()
	host := map[string]string{
		"app":                       "web",
		"pod-template-hash":         "abc", // added by a host controller
		LabelManagedBy:              "kubicle",
		KeyVCluster:                 "vc1",
		"kueue.x-k8s.io/queue-name": "host-queue", // decided by the host
		"kueue.x-k8s.io.tenant.kubicle.dev/queue-name": "tenant-queue",
	}
	want := map[string]string{"app": "web", "pod-template-hash": "abc", "kueue.x-k8s.io/queue-name": "tenant-queue"}
	if got := VirtualLabels(host); !maps.Equal(got, want) {
		t.Errorf("VirtualLabels = %v, want %v", got, want)
	}
	if got := VirtualLabels(map[string]string{KeyVCluster: "vc1"}); got != nil {
		t.Errorf("VirtualLabels(markers only) = %v, want nil", got)
	}
}

func TestHostAnnotations(t *testing.T) {
	t.Parallel()
	id := Identity{VCluster: "vc1", Namespace: "ns", Name: "n"}
	got := HostAnnotations(id, map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": "{...}",
		"kubernetes.io/config.mirror":                      "abc",
		"kubectl.kubernetes.io/default-container":          "main",
		KeyName:                   "forged",
		"kueue.x-k8s.io/workload": "w",
	})
	want := map[string]string{
		"kubectl.kubernetes.io/default-container":    "main",
		"kubicle.dev.tenant.kubicle.dev/name":        "forged",
		"kueue.x-k8s.io.tenant.kubicle.dev/workload": "w",
		KeyVCluster:  "vc1",
		KeyNamespace: "ns",
		KeyName:      "n",
	}
	if !maps.Equal(got, want) {
		t.Errorf("HostAnnotations = %v, want %v", got, want)
	}
	wantBack := map[string]string{
		"kubectl.kubernetes.io/default-container": "main",
		KeyName:                   "forged",
		"kueue.x-k8s.io/workload": "w",
	}
	if back := VirtualAnnotations(got); !maps.Equal(back, wantBack) {
		t.Errorf("VirtualAnnotations = %v, want %v", back, wantBack)
	}
}

// FuzzEscapeKey checks that EscapeKey is injective, never yields a marker
// or another reserved key that the host owns, and that UnescapeKey inverts
// it.
func FuzzEscapeKey(f *testing.F) {
	for _, s := range [][2]string{
		{"kubicle.dev/vcluster", "kubicle.dev.tenant.kubicle.dev/vcluster"},
		{"app.kubernetes.io/managed-by", "app.kubernetes.io.tenant.kubicle.dev/managed-by"},
		{"kueue.x-k8s.io/queue-name", "queue-name"},
		{"a.tenant.kubicle.dev/x", "a/x"},
		{strings.Repeat("a", 240) + ".kubicle.dev/x", strings.Repeat("a", 239) + ".kubicle.dev/x"},
		{"app", "app"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := EscapeKey(a), EscapeKey(b)
		if a != b && ea == eb {
			t.Fatalf("EscapeKey(%q) = EscapeKey(%q) = %q", a, b, ea)
		}
		for _, k := range []struct{ in, out string }{{a, ea}, {b, eb}} {
			if isMarkerKey(k.out) || k.out == KeyPodToken || k.out == "kueue.x-k8s.io/queue-name" {
				t.Fatalf("EscapeKey(%q) = host-owned key %q", k.in, k.out)
			}
			if IsReservedKey(k.in) && !IsReservedKey(k.out) {
				t.Fatalf("EscapeKey(%q) = %q left the reserved domain", k.in, k.out)
			}
			if back, ok := UnescapeKey(k.out); ok && back != k.in {
				t.Fatalf("UnescapeKey(EscapeKey(%q)) = %q", k.in, back)
			}
		}
	})
}
