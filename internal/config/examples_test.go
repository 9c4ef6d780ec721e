package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// examplesDir holds the example configs of the docs, relative to this package.
const examplesDir = "../../docs/examples"

// TestExamples loads every example config in the docs, so that none can rot.
func TestExamples(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		names = append(names, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			if _, err := LoadFile(filepath.Join(examplesDir, e.Name())); err != nil {
				t.Error(err)
			}
		})
	}
	for _, want := range []string{"minimal.yaml", "postgres.yaml", "gpu-dedicated.yaml"} {
		if !slices.Contains(names, want) {
			t.Errorf("docs/examples has no %s (has %s)", want, strings.Join(names, ", "))
		}
	}
}

// TestExamplesSayWhatTheyShow checks that each example still shows what its
// comments promise.
func TestExamplesSayWhatTheyShow(t *testing.T) {
	t.Parallel()
	load := func(name string) *v1alpha1.VirtualCluster {
		t.Helper()
		vc, err := LoadFile(filepath.Join(examplesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return vc
	}

	if vc := load("minimal.yaml"); vc.Namespace != "vc-demo" ||
		vc.Spec.ControlPlane.BackingStore.Type != v1alpha1.BackingStoreSQLite ||
		vc.Spec.ExportKubeConfig.SecretName != "demo-kubeconfig" {
		t.Errorf("minimal.yaml: namespace %q, store %q, secret %q", vc.Namespace,
			vc.Spec.ControlPlane.BackingStore.Type, vc.Spec.ExportKubeConfig.SecretName)
	}

	pg := load("postgres.yaml")
	if db := pg.Spec.ControlPlane.BackingStore.Database; db == nil || db.Driver != v1alpha1.DatabasePostgres ||
		db.DSNSecretRef == nil || db.DSNSecretRef.Name == "" {
		t.Errorf("postgres.yaml does not show a control plane on a database from a Secret: %+v", pg.Spec.ControlPlane)
	}

	gpu := load("gpu-dedicated.yaml")
	iso := gpu.Spec.Isolation
	q, ok := iso.ResourceQuota["requests.nvidia.com/gpu"]
	if iso.Mode != v1alpha1.IsolationDedicated || len(iso.NodeSelector) == 0 || !ok || q.Value() == 0 {
		t.Errorf("gpu-dedicated.yaml does not show a dedicated pool with a GPU quota: %+v", iso)
	}
}
