package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// Images that `make images` builds and `kubicle host up --real-nodes` loads.
const (
	agnhostImage = "kubicle.dev/e2e-test-images/agnhost:2.66.1"
	busyboxImage = "kubicle.dev/e2e-test-images/busybox:1.36.1-1"
)

// TestRealNodes starts the embedded host with two real nodes and proves what
// simulated nodes cannot: processes run in containers (logs, exec, port-forward
// return the real process's output), a pod on one node reaches a pod on the other by
// its IP and through a ClusterIP Service, pods reach the host API server, and a
// NetworkPolicy keeps out a pod of another namespace while its own namespace's pods
// still get through. `kubicle host down` then leaves no process, mount, cgroup,
// interface, address, iptables chain or ipset of the nodes behind.
func TestRealNodes(t *testing.T) {
	testenv.RequireRealNodes(t)
	kubicle := testenv.Kubicle(t)
	host := testenv.StartHost(t, "--real-nodes", "2")
	down := func() testenv.Result {
		return testenv.Run(t, 3*time.Minute, nil, kubicle, "host", "--state-dir", host.StateDir, "down")
	}
	t.Cleanup(func() { down() })

	nodes := host.Kubectl(t, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.addresses[?(@.type=="InternalIP")].address},{.status.nodeInfo.containerRuntimeVersion}{"\n"}{end}`)
	for _, want := range []string{"kubicle-real-0=198.18.0.10,containerd://", "kubicle-real-1=198.18.0.10,containerd://"} {
		if !strings.Contains(nodes, want) {
			t.Fatalf("nodes do not include %q:\n%s", want, nodes)
		}
	}

	// A web server on node 1, a client on node 0.
	host.Kubectl(t, "run", "web", "--image="+agnhostImage, "--image-pull-policy=Never", "--labels=app=web",
		`--overrides={"spec":{"nodeName":"kubicle-real-1"}}`, "--", "netexec", "--http-port=8080")
	host.Kubectl(t, "expose", "pod", "web", "--port=80", "--target-port=8080")
	host.Kubectl(t, "run", "client", "--image="+busyboxImage, "--image-pull-policy=Never",
		`--overrides={"spec":{"nodeName":"kubicle-real-0"}}`, "--", "sleep", "3600")
	host.Kubectl(t, "wait", "--for=condition=Ready", "pod/web", "pod/client", "--timeout=120s")

	webIP := host.Kubectl(t, "get", "pod", "web", "-o", "jsonpath={.status.podIP}")
	if !strings.HasPrefix(webIP, "10.245.1.") {
		t.Fatalf("web pod IP %q is not from node 1's pod network 10.245.1.0/24", webIP)
	}
	clusterIP := host.Kubectl(t, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")

	// exec runs in the container: its hostname is the pod's name.
	if got := strings.TrimSpace(host.Kubectl(t, "exec", "client", "--", "hostname")); got != "client" {
		t.Fatalf("exec hostname in pod client: %q", got)
	}
	// Pod to pod across nodes, and pod to Service (kube-proxy's rules). Debian's
	// static busybox wget crashes, so requests go through nc.
	for _, addr := range []string{webIP + " 8080", clusterIP + " 80"} {
		testenv.Eventually(t, time.Minute, time.Second, func() (bool, string) {
			got := httpGet(t, host.Kubeconfig, "default", "client", addr, "/hostname")
			return got == "web", fmt.Sprintf("GET /hostname from %s: %q", addr, got)
		})
	}
	// The host API through the kubernetes Service.
	res := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", host.Kubeconfig,
		"exec", "client", "--", "sh", "-c", `echo | nc -w 5 "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT" && echo reached`)
	if !strings.Contains(res.Stdout, "reached") {
		t.Fatalf("a pod cannot reach the host API server through the kubernetes Service: %s", res)
	}
	// A NetworkPolicy that admits only its own namespace keeps out a pod of another
	// one, on the same node as the server, and lets its namespace's pod on the other
	// node in.
	host.Kubectl(t, "create", "namespace", "other")
	host.Kubectl(t, "-n", "other", "run", "stranger", "--image="+busyboxImage, "--image-pull-policy=Never",
		`--overrides={"spec":{"nodeName":"kubicle-real-1"}}`, "--", "sleep", "3600")
	host.Kubectl(t, "-n", "other", "wait", "--for=condition=Ready", "pod/stranger", "--timeout=120s")
	if got := httpGet(t, host.Kubeconfig, "other", "stranger", webIP+" 8080", "/hostname"); got != "web" {
		t.Fatalf("before any policy, a pod of another namespace gets %q, want web", got)
	}
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same-namespace-only, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	host.Kubectl(t, "apply", "-f", policy)
	testenv.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		got := httpGet(t, host.Kubeconfig, "other", "stranger", webIP+" 8080", "/hostname")
		return got != "web", "a pod of another namespace still gets " + got
	})
	if got := httpGet(t, host.Kubeconfig, "default", "client", webIP+" 8080", "/hostname"); got != "web" {
		t.Fatalf("with the policy, a pod of the same namespace gets %q, want web", got)
	}
	// logs are the process's own output.
	testenv.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
		logs := host.Kubectl(t, "logs", "web")
		return strings.Contains(logs, "8080"), "logs of web: " + logs
	})
	// port-forward reaches the process.
	checkPortForward(t, host.Kubeconfig, "default", "pod/web", "8080", "/hostname", "web")

	// Down leaves nothing behind.
	if res := down(); res.ExitCode != 0 {
		t.Fatalf("host down: %s", res)
	}
	assertNoRealNodeLeftovers(t, host.StateDir)
}

// httpGet fetches path from addr ("IP PORT") inside pod ns/name with busybox nc
// and returns the response body, or the error output.
func httpGet(t *testing.T, kubeconfig, ns, name, addr, path string) string {
	t.Helper()
	return podGet(t, nil, []string{"--kubeconfig", kubeconfig}, ns, name, addr, path)
}

// podGet fetches path from addr ("HOST PORT") inside pod ns/name with busybox's
// nc, kubectl run with env and the leading arguments cluster (a kubeconfig or
// context), and returns the response body, or what nc printed when there was
// none.
func podGet(t *testing.T, env, cluster []string, ns, name, addr, path string) string {
	t.Helper()
	args := append(slices.Clone(cluster), "-n", ns, "exec", name, "--",
		"sh", "-c", fmt.Sprintf(`printf 'GET %s HTTP/1.0\r\n\r\n' | nc -w 5 %s`, path, addr))
	res := testenv.Run(t, time.Minute, env, testenv.Kubectl(t), args...)
	if _, body, ok := strings.Cut(strings.ReplaceAll(res.Stdout, "\r", ""), "\n\n"); ok {
		return strings.TrimSpace(body)
	}
	return strings.TrimSpace(res.Stdout + res.Stderr)
}

// checkPortForward runs kubectl port-forward to target's port (in namespace) and
// fetches path through it, expecting want.
func checkPortForward(t *testing.T, kubeconfig, namespace, target, port, path, want string) {
	t.Helper()
	cmd := exec.Command(testenv.Kubectl(t), "--kubeconfig", kubeconfig, "-n", namespace, "port-forward", target, ":"+port)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	local := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				local <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	var p string
	select {
	case p = <-local:
	case <-time.After(30 * time.Second):
		t.Fatal("kubectl port-forward printed no local port within 30s")
	}
	resp, err := http.Get("http://127.0.0.1:" + p + path)
	if err != nil {
		t.Fatalf("through port-forward: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if strings.TrimSpace(string(body)) != want {
		t.Fatalf("through port-forward %s%s: %q, want %q", target, path, body, want)
	}
}

// assertNoRealNodeLeftovers checks the machine for anything of the real nodes of the
// host in stateDir: processes, mounts, cgroups, bridges, node addresses, iptables
// chains of kube-proxy and the kubelet.
func assertNoRealNodeLeftovers(t *testing.T, stateDir string) {
	t.Helper()
	var left []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(data), stateDir) {
			left = append(left, "process "+strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(mounts), "\n") {
			if strings.Contains(line, stateDir) {
				left = append(left, "mount "+line)
			}
		}
	}
	if cg, _ := filepath.Glob("/sys/fs/cgroup/*/kubicle-real-*"); len(cg) > 0 {
		left = append(left, "cgroups "+strings.Join(cg, " "))
	}
	if links := testenv.MustRun(t, time.Minute, nil, "ip", "-o", "link").Stdout; strings.Contains(links, "kubicle-cni") {
		left = append(left, "links:\n"+links)
	}
	if addrs := testenv.MustRun(t, time.Minute, nil, "ip", "-o", "addr", "show", "dev", "lo").Stdout; strings.Contains(addrs, "198.18.") {
		left = append(left, "addresses:\n"+addrs)
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		if rules := testenv.MustRun(t, time.Minute, nil, tool).Stdout; strings.Contains(rules, "KUBE-") || strings.Contains(rules, "CNI-") {
			left = append(left, tool+":\n"+rules)
		}
	}
	if sets := testenv.MustRun(t, time.Minute, nil, "ipset", "list", "-n").Stdout; strings.TrimSpace(sets) != "" {
		left = append(left, "ipsets:\n"+sets)
	}
	if len(left) > 0 {
		t.Fatalf("host down left real-node state behind:\n%s", strings.Join(left, "\n"))
	}
}
