package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// agnhostImage is the image `make images` builds and `host up --real-nodes` loads.
const agnhostImage = "kubicle.dev/e2e-test-images/agnhost:2.66.1"

// BenchmarkRealNodes runs on an embedded host with two real nodes (containerd,
// runc, CNI, kubelet, kube-proxy): the time of `kubicle create` with driver pod,
// from the command's start to the virtual cluster answering (the control plane's
// pod scheduled, its container started from the kubicle image, the API server and
// syncer ready, the exported kubeconfig written); then 100 pods of agnhost's pause
// Running, created directly on the host and then through that virtual cluster, as
// each cluster reports them. Real containers start: sandboxes, CNI, images.
func BenchmarkRealNodes(b *testing.B) {
	const n = 100
	testenv.RequireRealNodes(b)
	kubicle, kubectl := testenv.Kubicle(b), testenv.Kubectl(b)
	host := testenv.StartHost(b, "--real-nodes", "2")
	b.Cleanup(func() { testenv.Run(b, 3*time.Minute, nil, kubicle, "host", "--state-dir", host.StateDir, "down") })
	host.Kubectl(b, "create", "namespace", "direct")

	dir := b.TempDir()
	userConfig := filepath.Join(dir, "kubeconfig")
	hostConfig, err := os.ReadFile(host.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(userConfig, hostConfig, 0o600); err != nil {
		b.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + userConfig, "KUBICLE_STATE_DIR=" + filepath.Join(dir, "state")}
	b.Cleanup(func() { testenv.Run(b, 3*time.Minute, env, kubicle, "delete", "bench", "--context", "kubicle-host") })

	for i := 0; i < b.N; i++ {
		start := time.Now()
		res := testenv.MustRun(b, 5*time.Minute, env, kubicle, "create", "bench")
		create := time.Since(start)
		if !strings.Contains(res.Stderr, "driver pod") {
			b.Fatalf("create did not use driver pod: %s", res)
		}
		// The user's kubeconfig now names the virtual cluster; a file of its own
		// for the client.
		vcConfig := filepath.Join(dir, "vc.kubeconfig")
		raw := testenv.MustRun(b, time.Minute, env, kubectl, "config", "view", "--minify", "--flatten").Stdout
		if err := os.WriteFile(vcConfig, []byte(raw), 0o600); err != nil {
			b.Fatal(err)
		}

		direct := runPods(b, host.Kubeconfig, "direct", n, agnhostImage, "/agnhost", "pause")
		deletePods(b, host.Kubeconfig, "direct")
		virtual := runPods(b, vcConfig, "default", n, agnhostImage, "/agnhost", "pause")
		deletePods(b, vcConfig, "default")
		testenv.MustRun(b, 5*time.Minute, env, kubicle, "delete", "bench", "--context", "kubicle-host")

		b.ReportMetric(create.Seconds(), "s-create")
		b.ReportMetric(direct.Seconds(), "s-direct")
		b.ReportMetric(virtual.Seconds(), "s-virtual")
		b.ReportMetric(virtual.Seconds()/direct.Seconds(), "ratio")
		b.Logf("kubicle create (driver pod) %s; %d pods Running on real nodes: direct on the host %s, through the virtual cluster %s (%.2fx)",
			create.Round(100*time.Millisecond), n, direct.Round(100*time.Millisecond), virtual.Round(100*time.Millisecond), virtual.Seconds()/direct.Seconds())
	}
}
