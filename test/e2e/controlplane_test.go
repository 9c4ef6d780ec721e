package e2e

import (
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestControlPlane drives `kubicle control-plane` with unmodified kubectl: the objects
// a user creates survive kill -9, and SIGTERM stops it within seconds.
func TestControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cp := testenv.StartControlPlane(t, "")

	version := cp.Kubectl(t, "version", "-o", "json")
	if !strings.Contains(version, `"gitVersion": "v1.37.2"`) {
		t.Fatalf("kubectl version does not report a v1.37.2 server:\n%s", version)
	}

	cp.Kubectl(t, "create", "namespace", "team-a")
	cp.Kubectl(t, "-n", "team-a", "create", "deployment", "web", "--image=nginx", "--replicas=3")
	cp.Kubectl(t, "apply", "-f", "testdata/crd.yaml")
	cp.Kubectl(t, "wait", "--for=condition=Established", "crd/trainingjobs.ml.example.com", "--timeout=60s")
	cp.Kubectl(t, "apply", "-f", "testdata/objects.yaml")

	// The controller manager turns the Deployment into a ReplicaSet and 3 Pods, which
	// stay Pending: a virtual cluster has no nodes of its own.
	waitPods := func() {
		testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
			out := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", cp.Kubeconfig,
				"-n", "team-a", "get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}").Stdout
			phases := strings.Fields(out)
			if len(phases) != 3 {
				return false, "pods: " + strings.Join(phases, ",")
			}
			for _, p := range phases {
				if p != "Pending" {
					return false, "pods: " + strings.Join(phases, ",")
				}
			}
			return true, ""
		})
	}
	waitPods()
	if rs := cp.Kubectl(t, "-n", "team-a", "get", "rs", "-l", "app=web", "-o", "name"); len(strings.Fields(rs)) != 1 {
		t.Fatalf("want one ReplicaSet, got %q", rs)
	}
	// RBAC is enforced: alice may list training jobs in team-a and nothing else.
	if got := cp.Kubectl(t, "auth", "can-i", "list", "trainingjobs.ml.example.com", "-n", "team-a", "--as", "alice"); strings.TrimSpace(got) != "yes" {
		t.Fatalf("alice should list trainingjobs: %q", got)
	}
	if res := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", cp.Kubeconfig, "auth", "can-i", "list", "pods", "-n", "team-a", "--as", "alice"); strings.TrimSpace(res.Stdout) != "no" {
		t.Fatalf("alice should not list pods: %s", res)
	}

	before := snapshot(t, cp)
	cp.Kill()
	cp.Restart(t)
	if after := snapshot(t, cp); after != before {
		t.Fatalf("objects changed across kill -9 and restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	waitPods()

	if took := cp.Stop(30 * time.Second); took > 15*time.Second {
		t.Fatalf("SIGTERM took %s to stop the control plane", took)
	}
	if _, err := cp.Exited(); err != nil {
		t.Fatalf("control plane exited with %v after SIGTERM:\n%s", err, cp.Tail(20))
	}
}

// snapshot lists the user's objects by name and UID, so that a restart that recreated
// any of them shows up as a difference.
func snapshot(t *testing.T, cp *testenv.ControlPlane) string {
	t.Helper()
	columns := "custom-columns=KIND:.kind,NAME:.metadata.name,UID:.metadata.uid"
	return cp.Kubectl(t, "get", "deployments,replicasets,pods,trainingjobs,roles,rolebindings", "-n", "team-a", "-o", columns, "--sort-by=.metadata.name") +
		cp.Kubectl(t, "get", "namespace/team-a", "crd/trainingjobs.ml.example.com", "-o", columns)
}

// TestControlPlaneBadInput checks that bad input fails with one clear error line and
// a non-zero exit, and that nothing is deleted.
func TestControlPlaneBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts control planes")
	}
	kubicle := testenv.Kubicle(t)

	t.Run("data dir under a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		res := testenv.Run(t, time.Minute, nil, kubicle, "control-plane", "--data-dir", filepath.Join(file, "data"))
		wantError(t, res, "Error: data directory "+filepath.Join(file, "data")+": not a directory")
		if data, _ := os.ReadFile(file); string(data) != "keep me" {
			t.Fatal("the file in the way was changed")
		}
	})

	t.Run("port in use", func(t *testing.T) {
		cp := testenv.StartControlPlane(t, "")
		addr := strings.TrimSpace(readFile(t, filepath.Join(cp.DataDir, "listen-address")))
		res := testenv.Run(t, time.Minute, nil, kubicle, "control-plane", "--data-dir", t.TempDir(), "--listen", addr)
		wantError(t, res, "Error: listening on "+addr+": address already in use")
	})

	t.Run("data dir in use", func(t *testing.T) {
		cp := testenv.StartControlPlane(t, "")
		res := testenv.Run(t, time.Minute, nil, kubicle, "control-plane", "--data-dir", cp.DataDir)
		wantError(t, res, "Error: data directory "+cp.DataDir+" is in use by another control plane (pid ")
		cp.Kubectl(t, "get", "ns", "default") // the first one is unharmed
	})

	t.Run("corrupt sqlite", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "db", "state.db")
		if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
			t.Fatal(err)
		}
		garbage := []byte(strings.Repeat("this is not an sqlite database\n", 400))
		if err := os.WriteFile(db, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		res := testenv.Run(t, 2*time.Minute, nil, kubicle, "control-plane", "--data-dir", dir)
		wantError(t, res, "Error: starting store (SQLite database "+db+"): ")
		if !strings.Contains(res.Stderr, "file is not a database") {
			t.Fatalf("error does not say what is wrong with the file: %s", res)
		}
		if got := readFile(t, db); got != string(garbage) {
			t.Fatal("the corrupt database file was modified")
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		res := testenv.Run(t, time.Minute, nil, kubicle, "control-plane", "--data-dir", t.TempDir(), "--listen", "nonsense", "--profile", "cloud")
		wantError(t, res, "Error: --listen \"nonsense\": address nonsense: missing port in address\n--profile \"cloud\": must be \"virtual\" or \"host\"")
	})
}

