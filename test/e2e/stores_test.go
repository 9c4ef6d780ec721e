package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// The TestStore tests run one scenario against every backing store: start
// `kubicle control-plane`, create a namespace, a ConfigMap and a Deployment, kill -9,
// restart, and find the same objects with the same UIDs. Each also checks that the
// objects are where that store keeps them, so a store that silently fell back to
// SQLite fails.

// TestStoreSQLite runs the scenario on the default store.
func TestStoreSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cp := storeScenario(t)
	if info, err := os.Stat(filepath.Join(cp.DataDir, "db", "state.db")); err != nil || info.Size() == 0 {
		t.Fatalf("no SQLite database in the data directory: %v", err)
	}
}

// TestStoreEmbeddedEtcd runs the scenario on an etcd member inside the control plane,
// then checks that its recorded peer port is reused and that a taken one is reported.
func TestStoreEmbeddedEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cp := storeScenario(t, "--store", "embedded-etcd")
	if _, err := os.Stat(filepath.Join(cp.DataDir, "etcd", "member", "wal")); err != nil {
		t.Fatalf("no etcd data in the data directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cp.DataDir, "db", "state.db")); err == nil {
		t.Fatal("an SQLite database was created next to the etcd store")
	}
	if took := cp.Stop(30 * time.Second); took > 15*time.Second {
		t.Fatalf("SIGTERM took %s to stop the control plane", took)
	}
	if _, err := cp.Exited(); err != nil {
		t.Fatalf("control plane exited with %v after SIGTERM:\n%s", err, cp.Tail(20))
	}

	peerFile := filepath.Join(cp.DataDir, "etcd-peer-url")
	peer := strings.TrimPrefix(strings.TrimSpace(readFile(t, peerFile)), "http://")
	ln, err := net.Listen("tcp", peer)
	if err != nil {
		t.Fatalf("the recorded peer port %s is still taken after the control plane stopped: %v", peer, err)
	}
	start := time.Now()
	res := testenv.Run(t, time.Minute, nil, testenv.Kubicle(t), "control-plane", "--data-dir", cp.DataDir, "--store", "embedded-etcd")
	_ = ln.Close()
	wantError(t, res, fmt.Sprintf("Error: starting store (embedded etcd in %s): peer address %s is in use by another process "+
		"(the port was picked on the first start and is kept in %s): stop that process, or delete the file to pick a new port",
		filepath.Join(cp.DataDir, "etcd"), peer, peerFile))
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the error took %s", took)
	}
}

// TestStoreExternalEtcd runs the scenario on an etcd outside the control plane, over
// TLS with a client certificate. The endpoint and the key prefix come from the config
// (spec.controlPlane.backingStore.externalEtcd), the TLS files from flags, as the
// lifecycle CLI passes them.
func TestStoreExternalEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	etcd := testenv.StartEtcd(t, testenv.EtcdOptions{TLS: true})
	config := filepath.Join(t.TempDir(), "vc.yaml")
	writeTestFile(t, config, fmt.Sprintf(`apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: stores
  namespace: team-a
spec:
  controlPlane:
    backingStore:
      type: externalEtcd
      externalEtcd:
        endpoints: [%q]
        prefix: /kubicle/team-a/stores
`, etcd.Endpoint))
	storeScenario(t, "--config", config, "--etcd-cafile", etcd.CAFile, "--etcd-certfile", etcd.CertFile, "--etcd-keyfile", etcd.KeyFile)

	keys := etcd.Keys(t, "/")
	for _, want := range []string{
		"/kubicle/team-a/stores/configmaps/stores/settings",
		"/kubicle/team-a/stores/deployments/stores/web",
		"/kubicle/team-a/stores/namespaces/stores",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("etcd has no key %s", want)
		}
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "/kubicle/team-a/stores/") {
			t.Errorf("key %s is outside the configured prefix", k)
			break
		}
	}
}

