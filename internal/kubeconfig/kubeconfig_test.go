package kubeconfig

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestMergeKeepsOtherEntriesAndRemoveCleansUp(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "config")
	mine := New("prod", Credentials{Server: "https://prod:6443", Token: "secret"})
	if err := WriteFile(path, mine); err != nil {
		t.Fatal(err)
	}
	host := New("kubicle-host", Credentials{Server: "https://127.0.0.1:1234", CAData: []byte("ca"), CertData: []byte("c"), KeyData: []byte("k")})
	if err := Merge(path, host, "kubicle-host", false); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, path)
	if cfg.CurrentContext != "prod" {
		t.Fatalf("merge without setCurrent changed the current context to %q", cfg.CurrentContext)
	}
	if cfg.Clusters["kubicle-host"].Server != "https://127.0.0.1:1234" || cfg.AuthInfos["prod"].Token != "secret" {
		t.Fatalf("merged config lost entries: %+v", cfg)
	}
	if err := Merge(path, host, "kubicle-host", true); err != nil {
		t.Fatal(err)
	}
	if cfg := load(t, path); cfg.CurrentContext != "kubicle-host" {
		t.Fatalf("merge with setCurrent: current context %q", cfg.CurrentContext)
	}
	if err := Remove(path, "kubicle-host"); err != nil {
		t.Fatal(err)
	}
	cfg = load(t, path)
	if _, ok := cfg.Contexts["kubicle-host"]; ok || cfg.CurrentContext != "" || cfg.Contexts["prod"] == nil {
		t.Fatalf("after remove: current %q, contexts %v", cfg.CurrentContext, cfg.Contexts)
	}
	if err := Remove(filepath.Join(t.TempDir(), "absent"), "x"); err != nil {
		t.Fatalf("removing from a missing file: %v", err)
	}
}

func TestMergeIntoMissingFileAndBadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := New("a", Credentials{Server: "https://a"})
	if err := Merge(filepath.Join(dir, "new"), src, "a", false); err != nil {
		t.Fatal(err)
	}
	if cfg := load(t, filepath.Join(dir, "new")); cfg.CurrentContext != "a" {
		t.Fatalf("first context in a new file should become current, got %q", cfg.CurrentContext)
	}
	if err := Merge(filepath.Join(dir, "new"), src, "missing", false); err == nil {
		t.Fatal("merging a context the source lacks must fail")
	}
}

func load(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestEditLeavesNoLockAndWaitsForKubectlsLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config")
	if err := Merge(path, New("a", Credentials{Server: "https://a"}), "a", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
		t.Fatalf("lock file left behind (kubectl would refuse to write): %v", err)
	}
	if err := Merge(path, New("b", Credentials{Server: "https://b"}), "b", false); err != nil {
		t.Fatal(err)
	}
	if ok, err := UseContext(path, "b"); !ok || err != nil {
		t.Fatalf("UseContext(b) = %v, %v", ok, err)
	}
	if ok, _ := UseContext(path, "missing"); ok {
		t.Fatal("UseContext of a missing context reported success")
	}
	if cfg := load(t, path); cfg.CurrentContext != "b" {
		t.Fatalf("current context %q", cfg.CurrentContext)
	}
	// A lock held by another writer (kubectl) makes the edit wait, then go ahead.
	if err := os.WriteFile(path+".lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		os.Remove(path + ".lock")
	}()
	start := time.Now()
	if err := Remove(path, "a"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("edit did not wait for the other writer's lock")
	}
}
