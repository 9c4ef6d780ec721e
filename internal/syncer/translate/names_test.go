package translate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

type ident struct{ vc, ns, name string }

func (i ident) String() string { return fmt.Sprintf("(vc=%q ns=%q name=%q)", i.vc, i.ns, i.name) }

var formats = []Format{DNSSubdomain, DNSLabel}

func TestHostNameReadable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   ident
		f    Format
		want string
	}{
		{ident{"vc1", "default", "web"}, DNSSubdomain, "web-x-default-x-vc1"},
		{ident{"vc1", "default", "web"}, DNSLabel, "web-x-default-x-vc1"},
		{ident{"vc1", "kube-system", "kube-root-ca.crt"}, DNSSubdomain, "kube-root-ca.crt-x-kube-system-x-vc1"},
		{ident{"team-a", "ml", "trainer-0"}, DNSSubdomain, "trainer-0-x-ml-x-team-a"},
		{ident{"vc1", "", "high-priority"}, DNSSubdomain, "high-priority-x-vc1"},
		{ident{"vc1", "", "high"}, DNSLabel, "high-x-vc1"},
		// 'x' is fine inside a part, just not as a whole dash-separated word.
		{ident{"box", "xx", "x1"}, DNSSubdomain, "x1-x-xx-x-box"},
		{ident{"vc", "ns-xa", "ax-b"}, DNSSubdomain, "ax-b-x-ns-xa-x-vc"},
		{ident{"vc", "ns", "a.x.b"}, DNSSubdomain, "a.x.b-x-ns-x-vc"},
		// Exactly 63 characters still fits a label.
		{ident{"vc", "ns", strings.Repeat("a", 63-len("-x-ns-x-vc"))}, DNSLabel, strings.Repeat("a", 63-len("-x-ns-x-vc")) + "-x-ns-x-vc"},
		// Digits may start a subdomain.
		{ident{"vc", "ns", "0-job"}, DNSSubdomain, "0-job-x-ns-x-vc"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			if got := HostName(tc.id.vc, tc.id.ns, tc.id.name, tc.f); got != tc.want {
				t.Errorf("HostName%v %v = %q, want %q", tc.id, tc.f, got, tc.want)
			}
		})
	}
}

func TestHostNameHashed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("abcdefghij", 30)
	for _, tc := range []struct {
		name       string
		id         ident
		f          Format
		wantPrefix string
	}{
		{"too long for a label", ident{"vc", "ns", strings.Repeat("a", 60)}, DNSLabel, strings.Repeat("a", 45)},
		{"too long for a subdomain", ident{"vc", "ns", long[:250]}, DNSSubdomain, long[:235]},
		{"name contains the separator", ident{"vc", "c", "a-x-b"}, DNSSubdomain, "a-x-b-x-c-x-vc"},
		{"namespace contains the separator", ident{"vc", "b-x-c", "a"}, DNSSubdomain, "a-x-b-x-c-x-vc"},
		{"name ends with -x", ident{"vc", "b", "a-x"}, DNSSubdomain, "a-x-x-b-x-vc"},
		{"namespace starts with x-", ident{"vc", "x-b", "a"}, DNSSubdomain, "a-x-x-b-x-vc"},
		{"part is x", ident{"x", "ns", "a"}, DNSSubdomain, "a-x-ns-x-x"},
		{"name contains --", ident{"vc", "ns", "a--b"}, DNSSubdomain, "a--b-x-ns-x-vc"},
		{"name looks hashed", ident{"vc", "ns", "web--abcdefghijklmnop"}, DNSSubdomain, "web--abcdefghijklmnop-x-ns-x-vc"},
		{"dots are not allowed in labels", ident{"vc", "ns", "a.b"}, DNSLabel, "a-b-x-ns-x-vc"},
		{"labels start with a letter", ident{"vc", "ns", "0-job"}, DNSLabel, "job-x-ns-x-vc"},
		{"upper case", ident{"vc", "ns", "Web"}, DNSSubdomain, "web-x-ns-x-vc"},
		{"empty name", ident{"vc", "ns", ""}, DNSSubdomain, "x-ns-x-vc"},
		{"leading junk", ident{"", "", "..."}, DNSLabel, "x-"},
		{"non-ascii", ident{"vc", "ns", "café"}, DNSSubdomain, "caf---x-ns-x-vc"},
		{"trailing dash", ident{"vc", "ns", "a-"}, DNSSubdomain, "a--x-ns-x-vc"},
		{"cluster-scoped too long", ident{"vc", "", strings.Repeat("p", 70)}, DNSLabel, strings.Repeat("p", 45)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := HostName(tc.id.vc, tc.id.ns, tc.id.name, tc.f)
			assertValid(t, got, tc.f)
			prefix, sum, ok := cutLast(got, hashMarker)
			if !ok || len(sum) != digestLen {
				t.Fatalf("HostName%v = %q, want hashed form <prefix>--<%d chars>", tc.id, got, digestLen)
			}
			if prefix != tc.wantPrefix {
				t.Errorf("HostName%v prefix = %q, want %q", tc.id, prefix, tc.wantPrefix)
			}
			if again := HostName(tc.id.vc, tc.id.ns, tc.id.name, tc.f); again != got {
				t.Errorf("HostName is not deterministic: %q then %q", got, again)
			}
		})
	}
}