// TestStorePostgres runs the scenario on a real PostgreSQL server through kine.
func TestStorePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and PostgreSQL")
	}
	pg := testenv.StartPostgres(t)
	pg.CreateDatabase(t, "kubicle")
	cp := storeScenario(t, "--datastore-endpoint", pg.DSN("kubicle"))

	rows := pg.Query(t, "kubicle", `SELECT DISTINCT name FROM kine WHERE deleted = 0 AND name IN `+
		`('/registry/configmaps/stores/settings', '/registry/deployments/stores/web', '/registry/namespaces/stores') ORDER BY name`)
	if want := "/registry/configmaps/stores/settings\n/registry/deployments/stores/web\n/registry/namespaces/stores"; rows != want {
		t.Fatalf("rows in PostgreSQL:\n%s\nwant:\n%s\nrows naming stores:\n%s", rows, want,
			pg.Query(t, "kubicle", `SELECT name, deleted FROM kine WHERE name LIKE '%stores%'`))
	}
	if _, err := os.Stat(filepath.Join(cp.DataDir, "db", "state.db")); err == nil {
		t.Fatal("an SQLite database was created next to the PostgreSQL store")
	}
}

// storeScenario starts a control plane with args, creates a namespace, a ConfigMap
// and a Deployment (and waits for its ReplicaSet), kills the control plane with
// SIGKILL, restarts it and requires the same objects with the same UIDs.
func storeScenario(t *testing.T, args ...string) *testenv.ControlPlane {
	t.Helper()
	cp := testenv.StartControlPlane(t, "", args...)
	cp.Kubectl(t, "create", "namespace", "stores")
	cp.Kubectl(t, "-n", "stores", "create", "configmap", "settings", "--from-literal=color=blue")
	cp.Kubectl(t, "-n", "stores", "create", "deployment", "web", "--image=nginx", "--replicas=2")
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		rs := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", cp.Kubeconfig, "-n", "stores", "get", "rs", "-o", "name").Stdout
		return len(strings.Fields(rs)) == 1, "replica sets: " + rs
	})

	before := storeSnapshot(t, cp)
	cp.Kill()
	cp.Restart(t)
	if after := storeSnapshot(t, cp); after != before {
		t.Fatalf("objects changed across kill -9 and restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if !strings.Contains(before, "settings") || !strings.Contains(before, "color=blue") {
		t.Fatalf("snapshot lacks the ConfigMap:\n%s", before)
	}
	return cp
}

// storeSnapshot lists the scenario's objects by kind, name and UID, and the
// ConfigMap's data.
func storeSnapshot(t *testing.T, cp *testenv.ControlPlane) string {
	t.Helper()
	columns := "custom-columns=KIND:.kind,NAME:.metadata.name,UID:.metadata.uid"
	return cp.Kubectl(t, "get", "namespace/stores", "-o", columns) +
		cp.Kubectl(t, "-n", "stores", "get", "configmap/settings", "deployment/web", "-o", columns) +
		cp.Kubectl(t, "-n", "stores", "get", "replicasets", "-o", columns) +
		cp.Kubectl(t, "-n", "stores", "get", "configmap/settings", "-o", "go-template=color={{.data.color}}")
}

