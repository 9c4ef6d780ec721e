package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/internal/testenv"
)

// benchNodes matches the baseline in NOTES.md: 1000 pods on 11 simulated nodes.
const benchNodes = "11"

// startVirtual starts a virtual cluster syncing into host namespace ns.
func startVirtual(b *testing.B, host *testenv.Host, name, ns string) *testenv.ControlPlane {
	b.Helper()
	host.Kubectl(b, "create", "namespace", ns)
	testenv.Eventually(b, time.Minute, 100*time.Millisecond, func() (bool, string) {
		res := testenv.Run(b, time.Minute, nil, testenv.Kubectl(b), "--kubeconfig", host.Kubeconfig, "-n", ns, "get", "sa", "default")
		return res.ExitCode == 0, "waiting for the default service account"
	})
	return testenv.StartControlPlane(b, "", "--name", name, "--host-kubeconfig", host.Kubeconfig, "--host-namespace", ns)
}

// simulatedImage is the image of pods on simulated nodes, which pull nothing.
const simulatedImage = "registry.example/load:v1"

// runPods creates a Deployment of n replicas of image (with args) in ns through
// kubeconfig's cluster and returns how long until n of its pods are Running, as that
// cluster reports them.
func runPods(b *testing.B, kubeconfig, ns string, n int, image string, args ...string) time.Duration {
	b.Helper()
	client := testenv.Client(b, kubeconfig)
	start := time.Now()
	create := []string{"--kubeconfig", kubeconfig, "-n", ns,
		"create", "deployment", "load", "--image=" + image, fmt.Sprintf("--replicas=%d", n)}
	if len(args) > 0 {
		create = append(append(create, "--"), args...)
	}
	testenv.MustRun(b, time.Minute, nil, testenv.Kubectl(b), create...)
	testenv.Eventually(b, 10*time.Minute, 250*time.Millisecond, func() (bool, string) {
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=load", ResourceVersion: "0"})
		if err != nil {
			return false, err.Error()
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running >= n, fmt.Sprintf("%d of %d Running", running, n)
	})
	return time.Since(start)
}

func deletePods(b *testing.B, kubeconfig, ns string) {
	b.Helper()
	testenv.MustRun(b, 5*time.Minute, nil, testenv.Kubectl(b), "--kubeconfig", kubeconfig, "-n", ns, "delete", "deployment", "load", "--wait=true")
	client := testenv.Client(b, kubeconfig)
	testenv.Eventually(b, 5*time.Minute, time.Second, func() (bool, string) {
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=load"})
		if err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items))
	})
}

// BenchmarkPods1000 compares 1000 pods created directly on the embedded host with
// 1000 pods created in a virtual cluster on the same host (same nodes): the time until
// all are Running as the cluster they were created in reports it.
func BenchmarkPods1000(b *testing.B) {
	const n = 1000
	host := testenv.StartHost(b, "--nodes", benchNodes)
	host.Kubectl(b, "create", "namespace", "direct")
	vc := startVirtual(b, host, "bench", "vc-bench")
	for i := 0; i < b.N; i++ {
		direct := runPods(b, host.Kubeconfig, "direct", n, simulatedImage)
		deletePods(b, host.Kubeconfig, "direct")
		virtual := runPods(b, vc.Kubeconfig, "default", n, simulatedImage)
		deletePods(b, vc.Kubeconfig, "default")
		b.ReportMetric(direct.Seconds(), "s-direct")
		b.ReportMetric(virtual.Seconds(), "s-virtual")
		b.ReportMetric(virtual.Seconds()/direct.Seconds(), "ratio")
		b.Logf("1000 pods Running: direct on the host %s, through the virtual cluster %s (%.2fx)", direct.Round(100*time.Millisecond), virtual.Round(100*time.Millisecond), virtual.Seconds()/direct.Seconds())
	}
}

// BenchmarkPodSyncLatency creates pods one at a time (every 100 ms, low load) in a
// virtual cluster and measures, by watches on both clusters in this process, the time
// from the virtual pod's creation to its host pod's creation. Reports p50 and p99.
func BenchmarkPodSyncLatency(b *testing.B) {
	const n = 200
	host := testenv.StartHost(b, "--nodes", "3")
	vc := startVirtual(b, host, "lat", "vc-lat")
	hostClient, vClient := testenv.Client(b, host.Kubeconfig), testenv.Client(b, vc.Kubeconfig)
	for i := 0; i < b.N; i++ {
		ns := fmt.Sprintf("lat-%d", i)
		vc.Kubectl(b, "create", "namespace", ns)
		testenv.Eventually(b, time.Minute, 100*time.Millisecond, func() (bool, string) {
			_, err := vClient.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
			return err == nil, "waiting for the default service account"
		})
		lat := measureLatency(b, hostClient, vClient, "vc-lat", ns, n)
		b.ReportMetric(percentile(lat, 0.5), "ms-p50")
		b.ReportMetric(percentile(lat, 0.99), "ms-p99")
		b.Logf("virtual pod → host pod created, %d pods: p50 %.1f ms, p99 %.1f ms, max %.1f ms", len(lat), percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1))
	}
}

func measureLatency(b *testing.B, hostClient, vClient kubernetes.Interface, hostNS, ns string, n int) []float64 {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seenVirtual, seenHost := map[string]time.Time{}, map[string]time.Time{}
	done := make(chan struct{})
	watchPods := func(c kubernetes.Interface, namespace string, record func(*corev1.Pod, time.Time)) {
		w, err := c.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Error(err)
			return
		}
		go func() {
			for ev := range w.ResultChan() {
				if ev.Type != watch.Added {
					continue
				}
				record(ev.Object.(*corev1.Pod), time.Now())
			}
		}()
	}
	watchPods(vClient, ns, func(p *corev1.Pod, t time.Time) {
		mu.Lock()
		defer mu.Unlock()
		seenVirtual[p.Name] = t
	})
	watchPods(hostClient, hostNS, func(p *corev1.Pod, t time.Time) {
		id, err := translate.VirtualIdentity(p)
		if err != nil || id.Namespace != ns {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seenHost[id.Name] = t
		if len(seenHost) == n {
			close(done)
		}
	})
	time.Sleep(time.Second) // let both watches start
	for i := 0; i < n; i++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Labels: map[string]string{"app": "lat"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/lat:v1"}}},
		}
		if _, err := vClient.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d host pods appeared", len(seenHost), n)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []float64
	for name, h := range seenHost {
		if v, ok := seenVirtual[name]; ok {
			lat = append(lat, float64(h.Sub(v).Microseconds())/1000)
		}
	}
	return lat
}