// TestHostNameCrafted checks identities built to collide under naive
// schemes.
func TestHostNameCrafted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b ident
	}{
		{"separator moved from namespace into name", ident{"vc", "c", "a-x-b"}, ident{"vc", "b-x-c", "a"}},
		{"separator moved from vc into namespace", ident{"b-x-c", "ns", "a"}, ident{"c", "ns-x-b", "a"}},
		{"overlapping separators", ident{"vc", "x-b", "a"}, ident{"vc", "b", "a-x"}},
		{"x as a part", ident{"vc", "x", "a"}, ident{"vc", "", "a-x-x"}},
		{"namespaced vs cluster-scoped", ident{"c", "b", "a"}, ident{"c", "", "a-x-b"}},
		{"namespaced vs cluster-scoped vc", ident{"b-x-c", "", "a"}, ident{"c", "b", "a"}},
		{"name equal to another's host name", ident{"vc", "ns", "web-x-ns-x-vc"}, ident{"vc", "ns", "web"}},
		{"name equal to another's hashed host name", ident{"vc", "ns", HostName("vc", "ns", "a-x-b", DNSSubdomain)}, ident{"vc", "ns", "a-x-b"}},
		{"vc looks hashed", ident{"v--aaaaaaaaaaaaaaaa", "ns", "a"}, ident{"aaaaaaaaaaaaaaaa", "ns", "a-x-ns-x-v"}},
		{"same truncation, different tail", ident{"vc", "ns", strings.Repeat("a", 80) + "1"}, ident{"vc", "ns", strings.Repeat("a", 80) + "2"}},
		{"case folding", ident{"vc", "ns", "Web"}, ident{"vc", "ns", "web"}},
		{"dot vs dash", ident{"vc", "ns", "a.b"}, ident{"vc", "ns", "a-b"}},
		{"empty namespace vs none", ident{"vc", "", "a"}, ident{"vc", "ns", "a"}},
		{"length prefix matters", ident{"ab", "c", "--"}, ident{"a", "bc", "--"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, f := range formats {
				ha := HostName(tc.a.vc, tc.a.ns, tc.a.name, f)
				hb := HostName(tc.b.vc, tc.b.ns, tc.b.name, f)
				if ha == hb {
					t.Errorf("%v: %v and %v both map to %q", f, tc.a, tc.b, ha)
				}
				assertValid(t, ha, f)
				assertValid(t, hb, f)
			}
		})
	}
}

