package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestLifecyclePostgres drives the lifecycle CLI with two virtual clusters
// side by side on the embedded host: a on the default SQLite store, b on a
// real PostgreSQL server (backing store "database", its DSN in a host
// Secret). Deleting a must leave no host object of a and must not disturb
// b, whose objects keep landing in PostgreSQL.
func TestLifecyclePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host, PostgreSQL and virtual control planes")
	}
	// First, so that a machine without PostgreSQL skips before anything starts
	// (StartPostgres fails instead when $CI is set).
	pg := testenv.StartPostgres(t)
	pg.CreateDatabase(t, "vc_b")

	kubicle, kubectl := testenv.Kubicle(t), testenv.Kubectl(t)
	host := testenv.StartHost(t)

	u := newKubicleUser(t, kubicle, host, "a", "b")
	dir, stateDir := u.dir, u.stateDir
	mustRun, list := u.mustRun, u.list
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	mustRun("create", "a", "--connect=false")

	// b's DSN lives in a Secret in its host namespace, created before b.
	host.Kubectl(t, "create", "namespace", "vc-b")
	host.Kubectl(t, "-n", "vc-b", "create", "secret", "generic", "b-db", "--from-literal=dsn="+pg.DSN("vc_b"))
	bFile := filepath.Join(dir, "b.yaml")
	write(bFile, `apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: b
  namespace: vc-b
spec:
  controlPlane:
    driver: process
    backingStore:
      type: database
      database:
        driver: postgres
        dsnSecretRef:
          name: b-db
`)
	res := mustRun("create", "b", "-f", bFile, "--connect=false")
	if !strings.Contains(res.Stderr, `Virtual cluster "b" is ready`) || !strings.Contains(res.Stderr, "Using existing host namespace vc-b") {
		t.Fatalf("create b -f b.yaml: %s", res)
	}
	if strings.Contains(res.Stderr, "127.0.0.1:"+strconv.Itoa(pg.Port)+"/vc_b") {
		t.Fatalf("create b printed the DSN: %s", res)
	}

	l := list()
	if a := l["a"]; a.Status != "Running" || a.BackingStore != "sqlite" {
		t.Fatalf("kubicle list shows a as %+v", a)
	}
	if b := l["b"]; b.Status != "Running" || b.BackingStore != "database" || b.HostNamespace != "vc-b" || b.Driver != "process" {
		t.Fatalf("kubicle list shows b as %+v", b)
	}

	// Both answer, each with its own objects.
	if out := mustRun("connect", "a", "--", kubectl, "get", "ns").Stdout; !strings.Contains(out, "kube-system") {
		t.Fatalf("connect a -- kubectl get ns:\n%s", out)
	}
	mustRun("connect", "b", "--", kubectl, "create", "namespace", "before-delete")
	inPostgres := func(key string) bool {
		t.Helper()
		return pg.Query(t, "vc_b", "SELECT count(*) FROM kine WHERE deleted = 0 AND name = '"+key+"'") != "0"
	}
	if !inPostgres("/registry/namespaces/before-delete") {
		t.Fatal("b's namespace before-delete is not in PostgreSQL: b does not use its database store")
	}

	// delete a: nothing labelled for a remains, the store of b is untouched.
	res = mustRun("delete", "a")
	if !strings.Contains(res.Stderr, "Deleted host namespace vc-a") {
		t.Fatalf("delete a: %s", res)
	}
	if got := labelled(t, host, "kubicle.dev/vcluster=a"); len(got) > 0 {
		t.Fatalf("host objects labelled for a after delete: %v", got)
	}

	// b keeps working: a new object lands in PostgreSQL, old ones are there.
	mustRun("connect", "b", "--", kubectl, "create", "configmap", "after-delete", "--from-literal=k=v")
	if out := mustRun("connect", "b", "--", kubectl, "get", "namespace/before-delete", "configmap/after-delete", "-o", "name").Stdout; !strings.Contains(out, "namespace/before-delete") || !strings.Contains(out, "configmap/after-delete") {
		t.Fatalf("b lost objects after a was deleted:\n%s", out)
	}
	if out := mustRun("connect", "b", "--", kubectl, "get", "configmap", "after-delete", "-o", "jsonpath={.data.k}").Stdout; out != "v" {
		t.Fatalf("configmap after-delete in b: %q", out)
	}
	if !inPostgres("/registry/configmaps/default/after-delete") {
		t.Fatal("b's configmap after-delete is not in PostgreSQL")
	}
	if l := list(); len(l) != 1 || l["b"].Status != "Running" {
		t.Fatalf("kubicle list after deleting a: %+v", l)
	}

	// delete b: its objects go, the namespace and DSN Secret it did not
	// create stay.
	res = mustRun("delete", "b")
	if !strings.Contains(res.Stderr, "Left host namespace vc-b") {
		t.Fatalf("delete b: %s", res)
	}
	if got := labelled(t, host, "app.kubernetes.io/managed-by=kubicle"); len(got) > 0 {
		t.Fatalf("kubicle objects left on the host after deleting every cluster: %v", got)
	}
	if out := host.Kubectl(t, "-n", "vc-b", "get", "secret", "b-db", "-o", "name"); strings.TrimSpace(out) != "secret/b-db" {
		t.Fatalf("delete b removed the user's DSN Secret: %q", out)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "vclusters", "kubicle-host", "vc-b")); !os.IsNotExist(err) {
		t.Fatalf("local state of b still there: %v", err)
	}
}
