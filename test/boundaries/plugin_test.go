package boundaries

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestBinaryLinksNoPlugin keeps package plugin out of the kubicle binary. Linking it
// makes the Go linker export every symbol dynamically and keep every exported method
// of every reachable type; the control plane maps the whole binary, so that was about
// 45 MB more resident memory per control plane (docs/benchmarks.md).
func TestBinaryLinksNoPlugin(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", testenv.BuildTags,
		"-f", "{{.ImportPath}}|{{join .Imports \",\"}}", module+"cmd/kubicle").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, "|")
		if pkg == "plugin" {
			t.Errorf("the kubicle binary links package plugin")
		}
		for _, imp := range strings.Split(imports, ",") {
			if imp == "plugin" {
				t.Errorf("%s imports package plugin; drop it with a build tag or keep it out of cmd/kubicle", pkg)
			}
		}
	}

	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if want := "GO_TAGS := " + testenv.BuildTags + "\n"; !strings.Contains(string(makefile), want) {
		t.Errorf("the Makefile must build with the tags the harness uses: want the line %q", strings.TrimSpace(want))
	}
}