// TestHostNameExhaustive checks every identity over a small alphabet that is
// rich in separators, dots and dashes for collisions, within and across the
// namespaced and cluster-scoped forms.
func TestHostNameExhaustive(t *testing.T) {
	t.Parallel()
	words := allStrings("ax-.", 4)
	vcs := []string{"x", "a", "a-x", "x-a", "vc"}
	for _, f := range formats {
		seen := make(map[string]ident, len(words)*len(words)*len(vcs))
		check := func(id ident) {
			got := HostName(id.vc, id.ns, id.name, f)
			if prev, ok := seen[got]; ok {
				t.Fatalf("%v: %v and %v both map to %q", f, prev, id, got)
			}
			seen[got] = id
			checkName(t, id, got, f)
		}
		for _, vc := range vcs {
			for _, name := range words {
				check(ident{vc, "", name})
				for _, ns := range words {
					check(ident{vc, ns, name})
				}
			}
		}
	}
}

// TestHostNameRandom checks random identities, long and short, drawn from an
// alphabet that makes separators likely.
func TestHostNameRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		n := rng.IntN(8)
		if rng.IntN(10) == 0 {
			n = 50 + rng.IntN(250)
		}
		const alphabet = "axx--..0Z"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for _, f := range formats {
		seen := map[string]ident{}
		for range 100_000 {
			id := ident{word(), word(), word()}
			if rng.IntN(4) == 0 {
				id.ns = ""
			}
			got := HostName(id.vc, id.ns, id.name, f)
			if prev, ok := seen[got]; ok && prev != id {
				t.Fatalf("%v: %v and %v both map to %q", f, prev, id, got)
			}
			seen[got] = id
			checkName(t, id, got, f)
		}
	}
}

func TestPodTokenSecretName(t *testing.T) {
	t.Parallel()
	got := PodTokenSecretName("vc", "ns", "web-0")
	assertValid(t, got, DNSSubdomain)
	if !strings.HasPrefix(got, "web-0-token--") {
		t.Errorf("PodTokenSecretName = %q, want prefix web-0-token--", got)
	}
	if again := PodTokenSecretName("vc", "ns", "web-0"); again != got {
		t.Errorf("not deterministic: %q then %q", got, again)
	}
	// No tenant Secret name maps onto it, including the obvious attempts.
	for _, name := range []string{"web-0-token", got, "web-0"} {
		for _, ns := range []string{"ns", ""} {
			if h := HostName("vc", ns, name, DNSSubdomain); h == got {
				t.Errorf("HostName(vc, %q, %q) = token secret name %q", ns, name, got)
			}
		}
	}
	if other := PodTokenSecretName("vc", "ns2", "web-0"); other == got {
		t.Errorf("token secret names of different pods collide: %q", got)
	}
	long := PodTokenSecretName("vc", "ns", strings.Repeat("p", 253))
	assertValid(t, long, DNSSubdomain)
}