// wantError requires a non-zero exit and a last stderr line (or lines) starting with want.
func wantError(t *testing.T, res testenv.Result, want string) {
	t.Helper()
	if res.ExitCode == 0 {
		t.Fatalf("want failure, got %s", res)
	}
	idx := strings.LastIndex(res.Stderr, "Error: ")
	if idx < 0 || !strings.HasPrefix(res.Stderr[idx:], want) {
		t.Fatalf("want error starting %q, got %s", want, res)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestControlPlaneFromConfig starts `kubicle control-plane --config` with a config
// that turns the virtual scheduler on and adds names to the serving certificate,
// and checks both: the certificate the API server presents carries the extra names,
// and the scheduler acts on a pod (no nodes, so it marks the pod Unschedulable; a
// control plane without a scheduler leaves the pod untouched).
func TestControlPlaneFromConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	config := filepath.Join(t.TempDir(), "vc.yaml")
	if err := os.WriteFile(config, []byte(`apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: sched
spec:
  controlPlane:
    driver: process
    scheduler:
      enabled: true
    expose:
      extraSANs: [api.tenant.example.com, 10.9.8.7]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := testenv.StartControlPlane(t, "", "--config", config)

	u, err := url.Parse(testenv.RESTConfig(t, cp.Kubeconfig).Host)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true}) // only the certificate is read
	if err != nil {
		t.Fatal(err)
	}
	cert := conn.ConnectionState().PeerCertificates[0]
	_ = conn.Close()
	if !slices.Contains(cert.DNSNames, "api.tenant.example.com") {
		t.Errorf("serving certificate names %v, not api.tenant.example.com", cert.DNSNames)
	}
	if !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.String() == "10.9.8.7" }) {
		t.Errorf("serving certificate addresses %v, not 10.9.8.7", cert.IPAddresses)
	}

	cp.Kubectl(t, "run", "waiter", "--image=busybox", "--restart=Never")
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		out := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", cp.Kubeconfig, "get", "pod", "waiter",
			"-o", `jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}`).Stdout
		return strings.TrimSpace(out) == "Unschedulable", "PodScheduled reason: " + out
	})
}
