package e2e

import (
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// listEntry is the part of `kubicle list -o json` the test reads.
type listEntry struct {
	Name, HostNamespace, Status, Driver, BackingStore, KubernetesVersion, Context string
	// Reason says why Status is not Running.
	Reason string
}

// TestLifecycle drives the lifecycle CLI like a user on the embedded host:
// create, list, connect, describe and delete virtual clusters whose control
// planes run as local processes, and checks what the host holds afterwards.
func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and virtual control planes")
	}
	kubicle, kubectl := testenv.Kubicle(t), testenv.Kubectl(t)
	host := testenv.StartHost(t)

	u := newKubicleUser(t, kubicle, host, "a", "b", "p")
	dir, userConfig, stateDir, env := u.dir, u.userConfig, u.stateDir, u.env
	run, mustRun, list := u.run, u.mustRun, u.list

	t.Run("unreachable host", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		dead := filepath.Join(dir, "dead-kubeconfig")
		config := "apiVersion: v1\nkind: Config\nclusters: [{name: dead, cluster: {server: https://" + addr + "}}]\n" +
			"users: [{name: dead, user: {token: x}}]\ncontexts: [{name: dead, context: {cluster: dead, user: dead}}]\ncurrent-context: dead\n"
		if err := os.WriteFile(dead, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		res := run("create", "x", "--kubeconfig", dead)
		want := "host cluster https://" + addr + ` (context "dead") is unreachable: dial tcp ` + addr + ": connect: connection refused"
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
			t.Fatalf("create against a dead host must fail naming the server and the cause (%q): %s", want, res)
		}
	})

	nsBefore := hostNames(t, host, "namespaces")

	// create a: a process-driven control plane, its context made current.
	res := mustRun("create", "a")
	if !strings.Contains(res.Stderr, `Virtual cluster "a" is ready`) || !strings.Contains(res.Stderr, "driver process") {
		t.Fatalf("create a does not say it is ready with driver process: %s", res)
	}
	// Ready means usable: a pod is accepted at once (its service account and root
	// CA exist), with no retry, and the syncer takes it to the host.
	kubectlOut(t, env, kubectl, "run", "first", "--image=busybox", "--restart=Never")
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		out := host.Kubectl(t, "-n", "vc-a", "get", "pods", "-o", "name")
		return strings.Contains(out, "first"), "host pods in vc-a: " + out
	})
	kubectlOut(t, env, kubectl, "delete", "pod", "first", "--wait=false")
	const ctxA = "kubicle_a_vc-a_kubicle-host"
	if cur := kubectlOut(t, env, kubectl, "config", "current-context"); cur != ctxA {
		t.Fatalf("current context after create a: %q, want %q", cur, ctxA)
	}
	if got := list()["a"]; got != (listEntry{Name: "a", HostNamespace: "vc-a", Status: "Running", Driver: "process",
		BackingStore: "sqlite", KubernetesVersion: "v1.37.2", Context: ctxA}) {
		t.Fatalf("kubicle list shows a as %+v", got)
	}
	if lbl := host.Kubectl(t, "get", "ns", "vc-a", "-o", "jsonpath={.metadata.labels.kubicle\\.dev/created-by-kubicle}"); lbl != "true" {
		t.Fatalf("host namespace vc-a is not marked as created by kubicle: %q", lbl)
	}
	if sec := host.Kubectl(t, "-n", "vc-a", "get", "secret", "a-kubeconfig", "-o", "name"); strings.TrimSpace(sec) != "secret/a-kubeconfig" {
		t.Fatalf("exported kubeconfig Secret missing: %q", sec)
	}

	// connect: one command against the virtual cluster, its exit status kept.
	if out := mustRun("connect", "a", "--", kubectl, "get", "ns").Stdout; !strings.Contains(out, "kube-system") || strings.Contains(out, "vc-a") {
		t.Fatalf("connect a -- kubectl get ns printed the wrong cluster's namespaces:\n%s", out)
	}
	mustRun("connect", "a", "--", kubectl, "create", "namespace", "team-a")
	// Workloads run: the control plane's syncer works with the host RBAC that create
	// rendered for it (not an admin kubeconfig).
	mustRun("connect", "a", "--", kubectl, "create", "deployment", "web", "--image=nginx", "--replicas=2")
	mustRun("connect", "a", "--", kubectl, "wait", "deployment/web", "--for=condition=Available", "--timeout=120s")
	if out := kubectlOut(t, env, kubectl, "get", "ns", "team-a", "-o", "name"); out != "namespace/team-a" {
		t.Fatalf("the current context does not reach virtual cluster a: %q", out)
	}
	if res := run("connect", "a", "--", "sh", "-c", "exit 3"); res.ExitCode != 3 || strings.Contains(res.Stderr, "Error") {
		t.Fatalf("connect must pass the command's exit status through silently: %s", res)
	}
	if res := run("create", "a"); res.ExitCode == 0 || !strings.Contains(res.Stderr, `virtual cluster "a" already exists`) {
		t.Fatalf("create a again must say it exists: %s", res)
	}

	// Invalid names fail naming the field and leave nothing on the host.
	for name, want := range map[string]string{
		"Bad-Name": `metadata.name: Invalid value: "Bad-Name"`,
		"kubicle":  `metadata.name: Invalid value: "kubicle": is reserved`,
		"a-name-that-is-far-too-long-for-a-virtual-cluster-name-x": "must be no more than 52 characters",
	} {
		if res := run("create", name); res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
			t.Fatalf("create %s must fail with %q: %s", name, want, res)
		}
	}
	if got := hostNames(t, host, "namespaces"); !slices.Equal(got, append(slices.Clone(nsBefore), "vc-a")) {
		t.Fatalf("host namespaces after the invalid creates: %v (before: %v)", got, nsBefore)
	}
	if got := labelled(t, host, "app.kubernetes.io/managed-by=kubicle,kubicle.dev/vcluster!=a"); len(got) > 0 {
		t.Fatalf("host objects of clusters that were never created: %v", got)
	}

	// A second cluster, created while the current context is a's.
	res = mustRun("create", "b", "--connect=false")
	if !strings.Contains(res.Stderr, `(context "kubicle-host")`) {
		t.Fatalf("create b did not find the host through a's context: %s", res)
	}
	if cur := kubectlOut(t, env, kubectl, "config", "current-context"); cur != ctxA {
		t.Fatalf("--connect=false changed the current context to %q", cur)
	}
	if l := list(); l["a"].Status != "Running" || l["b"].Status != "Running" {
		t.Fatalf("kubicle list: %+v", l)
	}
	if out := mustRun("describe", "b").Stdout; !hasRow(out, "Status:", "Running") || !hasRow(out, "Namespace", "vc-b", "Active") ||
		!hasRow(out, "ServiceAccount", "b-control-plane", "ok") || !hasRow(out, "Namespaces:", "4") {
		t.Fatalf("describe b:\n%s", out)
	}

	// driver pod applies cleanly (its pod cannot run on simulated nodes).
	mustRun("create", "p", "--driver", "pod", "--wait=false", "--connect=false")
	if sts := host.Kubectl(t, "-n", "vc-p", "get", "statefulset", "p", "-o", "name"); strings.TrimSpace(sts) != "statefulset.apps/p" {
		t.Fatalf("driver pod: StatefulSet not applied: %q", sts)
	}
	// kwok may mark the simulated pod ready (no process runs in it), so
	// either state is right.
	if got := list()["p"]; (got.Status != "Starting" && got.Status != "Running") || got.Driver != "pod" {
		t.Fatalf("kubicle list shows p as %+v", got)
	}
	mustRun("delete", "p")

	// delete a: nothing labelled for a is left, b is untouched.
	res = mustRun("delete", "a")
	if !strings.Contains(res.Stderr, "Deleted host namespace vc-a") {
		t.Fatalf("delete a: %s", res)
	}
	if got := labelled(t, host, "kubicle.dev/vcluster=a"); len(got) > 0 {
		t.Fatalf("host objects labelled for a after delete: %v", got)
	}
	if slices.Contains(hostNames(t, host, "namespaces"), "vc-a") {
		t.Fatal("namespace vc-a still there after delete")
	}
	if _, err := os.Stat(filepath.Join(stateDir, "vclusters", "kubicle-host", "vc-a")); !os.IsNotExist(err) {
		t.Fatalf("local state of a still there: %v", err)
	}
	if cfg, _ := os.ReadFile(userConfig); strings.Contains(string(cfg), ctxA) {
		t.Fatalf("context %s left in the kubeconfig", ctxA)
	}
	if cur := kubectlOut(t, env, kubectl, "config", "current-context"); cur != "kubicle-host" {
		t.Fatalf("after deleting the current cluster the host should be current, got %q", cur)
	}
	if res := run("delete", "a"); res.ExitCode == 0 || !strings.Contains(res.Stderr, `virtual cluster "a" not found`) {
		t.Fatalf("deleting a missing cluster must fail clearly: %s", res)
	}

	if l := list(); len(l) != 1 || l["b"].Status != "Running" {
		t.Fatalf("kubicle list after deleting a: %+v", l)
	}
	if out := mustRun("connect", "b", "--", kubectl, "get", "ns", "-o", "name").Stdout; !strings.Contains(out, "namespace/kube-system") {
		t.Fatalf("b stopped working after a was deleted:\n%s", out)
	}
	mustRun("delete", "b")
	if got := labelled(t, host, "app.kubernetes.io/managed-by=kubicle"); len(got) > 0 {
		t.Fatalf("kubicle objects left on the host after deleting every cluster: %v", got)
	}
}

