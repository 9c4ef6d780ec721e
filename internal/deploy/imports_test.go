package deploy

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps Render pure: the package's non-test files may import
// only the standard library, k8s.io/api, k8s.io/apimachinery,
// sigs.k8s.io/yaml, the VirtualCluster API and package translate (itself
// pure), so no client, controller or control-plane code can creep in.
func TestImports(t *testing.T) {
	t.Parallel()
	allowed := []string{
		"k8s.io/api/", "k8s.io/apimachinery/", "sigs.k8s.io/yaml",
		"kubicle.dev/kubicle/pkg/apis/", "kubicle.dev/kubicle/internal/syncer/translate",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
	next:
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if !strings.Contains(first, ".") {
				continue // standard library
			}
			for _, a := range allowed {
				if path == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(path, a)) {
					continue next
				}
			}
			t.Errorf("%s imports %s; deploy may import only %s and the standard library", name, path, strings.Join(allowed, ", "))
		}
	}
}
