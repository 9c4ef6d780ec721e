package kubelet_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"kubicle.dev/kubicle/internal/controlplane/pki"
	"kubicle.dev/kubicle/internal/syncer/kubelet"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/internal/testenv"
)

const (
	vc        = "tenant-a"
	virtualNS = "default"
	hostNS    = "kubicle-tenant-a"
	container = "app"
	// webUID is the virtual UID in the markers of the tenant's pod.
	webUID = "0b5c7a52-8c57-4a57-9d3f-3f3c4a0f9e01"
)

// TestServer runs the kubelet API against the embedded host (kwok serves logs and
// runs exec as local processes) and drives it as the virtual API server would.
func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host")
	}
	host := testenv.StartHost(t, "--nodes", "1")
	hostCfg := testenv.RESTConfig(t, host.Kubeconfig)
	client, err := kubernetes.NewForConfig(hostCfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The tenant's pod, and host pods at the host names of other virtual pods of the
	// same tenant that must not be reachable through them.
	web := translate.Identity{VCluster: vc, Namespace: virtualNS, Name: "web", UID: webUID}
	createPod(t, client, "web", &web)
	createPod(t, client, "bare", nil) // no markers: not kubicle's
	createPod(t, client, "stolen", &translate.Identity{VCluster: "tenant-b", Namespace: virtualNS, Name: "stolen"})
	createPod(t, client, "alias", &translate.Identity{VCluster: vc, Namespace: virtualNS, Name: "web"})
	waitRunning(t, client, "web", "bare", "stolen", "alias")

	certs, err := pki.EnsureBundle(t.TempDir(), pki.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base, stop, ran := startServer(t, hostCfg, certs.KubeletServing, certs.CA.CertFile)
	kubeletClient := &rest.Config{Host: base, TLSClientConfig: rest.TLSClientConfig{
		CAFile:   certs.CA.CertFile,
		CertFile: certs.APIServerKubeletClient.CertFile,
		KeyFile:  certs.APIServerKubeletClient.KeyFile,
	}}
	httpClient, err := rest.HTTPClientFor(kubeletClient)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := httpClient.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	t.Run("healthz and unknown paths", func(t *testing.T) {
		if code, body := get("/healthz"); code != http.StatusOK || body != "ok" {
			t.Errorf("/healthz: %d %q", code, body)
		}
		for _, p := range []string{"/stats/summary", "/metrics/resource", "/pods", "/run/default/web/app"} {
			if code, _ := get(p); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
				t.Errorf("%s: got %d, want 404", p, code)
			}
		}
	})

	t.Run("logs", func(t *testing.T) {
		code, body := get("/containerLogs/default/web/app")
		if code != http.StatusOK || !strings.Contains(body, "simulated by kwok") {
			t.Fatalf("logs: %d %q", code, body)
		}
		if code, body := get("/containerLogs/default/web/nope"); code != http.StatusBadRequest || !strings.Contains(body, "pod web") {
			t.Errorf("logs of a missing container: %d %q; want the host's 400 naming the virtual pod", code, body)
		}
	})

	t.Run("logs follow streams", func(t *testing.T) {
		// kwok keeps a followed log open: the first lines must arrive while it is.
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(fctx, http.MethodGet, base+"/containerLogs/default/web/app?follow=true&timestamps=true", nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.Contains(line, "simulated by kwok") {
			t.Fatalf("first followed line: %q, %v", line, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, strings.Fields(line)[0]); err != nil {
			t.Errorf("timestamps=true not passed on: %q", line)
		}
	})

	reached := t.TempDir()
	execIn := func(t *testing.T, path string, ws bool, command ...string) (string, error) {
		t.Helper()
		q := url.Values{"command": command, "output": {"1"}, "error": {"1"}}
		u, _ := url.Parse(base + path + "?" + q.Encode())
		var ex remotecommand.Executor
		var err error
		if ws {
			ex, err = remotecommand.NewWebSocketExecutor(kubeletClient, http.MethodGet, u.String())
		} else {
			ex, err = remotecommand.NewSPDYExecutor(kubeletClient, http.MethodPost, u)
		}
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		err = ex.StreamWithContext(sctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
		return stdout.String() + stderr.String(), err
	}

	t.Run("exec", func(t *testing.T) {
		for _, ws := range []bool{false, true} {
			out, err := execIn(t, "/exec/default/web/app", ws, "echo", "hello")
			if err != nil || strings.TrimSpace(out) != "hello" {
				t.Errorf("exec (websocket %v): %q, %v", ws, out, err)
			}
		}
		// The path with the virtual UID, as a positive control for the refusals below.
		marker := filepath.Join(reached, "web")
		if out, err := execIn(t, "/exec/default/web/"+webUID+"/app", false, "touch", marker); err != nil {
			t.Fatalf("exec with the pod UID: %q, %v", out, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("exec did not run the command: %v", err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct{ name, path string }{
			{"no markers", "/default/bare"},
			{"another virtual cluster's markers", "/default/stolen"},
			{"markers of another virtual pod", "/default/alias"},
			{"no such pod", "/default/missing"},
			{"wrong UID", "/default/web/0b5c7a52-0000-0000-0000-000000000000"},
			{"other namespace", "/kube-system/web"},
		} {
			if code, body := get("/containerLogs" + tc.path + "/app"); code != http.StatusNotFound {
				t.Errorf("%s: logs answered %d %q, want 404", tc.name, code, body)
			}
			marker := filepath.Join(reached, strings.ReplaceAll(tc.name, " ", "-"))
			out, err := execIn(t, "/exec"+tc.path+"/app", false, "touch", marker)
			if err == nil {
				t.Errorf("%s: exec succeeded: %q", tc.name, out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("%s: exec reached the host pod", tc.name)
			}
		}
	})

	t.Run("client certificates", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certs.CA.CertPEM())
		other, err := pki.EnsureBundle(t.TempDir(), pki.BundleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := tls.LoadX509KeyPair(other.APIServerKubeletClient.CertFile, other.APIServerKubeletClient.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "certificate of another CA": {foreign}} {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
			resp, err := c.Get(base + "/containerLogs/default/web/app")
			if err == nil {
				_ = resp.Body.Close()
				t.Errorf("%s: got %s, want a TLS failure", name, resp.Status)
			}
		}
	})

	t.Run("through a virtual API server", func(t *testing.T) {
		// A real virtual control plane whose node advertises a second server that
		// uses the control plane's own PKI, as the control plane will run it.
		cp := testenv.StartControlPlane(t, "")
		dir := filepath.Join(cp.DataDir, "pki")
		vbase, _, _ := startServer(t, hostCfg, pki.Pair{CertFile: filepath.Join(dir, "kubelet-serving.crt"), KeyFile: filepath.Join(dir, "kubelet-serving.key")}, filepath.Join(dir, "ca.crt"))
		virtual := testenv.Client(t, cp.Kubeconfig)
		port, err := strconv.Atoi(vbase[strings.LastIndex(vbase, ":")+1:])
		if err != nil {
			t.Fatal(err)
		}
		node, err := virtual.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kubicle-worker-0"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
		if _, err := virtual.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"web", "bare"} {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: virtualNS},
				Spec: corev1.PodSpec{
					NodeName:                     node.Name,
					Containers:                   []corev1.Container{{Name: container, Image: "busybox"}},
					AutomountServiceAccountToken: new(false),
				},
			}
			testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() (bool, string) {
				_, err := virtual.CoreV1().Pods(virtualNS).Create(ctx, pod, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					return false, err.Error()
				}
				return true, ""
			})
		}
		if out := cp.Kubectl(t, "logs", "web"); !strings.Contains(out, "simulated by kwok") {
			t.Errorf("kubectl logs: %q", out)
		}
		// The query parameters reach the host: only the last line, only 20 bytes.
		if out := cp.Kubectl(t, "logs", "web", "--tail=1"); strings.Count(out, "\n") != 1 || !strings.Contains(out, "through the kubelet API") {
			t.Errorf("kubectl logs --tail=1: %q", out)
		}
		if out := cp.Kubectl(t, "logs", "web", "--limit-bytes=20"); len(out) != 20 {
			t.Errorf("kubectl logs --limit-bytes=20: %q", out)
		}
		if out := cp.Kubectl(t, "exec", "web", "--", "echo", "hello"); out != "hello\n" {
			t.Errorf("kubectl exec: %q", out)
		}
		marker := filepath.Join(reached, "virtual-bare")
		res := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", cp.Kubeconfig, "exec", "bare", "--", "touch", marker)
		if res.ExitCode == 0 {
			t.Errorf("kubectl exec on a pod whose host pod has no markers: %s", res)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("kubectl exec reached a host pod without markers")
		}
	})

	t.Run("stops on its context", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/containerLogs/default/web/app?follow=true", nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		stop()
		select {
		case err := <-ran:
			ran <- err // for the cleanup
			if err != nil {
				t.Fatalf("Run returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run still running 15s after its context was cancelled")
		}
		// The followed log ends with the server (cleanly or not); it must not hang.
		_, _ = io.Copy(io.Discard, resp.Body)
	})
}

// startServer runs a kubelet server on a loopback port with the serving pair and
// client CA, until the test ends, and returns its base URL, a stop function and
// the channel Run's result arrives on.
func startServer(t *testing.T, hostCfg *rest.Config, serving pki.Pair, clientCA string) (string, context.CancelFunc, chan error) {
	t.Helper()
	srv, err := kubelet.New(kubelet.Config{
		HostConfig:     hostCfg,
		HostNamespace:  hostNS,
		VirtualCluster: vc,
		CertFile:       serving.CertFile,
		KeyFile:        serving.KeyFile,
		ClientCAFile:   clientCA,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "https://" + ln.Addr().String(), stop, ran
}

// createPod creates, on the host, the pod of virtual pod default/name of the
// tenant, with the markers of id (none when nil).
func createPod(t *testing.T, client kubernetes.Interface, name string, id *translate.Identity) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: translate.HostName(vc, virtualNS, name, translate.DNSSubdomain), Namespace: hostNS},
		Spec: corev1.PodSpec{
			Containers:                   []corev1.Container{{Name: container, Image: "busybox"}},
			AutomountServiceAccountToken: new(false),
		},
	}
	if id != nil {
		translate.SetMarkers(pod, *id)
	}
	// The namespace's default ServiceAccount appears shortly after the namespace.
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() (bool, string) {
		_, err := client.CoreV1().Pods(hostNS).Create(t.Context(), pod, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return false, fmt.Sprintf("creating pod %s: %v", pod.Name, err)
		}
		return true, ""
	})
}

// waitRunning waits until the host pods of the named virtual pods are Running.
func waitRunning(t *testing.T, client kubernetes.Interface, names ...string) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, 250*time.Millisecond, func() (bool, string) {
		for _, n := range names {
			p, err := client.CoreV1().Pods(hostNS).Get(t.Context(), translate.HostName(vc, virtualNS, n, translate.DNSSubdomain), metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			if p.Status.Phase != corev1.PodRunning {
				return false, fmt.Sprintf("pod %s is %s", p.Name, p.Status.Phase)
			}
		}
		return true, ""
	})
}