// hasRow reports whether a line of out consists of fields.
func hasRow(out string, fields ...string) bool {
	for line := range strings.Lines(out) {
		if slices.Equal(strings.Fields(line), fields) {
			return true
		}
	}
	return false
}

// kubectlOut runs kubectl with env and returns its trimmed output.
func kubectlOut(t *testing.T, env []string, kubectl string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(testenv.MustRun(t, time.Minute, env, kubectl, args...).Stdout)
}

// hostNames lists the names of a cluster-scoped resource on the host, sorted.
func hostNames(t *testing.T, host *testenv.Host, resource string) []string {
	t.Helper()
	out := host.Kubectl(t, "get", resource, "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}")
	names := strings.Fields(out)
	slices.Sort(names)
	return names
}

// labelled returns every host object, of every kind the host serves, in
// every namespace, that selector matches.
func labelled(t *testing.T, host *testenv.Host, selector string) []string {
	t.Helper()
	var kinds []string
	for _, r := range strings.Fields(host.Kubectl(t, "api-resources", "--verbs=list", "-o", "name")) {
		// Events carry no labels of kubicle's, and there are many.
		if r != "events" && r != "events.events.k8s.io" {
			kinds = append(kinds, r)
		}
	}
	out := host.Kubectl(t, "get", strings.Join(kinds, ","), "-A", "-l", selector, "-o", "name", "--ignore-not-found")
	return strings.Fields(out)
}

