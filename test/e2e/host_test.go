package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestHostUp walks the path of a newcomer: `kubicle host up --detach` with GPU nodes,
// unmodified kubectl through the merged kubicle-host context, a Deployment that
// becomes available, logs and exec of a simulated pod, then status and down.
func TestHostUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host")
	}
	kubicle, kubectl := testenv.Kubicle(t), testenv.Kubectl(t)
	stateDir := t.TempDir()
	userConfig := filepath.Join(t.TempDir(), "config")
	env := []string{"KUBECONFIG=" + userConfig}
	host := func(args ...string) testenv.Result {
		return testenv.Run(t, 4*time.Minute, env, kubicle, append([]string{"host", "--state-dir", stateDir}, args...)...)
	}
	k := func(args ...string) string {
		return testenv.MustRun(t, time.Minute, env, kubectl, append([]string{"--context", "kubicle-host"}, args...)...).Stdout
	}
	t.Cleanup(func() { host("down") })

	up := host("up", "--detach", "--nodes", "2", "--gpu-nodes", "1", "--gpus-per-node", "8")
	if up.ExitCode != 0 {
		t.Fatalf("host up: %s\nlog:\n%s", up, readFile(t, filepath.Join(stateDir, "host.log")))
	}
	if !strings.Contains(up.Stderr, "Embedded host ready at https://127.0.0.1:") || !strings.Contains(up.Stderr, `Added context "kubicle-host"`) {
		t.Fatalf("host up does not tell the user where the host is: %s", up)
	}

	var nodes struct {
		Items []struct {
			Metadata struct{ Name string }
			Status   struct {
				Allocatable map[string]string
				Conditions  []struct{ Type, Status string }
			}
		}
	}
	if err := json.Unmarshal([]byte(k("get", "nodes", "-o", "json")), &nodes); err != nil {
		t.Fatal(err)
	}
	ready, gpus := 0, map[string]string{}
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				ready++
			}
		}
		if g, ok := n.Status.Allocatable["nvidia.com/gpu"]; ok {
			gpus[n.Metadata.Name] = g
		}
	}
	if len(nodes.Items) != 3 || ready != 3 {
		t.Fatalf("want 3 Ready nodes, got %d nodes, %d Ready", len(nodes.Items), ready)
	}
	if len(gpus) != 1 || gpus["kubicle-gpu-0"] != "8" {
		t.Fatalf("want kubicle-gpu-0 with nvidia.com/gpu: 8 allocatable, got %v", gpus)
	}

	k("create", "deployment", "web", "--image=nginx", "--replicas=3")
	k("wait", "deployment/web", "--for=condition=Available", "--timeout=90s")
	if got := k("get", "deployment/web", "-o", "jsonpath={.status.availableReplicas}"); got != "3" {
		t.Fatalf("want 3 available replicas, got %q", got)
	}
	pod := strings.TrimSpace(strings.Fields(k("get", "pods", "-l", "app=web", "-o", "name"))[0])
	if node := k("get", pod, "-o", "jsonpath={.spec.nodeName}"); !strings.HasPrefix(node, "kubicle-worker-") {
		t.Fatalf("web pod landed on %q; the GPU node's taint should keep it off", node)
	}
	if logs := k("logs", pod); !strings.Contains(logs, "simulated by kwok") {
		t.Fatalf("kubectl logs returned %q", logs)
	}
	if out := k("exec", pod, "--", "echo", "hello from exec"); strings.TrimSpace(out) != "hello from exec" {
		t.Fatalf("kubectl exec returned %q", out)
	}

	again := host("up", "--detach")
	if again.ExitCode == 0 || !strings.Contains(again.Stderr, "the embedded host is already up") {
		t.Fatalf("a second host up must say the host is already up: %s", again)
	}
	status := host("status")
	if status.ExitCode != 0 || !strings.Contains(status.Stdout, "Nodes: 3 (3 Ready)") {
		t.Fatalf("host status: %s", status)
	}
	path := strings.TrimSpace(testenv.MustRun(t, time.Minute, env, kubicle, "host", "--state-dir", stateDir, "kubeconfig").Stdout)
	if path != filepath.Join(stateDir, "data", "kubeconfig") {
		t.Fatalf("host kubeconfig printed %q", path)
	}

	if down := host("down"); down.ExitCode != 0 {
		t.Fatalf("host down: %s", down)
	}
	if status := host("status"); status.ExitCode == 0 || !strings.Contains(status.Stdout, "stopped") {
		t.Fatalf("status after down: %s", status)
	}

	// State survives: a restarted host still holds the Deployment.
	if up := host("up", "--detach", "--nodes", "2", "--gpu-nodes", "1"); up.ExitCode != 0 {
		t.Fatalf("host up after down: %s", up)
	}
	k("wait", "deployment/web", "--for=condition=Available", "--timeout=90s")
	if down := host("down", "--purge"); down.ExitCode != 0 {
		t.Fatalf("host down --purge: %s", down)
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Fatalf("state directory still there after --purge: %v", err)
	}
	if cfg, _ := os.ReadFile(userConfig); strings.Contains(string(cfg), "kubicle-host") {
		t.Fatalf("kubicle-host context left in kubeconfig after --purge:\n%s", cfg)
	}
}
