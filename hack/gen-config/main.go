// Command gen-config writes the files generated from kubicle's config types:
// the JSON schema for editors (docs/schema/virtualcluster.schema.json), the
// CustomResourceDefinition (charts/kubicle/crds/kubicle.dev_virtualclusters.yaml)
// and the field reference (docs/config.md).
//
// Run it from anywhere inside the repository after changing the types in
// pkg/apis/kubicle/v1alpha1:
//
//	go run ./hack/gen-config
//
// A test in internal/config/schema fails while the committed files differ from
// what this command writes.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"kubicle.dev/kubicle/internal/config/schema"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen-config:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	files, err := schema.Files(root)
	if err != nil {
		return fmt.Errorf("generating: %w", err)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", p)
	}
	return nil
}

// moduleRoot returns the nearest directory at or above the working directory
// that holds a go.mod file.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}
