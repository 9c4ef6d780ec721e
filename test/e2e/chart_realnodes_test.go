package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestChartOnRealNodes takes the chart path with helm and kubectl only, on an
// embedded host with a real node: `helm install` runs the operator Deployment from
// the kubicle image in a real container; a VirtualCluster applied with kubectl
// becomes Ready with its control plane in a pod from the same image; the exported
// kubeconfig reaches the virtual API server, whose pod runs on the real node;
// deleting the object removes every host object of it, and `helm uninstall` the
// operator.
func TestChartOnRealNodes(t *testing.T) {
	testenv.RequireRealNodes(t)
	kubicle, kubectl, helm := testenv.Kubicle(t), testenv.Kubectl(t), testenv.Helm(t)
	host := testenv.StartHost(t, "--real-nodes", "1")
	t.Cleanup(func() { testenv.Run(t, 3*time.Minute, nil, kubicle, "host", "--state-dir", host.StateDir, "down") })
	dir := t.TempDir()
	env := []string{"KUBECONFIG=" + host.Kubeconfig, "HELM_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(dir, "config"), "HELM_DATA_HOME=" + filepath.Join(dir, "data")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator logs:\n%s", testenv.Run(t, time.Minute, env, kubectl, "-n", "kubicle-system", "logs", "deploy/kubicle", "--tail=60"))
		}
		testenv.Run(t, 2*time.Minute, env, kubectl, "delete", "virtualclusters", "--all", "-A", "--wait", "--timeout=90s")
	})

	testenv.MustRun(t, 5*time.Minute, env, helm, "install", "kubicle", chartDir, "--namespace", "kubicle-system", "--create-namespace", "--wait", "--timeout", "3m")
	images := host.Kubectl(t, "-n", "kubicle-system", "get", "pods", "-l", "app.kubernetes.io/name=kubicle", "-o",
		`jsonpath={range .items[*]}{.status.phase} {.spec.nodeName} {.status.containerStatuses[0].imageID}{"\n"}{end}`)
	if !strings.HasPrefix(images, "Running kubicle-real-0 ") {
		t.Fatalf("the operator does not run on the real node: %q", images)
	}
	// The operator is the image's kubicle, a real process in the container.
	if out := host.Kubectl(t, "-n", "kubicle-system", "exec", "deploy/kubicle", "--", "kubicle", "version"); !strings.Contains(out, "v1.37.2") {
		t.Fatalf("kubicle version in the operator's container: %s", out)
	}

	host.Kubectl(t, "create", "namespace", "team-x")
	vcFile := filepath.Join(dir, "x.yaml")
	writeTestFile(t, vcFile, `apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata: {name: x, namespace: team-x}
spec:
  controlPlane:
    driver: pod
`)
	host.Kubectl(t, "apply", "-f", vcFile)
	testenv.Eventually(t, 4*time.Minute, 2*time.Second, func() (bool, string) {
		out := host.Kubectl(t, "-n", "team-x", "get", "virtualcluster", "x", "-o",
			`jsonpath={.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}`)
		return strings.HasPrefix(out, "Running True"), "VirtualCluster x: " + out
	})
	cpImage := host.Kubectl(t, "-n", "team-x", "get", "pod", "x-0", "-o", "jsonpath={.spec.containers[0].image} {.spec.nodeName} {.status.phase}")
	if cpImage != "kubicle.dev/kubicle:dev kubicle-real-0 Running" {
		t.Fatalf("the control plane pod: %q", cpImage)
	}

	// The exported kubeconfig names the Service's DNS name, which this machine does
	// not resolve; kubectl reaches the Service's ClusterIP under that name.
	raw := host.Kubectl(t, "-n", "team-x", "get", "secret", "x-kubeconfig", "-o", "jsonpath={.data.kubeconfig}")
	exported, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || !strings.Contains(string(exported), "server: https://x.team-x.svc:443") {
		t.Fatalf("exported kubeconfig (%v):\n%s", err, exported)
	}
	vcConfig := filepath.Join(dir, "x.kubeconfig")
	if err := os.WriteFile(vcConfig, exported, 0o600); err != nil {
		t.Fatal(err)
	}
	clusterIP := strings.TrimSpace(host.Kubectl(t, "-n", "team-x", "get", "service", "x", "-o", "jsonpath={.spec.clusterIP}"))
	vk := func(args ...string) string {
		t.Helper()
		return testenv.MustRun(t, 3*time.Minute, nil, kubectl, append([]string{"--kubeconfig", vcConfig,
			"--server", fmt.Sprintf("https://%s:443", clusterIP), "--tls-server-name", "x.team-x.svc"}, args...)...).Stdout
	}
	// Ready means the Service lists the control plane's pod; kube-proxy programs
	// the route a moment later.
	testenv.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		res := testenv.Run(t, time.Minute, nil, kubectl, "--kubeconfig", vcConfig, "--server", fmt.Sprintf("https://%s:443", clusterIP),
			"--tls-server-name", "x.team-x.svc", "get", "--raw", "/readyz")
		return res.ExitCode == 0 && strings.TrimSpace(res.Stdout) == "ok", "the virtual API server through the exported kubeconfig: " + res.String()
	})
	vk("run", "hello", "--image="+agnhostImage, "--image-pull-policy=IfNotPresent", "--", "netexec", "--http-port=8080")
	vk("wait", "--for=condition=Ready", "pod/hello", "--timeout=180s")
	if got := strings.TrimSpace(vk("exec", "hello", "--", "hostname")); got != "hello" {
		t.Fatalf("exec in the virtual cluster's pod: %q", got)
	}

	host.Kubectl(t, "-n", "team-x", "delete", "virtualcluster", "x", "--wait", "--timeout=2m")
	if got := labelled(t, host, "kubicle.dev/vcluster=x"); len(got) > 0 {
		t.Fatalf("host objects of x after its deletion: %v", got)
	}
	testenv.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		pods := host.Kubectl(t, "-n", "team-x", "get", "pods", "-o", "name")
		return strings.TrimSpace(pods) == "", "pods left in team-x: " + pods
	})

	testenv.MustRun(t, 3*time.Minute, env, helm, "uninstall", "kubicle", "--namespace", "kubicle-system", "--wait", "--timeout", "2m")
	// The Deployment goes at once; its pod when the garbage collector and the
	// kubelet have stopped it.
	testenv.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		out := host.Kubectl(t, "-n", "kubicle-system", "get", "deployments,pods", "-o", "name")
		return strings.TrimSpace(out) == "", "after helm uninstall: " + out
	})
}
