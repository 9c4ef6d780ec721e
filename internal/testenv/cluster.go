package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kubicle.dev/kubicle/internal/realnode"
)

// StartTimeout bounds how long the harness waits for a control plane or host to be
// ready. Ready takes 2–5 s on an idle 2-core machine; the margin is for a busy one.
const StartTimeout = 2 * time.Minute

// ControlPlane is a `kubicle control-plane` process.
type ControlPlane struct {
	*Process
	// DataDir is the control plane's data directory.
	DataDir string
	// Kubeconfig is its admin kubeconfig (DataDir/kubeconfig).
	Kubeconfig string
	// Ready is when the harness saw it answer /readyz after its latest start.
	Ready time.Time
	bin   string
	args  []string
}

// StartControlPlane runs `kubicle control-plane --data-dir DIR ARGS…` and waits until
// it answers /readyz. An empty dir means a new temporary directory.
func StartControlPlane(t testing.TB, dir string, args ...string) *ControlPlane {
	t.Helper()
	return StartControlPlaneOf(t, Kubicle(t), dir, args...)
}

// StartControlPlaneOf is StartControlPlane with the kubicle binary at bin.
func StartControlPlaneOf(t testing.TB, bin, dir string, args ...string) *ControlPlane {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cp := &ControlPlane{DataDir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), bin: bin, args: args}
	cp.start(t)
	return cp
}

func (c *ControlPlane) start(t testing.TB) {
	t.Helper()
	c.Process = Start(t, nil, c.bin, append([]string{"control-plane", "--data-dir", c.DataDir}, c.args...)...)
	WaitReady(t, c.Kubeconfig, c.Process)
	c.Ready = time.Now()
}

// Restart starts the control plane again from the same data directory and arguments;
// the previous process must have exited.
func (c *ControlPlane) Restart(t testing.TB) {
	t.Helper()
	if done, _ := c.Exited(); !done {
		t.Fatal("Restart: the control plane is still running")
	}
	c.start(t)
}

// Kubectl runs kubectl against the control plane and fails the test on a non-zero exit.
func (c *ControlPlane) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	return MustRun(t, time.Minute, nil, Kubectl(t), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...).Stdout
}

// Client returns a clientset for kubeconfig.
func Client(t testing.TB, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg := RESTConfig(t, kubeconfig)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// RESTConfig loads kubeconfig's current context.
func RESTConfig(t testing.TB, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", kubeconfig, err)
	}
	return cfg
}

// WaitReady waits until the API server of kubeconfig answers /readyz with ok, failing
// early when proc exits.
func WaitReady(t testing.TB, kubeconfig string, proc *Process) {
	t.Helper()
	Eventually(t, StartTimeout, 100*time.Millisecond, func() (bool, string) {
		if done, err := proc.Exited(); done {
			t.Fatalf("process exited before it was ready (%v):\n%s", err, proc.Tail(30))
		}
		if _, err := os.Stat(kubeconfig); err != nil {
			return false, "no kubeconfig yet"
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return false, err.Error()
		}
		cfg.Timeout = 2 * time.Second
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return false, err.Error()
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err != nil {
			return false, fmt.Sprintf("/readyz: %v %s", err, body)
		}
		return true, ""
	})
}

// Host is an embedded host started with `kubicle host up` in the foreground.
type Host struct {
	*Process
	// StateDir is the host's state directory.
	StateDir string
	// Kubeconfig is the host's admin kubeconfig.
	Kubeconfig string
}

// StartHost runs `kubicle host --state-dir DIR up --no-kubeconfig-merge ARGS…` and
// waits until every node is Ready (the host writes its ready marker then).
func StartHost(t testing.TB, args ...string) *Host {
	t.Helper()
	dir := t.TempDir()
	h := &Host{StateDir: dir, Kubeconfig: filepath.Join(dir, "data", "kubeconfig")}
	h.Process = Start(t, nil, Kubicle(t), append([]string{"host", "--state-dir", dir, "up", "--no-kubeconfig-merge"}, args...)...)
	Eventually(t, StartTimeout, 200*time.Millisecond, func() (bool, string) {
		if done, err := h.Exited(); done {
			t.Fatalf("host exited before it was ready (%v):\n%s", err, h.Tail(30))
		}
		if _, err := os.Stat(filepath.Join(dir, "ready")); err != nil {
			return false, "host not ready yet"
		}
		return true, ""
	})
	return h
}

// Kubectl runs kubectl against the host and fails the test on a non-zero exit.
func (h *Host) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	return MustRun(t, time.Minute, nil, Kubectl(t), append([]string{"--kubeconfig", h.Kubeconfig}, args...)...).Stdout
}

// RequireRealNodes skips a test that starts real nodes in -short runs, and when this
// machine cannot run them (not root, a package missing) — except in CI (CI=true),
// where .ci/run installs what they need, so that a missing prerequisite fails the
// run instead of hiding the test.
func RequireRealNodes(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	node := filepath.Join(filepath.Dir(Kubicle(t)), "kubicle-node")
	if err := realnode.CheckPrerequisites(node); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}