// logTails logs the end of every control plane log in the state directory.
func logTails(t *testing.T, stateDir string) {
	_ = filepath.WalkDir(stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "control-plane.log" {
			return nil
		}
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		t.Logf("last lines of %s:\n%s", path, strings.Join(lines[max(0, len(lines)-15):], "\n"))
		return nil
	})
}

// killLeftovers kills the control plane processes whose pid files are still
// in the state directory.
func killLeftovers(t *testing.T, stateDir string) {
	_ = filepath.WalkDir(stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "control-plane.pid" {
			return nil
		}
		data, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
			t.Logf("killing leftover control plane pid %d (%s)", pid, path)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		return nil
	})
}

// kubicleUser runs the built kubicle as one user would: with a kubeconfig of its own
// (a copy of the host's) and its own state directory. On cleanup it deletes the
// named clusters and kills any control plane a failed delete left running.
type kubicleUser struct {
	t                         *testing.T
	bin                       string
	dir, userConfig, stateDir string
	env                       []string
}

func newKubicleUser(t *testing.T, kubicle string, host *testenv.Host, clusters ...string) *kubicleUser {
	t.Helper()
	dir := t.TempDir()
	u := &kubicleUser{t: t, bin: kubicle, dir: dir, userConfig: filepath.Join(dir, "kubeconfig"), stateDir: filepath.Join(dir, "state")}
	if err := os.WriteFile(u.userConfig, []byte(readFile(t, host.Kubeconfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	u.env = []string{"KUBECONFIG=" + u.userConfig, "KUBICLE_STATE_DIR=" + u.stateDir}
	// The control planes run detached, outside the harness's reach.
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, u.stateDir)
		}
		for _, name := range clusters {
			u.run("delete", name, "--context", "kubicle-host")
		}
		killLeftovers(t, u.stateDir)
	})
	return u
}

func (u *kubicleUser) run(args ...string) testenv.Result {
	u.t.Helper()
	return testenv.Run(u.t, 4*time.Minute, u.env, u.bin, args...)
}

func (u *kubicleUser) mustRun(args ...string) testenv.Result {
	u.t.Helper()
	return testenv.MustRun(u.t, 4*time.Minute, u.env, u.bin, args...)
}

// list returns `kubicle list -o json` by cluster name.
func (u *kubicleUser) list() map[string]listEntry {
	u.t.Helper()
	var entries []listEntry
	out := u.mustRun("list", "-o", "json").Stdout
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		u.t.Fatalf("kubicle list -o json: %v\n%s", err, out)
	}
	m := map[string]listEntry{}
	for _, e := range entries {
		m[e.Name] = e
	}
	return m
}
