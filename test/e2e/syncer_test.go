package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/internal/testenv"
)

// virtualCluster starts a control plane syncing to host namespace ns (created here).
func virtualCluster(t *testing.T, host *testenv.Host, name, ns string, extra ...string) *testenv.ControlPlane {
	t.Helper()
	testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", host.Kubeconfig, "create", "namespace", ns)
	waitServiceAccount(t, host.Kubeconfig, ns)
	args := append([]string{"--name", name, "--host-kubeconfig", host.Kubeconfig, "--host-namespace", ns}, extra...)
	return testenv.StartControlPlane(t, "", args...)
}

func podsRunning(t *testing.T, c kubernetes.Interface, ns, selector string, want int) func() (bool, string) {
	return func() (bool, string) {
		pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err.Error()
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		return running == want && len(pods.Items) == want, fmt.Sprintf("%d pods, %d Running, want %d", len(pods.Items), running, want)
	}
}

// TestSyncerWorkloads: a Deployment with a ConfigMap volume, a Secret in env, a
// service account token and a PVC, a Service and an Ingress, created with kubectl in a
// virtual cluster, run on the embedded host, and the virtual cluster shows the truth.
func TestSyncerWorkloads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a host and a virtual cluster")
	}
	host := testenv.StartHost(t, "--nodes", "3", "--gpu-nodes", "1")
	metricsAddr := freeAddr(t)
	vc := virtualCluster(t, host, "a", "vc-a", "--metrics-listen", metricsAddr, "--config", "testdata/vc-a.yaml")
	hostClient, vClient := testenv.Client(t, host.Kubeconfig), testenv.Client(t, vc.Kubeconfig)
	vc.Kubectl(t, "apply", "-f", "testdata/workload.yaml")

	testenv.Eventually(t, 2*time.Minute, 500*time.Millisecond, podsRunning(t, hostClient, "vc-a", "app=web", 10))
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, podsRunning(t, vClient, "shop", "app=web", 10))

	ctx := context.Background()
	vpods, err := vClient.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	usedNodes := map[string]bool{}
	for _, vp := range vpods.Items {
		hp, err := hostClient.CoreV1().Pods("vc-a").Get(ctx, translate.HostName("a", "shop", vp.Name, translate.DNSSubdomain), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("host pod of %s: %v", vp.Name, err)
		}
		if vp.Spec.NodeName == "" || vp.Spec.NodeName != hp.Spec.NodeName || vp.Status.PodIP == "" || vp.Status.PodIP != hp.Status.PodIP || vp.Status.HostIP != hp.Status.HostIP {
			t.Errorf("virtual pod %s shows node %q IP %q, host pod runs on %q with IP %q", vp.Name, vp.Spec.NodeName, vp.Status.PodIP, hp.Spec.NodeName, hp.Status.PodIP)
		}
		if hp.Labels["app"] != "web" || hp.Labels[translate.KeyVCluster] != "a" || hp.Labels[translate.KeyNamespace] != "shop" {
			t.Errorf("host pod %s labels %v", hp.Name, hp.Labels)
		}
		if hp.Spec.AutomountServiceAccountToken == nil || *hp.Spec.AutomountServiceAccountToken {
			t.Errorf("host pod %s would mount a host token", hp.Name)
		}
		usedNodes[hp.Spec.NodeName] = true
	}
	if usedNodes["kubicle-gpu-0"] {
		t.Error("a pod without a GPU toleration landed on the GPU node")
	}

	// Referenced objects and tokens are on the host under their translated names.
	for _, name := range []string{translate.HostName("a", "shop", "web-config", translate.DNSSubdomain), translate.HostName("a", "shop", "kube-root-ca.crt", translate.DNSSubdomain)} {
		if _, err := hostClient.CoreV1().ConfigMaps("vc-a").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("host configmap %s: %v", name, err)
		}
	}
	secret, err := hostClient.CoreV1().Secrets("vc-a").Get(ctx, translate.HostName("a", "shop", "web-secret", translate.DNSSubdomain), metav1.GetOptions{})
	if err != nil || string(secret.Data["password"]) != "s3cret" {
		t.Errorf("host secret: %v %v", err, secret)
	}
	token, err := hostClient.CoreV1().Secrets("vc-a").Get(ctx, translate.PodTokenSecretName("a", "shop", vpods.Items[0].Name), metav1.GetOptions{})
	if err != nil || len(token.Data["token"]) == 0 {
		t.Fatalf("token secret of %s: %v", vpods.Items[0].Name, err)
	}

	// Virtual nodes mirror the host nodes the tenant may use (the three workers;
	// the GPU node's taint is not granted to it), those in use among them.
	for n := range map[string]bool{"kubicle-worker-0": true, "kubicle-worker-1": true, "kubicle-worker-2": true} {
		usedNodes[n] = true
	}
	testenv.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		nodes, err := vClient.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var got, want []string
		for _, n := range nodes.Items {
			got = append(got, n.Name)
		}
		for n := range usedNodes {
			want = append(want, n)
		}
		sort.Strings(got)
		sort.Strings(want)
		return strings.Join(got, ",") == strings.Join(want, ","), fmt.Sprintf("virtual nodes %v, host nodes in use %v", got, want)
	})
	vnode, err := vClient.CoreV1().Nodes().Get(ctx, vpods.Items[0].Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := vnode.Status.Allocatable[corev1.ResourceCPU]; q.String() != "16" {
		t.Errorf("virtual node allocatable cpu %s, want the host's 16", q.String())
	}

	// The Service has the host's ClusterIP.
	vsvc, err := vClient.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hsvc, err := hostClient.CoreV1().Services("vc-a").Get(ctx, translate.HostName("a", "shop", "web", translate.DNSLabel), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vsvc.Spec.ClusterIP == "" || vsvc.Spec.ClusterIP != hsvc.Spec.ClusterIP {
		t.Errorf("virtual service ClusterIP %s, host %s", vsvc.Spec.ClusterIP, hsvc.Spec.ClusterIP)
	}
	if hsvc.Spec.Selector[translate.KeyVCluster] != "a" || hsvc.Spec.Selector[translate.KeyNamespace] != "shop" || hsvc.Spec.Selector["app"] != "web" {
		t.Errorf("host service selector %v", hsvc.Spec.Selector)
	}

	// The selector-less Service's manual endpoints reach its host Service.
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		slices, err := hostClient.DiscoveryV1().EndpointSlices("vc-a").List(ctx, metav1.ListOptions{
			LabelSelector: "kubernetes.io/service-name=" + translate.HostName("a", "shop", "db", translate.DNSLabel)})
		if err != nil {
			return false, err.Error()
		}
		for _, sl := range slices.Items {
			for _, e := range sl.Endpoints {
				if len(e.Addresses) == 1 && e.Addresses[0] == "192.0.2.10" {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d host slices for the db service, none with 192.0.2.10", len(slices.Items))
	})

	// kubectl logs and exec on a virtual pod reach the host pod through the virtual
	// node's kubelet endpoint, served by the control plane.
	pod := vpods.Items[0].Name
	if logs := vc.Kubectl(t, "-n", "shop", "logs", pod); !strings.Contains(logs, "simulated by kwok") {
		t.Errorf("kubectl logs on the virtual pod returned %q", logs)
	}
	if out := vc.Kubectl(t, "-n", "shop", "exec", pod, "--", "echo", "hello from the host"); strings.TrimSpace(out) != "hello from the host" {
		t.Errorf("kubectl exec on the virtual pod returned %q", out)
	}

	// kubectl port-forward on the virtual pod reaches the simulated pod, whose ports
	// echo what they receive.
	portForwardEcho(t, vc.Kubeconfig, "shop", pod)

	// The host scheduler's event about the host pod reaches the virtual pod, in the
	// tenant's names.
	testenv.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		evs, err := vClient.CoreV1().Events("shop").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if e.Reason == "Scheduled" && strings.Contains(e.Message, "shop/"+pod) && !strings.Contains(e.Message, "vc-a") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events for %s, none a Scheduled event in virtual names", len(evs.Items), pod)
	})

	// The claim is bound on the host, and the virtual claim says so.
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		vpvc, err := vClient.CoreV1().PersistentVolumeClaims("shop").Get(ctx, "web-data", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return vpvc.Status.Phase == corev1.ClaimBound, "virtual claim " + string(vpvc.Status.Phase)
	})
	ing, err := hostClient.NetworkingV1().Ingresses("vc-a").Get(ctx, translate.HostName("a", "shop", "web", translate.DNSSubdomain), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("host ingress: %v", err)
	}
	if got := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; got != hsvc.Name {
		t.Errorf("host ingress routes to %q, want the host service %q", got, hsvc.Name)
	}

	// /metrics shows sync latency, queue depth and errors per kind.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{
		`kubicle_syncer_sync_duration_seconds_count{kind="pods"}`,
		`kubicle_syncer_sync_errors_total`,
		`kubicle_syncer_pod_create_latency_seconds_count 10`,
		`kubicle_syncer_workqueue_depth{controller="pods"`,
		`kubicle_syncer_controller_runtime_reconcile_errors_total{controller="services"}`,
	} {
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}

	// Deleting the Deployment removes the host pods.
	vc.Kubectl(t, "-n", "shop", "delete", "deployment", "web")
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		pods, err := hostClient.CoreV1().Pods("vc-a").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 0, fmt.Sprintf("%d host pods left", len(pods.Items))
	})
	testenv.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		nodes, err := vClient.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var names []string
		for _, n := range nodes.Items {
			names = append(names, n.Name)
		}
		sort.Strings(names)
		// The nodes it may use stay, with no pod on them, as on any cluster.
		return strings.Join(names, ",") == "kubicle-worker-0,kubicle-worker-1,kubicle-worker-2", fmt.Sprintf("virtual nodes with no pods left: %v", names)
	})
}