// TestStoreBadInput checks that a store that cannot be used fails with one clear
// line, a non-zero exit and quickly, instead of an API server that never gets ready.
func TestStoreBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the control plane")
	}
	kubicle := testenv.Kubicle(t)
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	run := func(t *testing.T, args ...string) testenv.Result {
		t.Helper()
		start := time.Now()
		res := testenv.Run(t, time.Minute, nil, kubicle, append([]string{"control-plane", "--data-dir", t.TempDir()}, args...)...)
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("took %s to fail", took)
		}
		return res
	}

	t.Run("unreachable external etcd", func(t *testing.T) {
		addr := closedPort()
		res := run(t, "--etcd-servers", "http://"+addr)
		wantError(t, res, "Error: starting store: external etcd http://"+addr+" does not answer: connection refused\n")
	})

	t.Run("external etcd with the wrong CA", func(t *testing.T) {
		etcd := testenv.StartEtcd(t, testenv.EtcdOptions{TLS: true})
		other := testenv.StartEtcd(t, testenv.EtcdOptions{TLS: true}) // another CA
		res := run(t, "--store", "external-etcd", "--etcd-servers", etcd.Endpoint,
			"--etcd-cafile", other.CAFile, "--etcd-certfile", etcd.CertFile, "--etcd-keyfile", etcd.KeyFile)
		wantError(t, res, "Error: starting store: external etcd "+etcd.Endpoint+
			" does not answer: tls: failed to verify certificate: x509: certificate signed by unknown authority")
	})

	t.Run("database on the wrong port", func(t *testing.T) {
		addr := closedPort()
		res := run(t, "--datastore-endpoint", "postgres://kubicle:s3cret@"+addr+"/kubicle?sslmode=disable")
		wantError(t, res, "Error: starting store (database postgres://kubicle:xxxxx@"+addr+"/kubicle): cannot connect: connection refused\n")
		if strings.Contains(res.Stdout+res.Stderr, "s3cret") {
			t.Fatalf("the password was printed: %s", res)
		}
	})

	t.Run("database store without a DSN", func(t *testing.T) {
		config := filepath.Join(t.TempDir(), "vc.yaml")
		writeTestFile(t, config, `apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: stores
  namespace: team-a
spec:
  controlPlane:
    backingStore:
      type: database
      database:
        driver: postgres
        dsnSecretRef:
          name: team-a-db
`)
		res := run(t, "--config", config)
		wantError(t, res, "Error: --store database needs --datastore-endpoint, the data source name (e.g. postgres://user:pass@host:5432/db); "+
			"kubicle create reads it from the Secret named by spec.controlPlane.backingStore.database.dsnSecretRef\n")
	})

	t.Run("embedded etcd with a damaged database", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "etcd", "member", "snap", "db")
		if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
			t.Fatal(err)
		}
		garbage := strings.Repeat("this is not an etcd database\n", 1000)
		writeTestFile(t, db, garbage)
		res := testenv.Run(t, time.Minute, nil, kubicle, "control-plane", "--data-dir", dir, "--store", "embedded-etcd")
		etcdDir := filepath.Join(dir, "etcd")
		wantError(t, res, "Error: starting store (embedded etcd in "+etcdDir+"): database "+db+" is damaged: invalid database; restore "+
			etcdDir+" from a backup (etcdutl snapshot restore), or move it away to start empty\n")
		if readFile(t, db) != garbage {
			t.Fatal("the damaged database was modified")
		}
	})

	t.Run("embedded etcd with a damaged WAL", func(t *testing.T) {
		dir := t.TempDir()
		wal := filepath.Join(dir, "etcd", "member", "wal", "0000000000000000-0000000000000000.wal")
		if err := os.MkdirAll(filepath.Dir(wal), 0o700); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, wal, strings.Repeat("\x01\x02\x03 not a write-ahead log\n", 1000))
		res := testenv.Run(t, time.Minute, nil, kubicle, "control-plane", "--data-dir", dir, "--store", "embedded-etcd")
		etcdDir := filepath.Join(dir, "etcd")
		wantError(t, res, "Error: starting store (embedded etcd in "+etcdDir+"): etcd cannot start from its data: ")
		if !strings.HasSuffix(strings.TrimSpace(res.Stderr), "; restore "+etcdDir+" from a backup (etcdutl snapshot restore), or move it away to start empty") {
			t.Fatalf("no advice at the end of the error: %s", res)
		}
		if strings.Contains(res.Stderr, "goroutine ") {
			t.Fatalf("a stack trace instead of an error: %s", res)
		}
	})
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