func TestNodeNames(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"node-1", "gpu-a100-7.example.com"} {
		if got := VirtualNodeName(n); got != n {
			t.Errorf("VirtualNodeName(%q) = %q", n, got)
		}
		if got := HostNodeName(n); got != n {
			t.Errorf("HostNodeName(%q) = %q", n, got)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	if DNSLabel.MaxLength() != 63 || DNSSubdomain.MaxLength() != 253 {
		t.Errorf("MaxLength: label %d, subdomain %d", DNSLabel.MaxLength(), DNSSubdomain.MaxLength())
	}
	if DNSLabel.String() != "DNSLabel" || DNSSubdomain.String() != "DNSSubdomain" {
		t.Errorf("String: %s, %s", DNSLabel, DNSSubdomain)
	}
	var zero Format
	if zero != DNSSubdomain {
		t.Errorf("zero Format is %s, want DNSSubdomain", zero)
	}
}

// FuzzHostName checks, for any two identities, that the names are valid and
// differ when the identities do, and that a readable name reads back as its
// identity. Plain `go test` runs the seeds.
func FuzzHostName(f *testing.F) {
	seeds := []struct {
		a, b  ident
		label bool
	}{
		{ident{"vc", "c", "a-x-b"}, ident{"vc", "b-x-c", "a"}, false},
		{ident{"vc", "x-b", "a"}, ident{"vc", "b", "a-x"}, true},
		{ident{"c", "b", "a"}, ident{"c", "", "a-x-b"}, false},
		{ident{"vc", "ns", "web-x-ns-x-vc"}, ident{"vc", "ns", "web"}, true},
		{ident{"v--aaaaaaaaaaaaaaaa", "ns", "a"}, ident{"aaaaaaaaaaaaaaaa", "ns", "a-x-ns-x-v"}, false},
		{ident{"vc", "ns", strings.Repeat("a", 300)}, ident{"vc", "ns", strings.Repeat("a", 299)}, false},
		{ident{"vc", "ns", "Web"}, ident{"vc", "ns", "web"}, true},
		{ident{"x", "x", "x"}, ident{"x-x", "", "x"}, false},
		{ident{"", "", ""}, ident{"", "", "-"}, true},
	}
	for _, s := range seeds {
		f.Add(s.a.vc, s.a.ns, s.a.name, s.b.vc, s.b.ns, s.b.name, s.label)
	}
	f.Fuzz(func(t *testing.T, vc1, ns1, n1, vc2, ns2, n2 string, label bool) {
		format := DNSSubdomain
		if label {
			format = DNSLabel
		}
		a, b := ident{vc1, ns1, n1}, ident{vc2, ns2, n2}
		ha := HostName(a.vc, a.ns, a.name, format)
		hb := HostName(b.vc, b.ns, b.name, format)
		checkName(t, a, ha, format)
		checkName(t, b, hb, format)
		if a != b && ha == hb {
			t.Fatalf("%v: %v and %v both map to %q", format, a, b, ha)
		}
		if a == b && ha != hb {
			t.Fatalf("%v: %v maps to %q and %q", format, a, ha, hb)
		}
		if ta, tb := PodTokenSecretName(a.vc, a.ns, a.name), PodTokenSecretName(b.vc, b.ns, b.name); a != b && ta == tb {
			t.Fatalf("token secret names of %v and %v collide: %q", a, b, ta)
		}
		if HostName(b.vc, b.ns, b.name, DNSSubdomain) == PodTokenSecretName(a.vc, a.ns, a.name) {
			t.Fatalf("HostName of %v equals the token secret name of %v", b, a)
		}
	})
}

// checkName asserts that got is a valid name for id and, when readable, that
// it reads back as id.
func checkName(t *testing.T, id ident, got string, f Format) {
	t.Helper()
	assertValid(t, got, f)
	if strings.Contains(got, hashMarker) {
		if _, sum, _ := cutLast(got, hashMarker); len(sum) != digestLen {
			t.Fatalf("HostName%v = %q: digest %q has %d characters, want %d", id, got, sum, len(sum), digestLen)
		}
		return
	}
	parts := strings.Split(got, separator)
	var back ident
	switch len(parts) {
	case 2:
		back = ident{parts[1], "", parts[0]}
	case 3:
		back = ident{parts[2], parts[1], parts[0]}
	default:
		t.Fatalf("HostName%v = %q: readable name with %d parts", id, got, len(parts))
	}
	if back != id {
		t.Fatalf("HostName%v = %q reads back as %v", id, got, back)
	}
}

func assertValid(t *testing.T, name string, f Format) {
	t.Helper()
	if !f.valid(name) || len(name) > f.MaxLength() {
		t.Fatalf("%q is not a valid %v", name, f)
	}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// allStrings returns every non-empty string over alphabet up to maxLen.
func allStrings(alphabet string, maxLen int) []string {
	out := []string{}
	level := []string{""}
	for range maxLen {
		var next []string
		for _, p := range level {
			for i := 0; i < len(alphabet); i++ {
				next = append(next, p+alphabet[i:i+1])
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

func TestPseudoNodeName(t *testing.T) {
	t.Parallel()
	a1, a2 := PseudoNodeName("a", "worker-1"), PseudoNodeName("a", "worker-1")
	if a1 != a2 || len(a1) != len("node-")+10 || !strings.HasPrefix(a1, "node-") {
		t.Errorf("PseudoNodeName(a, worker-1) = %q then %q: want one stable node-<10 hex>", a1, a2)
	}
	if b := PseudoNodeName("b", "worker-1"); b == a1 {
		t.Errorf("two virtual clusters call host node worker-1 %s alike", b)
	}
	if o := PseudoNodeName("a", "worker-2"); o == a1 {
		t.Errorf("two host nodes are both %s", o)
	}
}