// waitServiceAccount waits for the default ServiceAccount of a new namespace: pods are
// refused until the service account controller has made it, on any cluster.
func waitServiceAccount(t *testing.T, kubeconfig, ns string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, func() (bool, string) {
		res := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", kubeconfig, "-n", ns, "get", "serviceaccount", "default")
		return res.ExitCode == 0, "no default service account in " + ns
	})
}

// portForwardEcho runs `kubectl port-forward` to a simulated pod and checks that a
// line sent through the local port comes back.
func portForwardEcho(t *testing.T, kubeconfig, ns, pod string) {
	t.Helper()
	pf := testenv.Start(t, nil, testenv.Kubectl(t), "--kubeconfig", kubeconfig, "-n", ns, "port-forward", "pod/"+pod, ":80")
	var local string
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		// kubectl prints "Forwarding from 127.0.0.1:PORT -> 80".
		for _, line := range strings.Split(pf.Tail(10), "\n") {
			if rest, ok := strings.CutPrefix(line, "Forwarding from 127.0.0.1:"); ok {
				local = "127.0.0.1:" + strings.Fields(rest)[0]
				return true, ""
			}
		}
		return false, "port-forward not ready: " + pf.Tail(3)
	})
	conn, err := net.DialTimeout("tcp", local, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing the forwarded port: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("ping through the virtual cluster\n")); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != "ping through the virtual cluster\n" {
		t.Fatalf("port-forward echo returned %q, %v", got, err)
	}
}

// freeAddr returns a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
