package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestPodDriver creates a virtual cluster with the default driver on an embedded host
// with real nodes, which runs the control plane as the StatefulSet's pod from the
// kubicle image, and uses it as a tenant would with unmodified kubectl: a Deployment
// of agnhost's netexec behind a Service, reached from a client pod in another
// namespace by short name, full name and ClusterIP through the virtual cluster's DNS;
// logs, logs -f, exec and port-forward of the real process; and finally `kubicle
// delete`, which leaves nothing of the virtual cluster on the host.
func TestPodDriver(t *testing.T) {
	testenv.RequireRealNodes(t)
	kubicle := testenv.Kubicle(t)
	host := testenv.StartHost(t, "--real-nodes", "2")
	t.Cleanup(func() { testenv.Run(t, 3*time.Minute, nil, kubicle, "host", "--state-dir", host.StateDir, "down") })
	u := newKubicleUser(t, kubicle, host, "team")
	kubectl := testenv.Kubectl(t)
	k := func(args ...string) string {
		t.Helper()
		return testenv.MustRun(t, 2*time.Minute, u.env, kubectl, args...).Stdout
	}

	res := u.mustRun("create", "team")
	if !strings.Contains(res.Stderr, "driver pod") || !strings.Contains(res.Stderr, `Virtual cluster "team" is ready`) {
		t.Fatalf("create with real nodes does not say it made a ready virtual cluster with driver pod: %s", res)
	}
	// The user's kubeconfig now points at the virtual cluster, through the Service's
	// ClusterIP, which this machine reaches on the embedded host.
	if cur := strings.TrimSpace(k("config", "current-context")); cur != "kubicle_team_vc-team_kubicle-host" {
		t.Fatalf("current context after create: %q", cur)
	}
	if ns := k("get", "namespaces", "-o", "name"); strings.Contains(ns, "vc-team") {
		t.Fatalf("kubectl after create still talks to the host:\n%s", ns)
	}
	// The control plane is a real process in the StatefulSet's pod.
	if out := host.Kubectl(t, "-n", "vc-team", "exec", "team-0", "--", "/usr/local/bin/kubicle", "version"); !strings.Contains(out, "v1.37.2") {
		t.Fatalf("kubicle version in the control plane's container: %s", out)
	}

	manifest := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(manifest, []byte(netexecPods("shop", "other", 2)), 0o600); err != nil {
		t.Fatal(err)
	}
	k("apply", "-f", manifest)
	k("-n", "shop", "rollout", "status", "deployment/web", "--timeout=180s")
	k("-n", "other", "wait", "--for=condition=Ready", "pod/client", "--timeout=180s")

	// The client's own netexec dials the Service by its names and address and returns
	// what the server answered: the name of a web pod.
	clusterIP := strings.TrimSpace(k("-n", "shop", "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"))
	webPods := k("-n", "shop", "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}")
	for _, target := range []string{"web.shop", "web.shop.svc.cluster.local", clusterIP} {
		testenv.Eventually(t, time.Minute, 2*time.Second, func() (bool, string) {
			res := testenv.Run(t, time.Minute, u.env, kubectl, "-n", "other", "exec", "client", "--", "sh", "-c",
				fmt.Sprintf(`printf 'GET /dial?request=hostname&protocol=http&host=%s&port=80&tries=1 HTTP/1.0\r\n\r\n' | nc -w 10 127.0.0.1 8080`, target))
			for _, p := range strings.Fields(webPods) {
				if strings.Contains(res.Stdout, p) {
					return true, ""
				}
			}
			return false, fmt.Sprintf("dial %s from the client: %s", target, res)
		})
	}

	// exec, logs and port-forward reach the real process of a web pod.
	pod := strings.Fields(webPods)[0]
	if got := strings.TrimSpace(k("-n", "shop", "exec", pod, "--", "hostname")); got != pod {
		t.Fatalf("exec hostname in %s: %q", pod, got)
	}
	testenv.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
		logs := k("-n", "shop", "logs", pod)
		return strings.Contains(logs, "8080"), "logs: " + logs
	})
	follow := testenv.Run(t, time.Minute, u.env, "timeout", "5", kubectl, "-n", "shop", "logs", "-f", pod)
	if !strings.Contains(follow.Stdout, "8080") {
		t.Fatalf("logs -f of %s printed nothing of the process: %s", pod, follow)
	}
	checkPortForward(t, u.userConfig, "shop", "pod/"+pod, "8080", "/hostname", pod)

	// delete leaves nothing on the host.
	u.mustRun("delete", "team")
	testenv.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		out := testenv.Run(t, time.Minute, nil, kubectl, "--kubeconfig", host.Kubeconfig, "get", "namespace", "vc-team", "-o", "name")
		return out.ExitCode != 0 && strings.Contains(out.Stderr, "NotFound"), "host namespace vc-team: " + out.Stdout + out.Stderr
	})
	if pods := host.Kubectl(t, "get", "pods", "-A", "-o", "name"); strings.TrimSpace(pods) != "" {
		t.Fatalf("host pods after delete:\n%s", pods)
	}
}
