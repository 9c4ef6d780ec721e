package boundaries

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "kubicle.dev/kubicle/"

// heavy are the import paths that pull in the embedded control plane. Each package that
// links them costs minutes of build and link time, and ties its code to one Kubernetes
// release, so only the control-plane packages and the commands that start them may.
var heavy = []string{"k8s.io/kubernetes/", "github.com/k3s-io/kine/", "sigs.k8s.io/kwok/"}

// mayImportHeavy are the only packages allowed to depend on heavy ones.
var mayImportHeavy = map[string]bool{
	"cmd/kubicle":               true,
	"cmd/kubicle-node":          true,
	"internal/app/node":         true,
	"internal/app":              true,
	"internal/app/controlplane": true,
	"internal/app/host":         true,
	"internal/app/kwok":         true,
	"internal/controlplane":     true,
	"internal/hostsim":          true,
	"hack/tools":                true,
}

// rules are other edges that must not exist: from a package prefix to an import prefix.
var rules = []struct{ from, to, why string }{
	{"internal/syncer", module + "internal/controlplane", "the control plane runs the syncer, never the other way round"},
	{"internal/syncer/translate", "k8s.io/client-go", "translation is pure: no clients"},
	{"internal/syncer/translate", "sigs.k8s.io/controller-runtime", "translation is pure: no clients"},
	{"pkg/apis", module + "internal/", "the public API must not depend on internals"},
	{"internal/config", "k8s.io/client-go", "config is data: no clients"},
	{"internal/memlimit", "k8s.io/", "memlimit is a leaf: the Go runtime and a metrics registry only"},
	{"cmd/kubicle", "k8s.io/kubernetes/cmd/kubelet", "the node agents live in kubicle-node: every control plane maps the kubicle binary"},
	{"cmd/kubicle", "k8s.io/kubernetes/cmd/kube-proxy", "the node agents live in kubicle-node: every control plane maps the kubicle binary"},
}

func TestImportBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", "{{.ImportPath}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %v", pkgs)
	}
	for _, pkg := range pkgs {
		rel := strings.TrimPrefix(pkg, module)
		deps := depsOf(t, pkg)
		if !mayImportHeavy[rel] {
			for _, d := range deps {
				for _, h := range heavy {
					if strings.HasPrefix(d, h) {
						t.Errorf("%s depends on %s; only %v may link the embedded control plane", rel, d, keys(mayImportHeavy))
					}
				}
			}
		}
		for _, r := range rules {
			if rel != r.from && !strings.HasPrefix(rel, r.from+"/") {
				continue
			}
			for _, d := range deps {
				if strings.HasPrefix(d, r.to) {
					t.Errorf("%s depends on %s: %s", rel, d, r.why)
				}
			}
		}
	}
}

func depsOf(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
