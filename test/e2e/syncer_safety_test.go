package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/internal/testenv"
)

// TestSyncerRestartKeepsExactlyOnePodEach: kill -9 the control plane while it syncs a
// 200-replica Deployment; after the restart the host holds exactly 200 pods for it,
// one per virtual pod, and every virtual pod is Running.
func TestSyncerRestartKeepsExactlyOnePodEach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a host and a virtual cluster")
	}
	host := testenv.StartHost(t, "--nodes", "4")
	vc := virtualCluster(t, host, "big", "vc-big")
	hostClient, vClient := testenv.Client(t, host.Kubeconfig), testenv.Client(t, vc.Kubeconfig)
	ctx := context.Background()

	vc.Kubectl(t, "create", "deployment", "train", "--image=trainer:v1", "--replicas=200")
	// Kill it mid-sync: once some host pods exist, well before all 200 do.
	testenv.Eventually(t, 2*time.Minute, 20*time.Millisecond, func() (bool, string) {
		pods, err := hostClient.CoreV1().Pods("vc-big").List(ctx, metav1.ListOptions{LabelSelector: "app=train"})
		if err != nil {
			return false, err.Error()
		}
		return len(pods.Items) >= 20, fmt.Sprintf("%d host pods", len(pods.Items))
	})
	vc.Kill()
	killedAt := countPods(t, hostClient, "vc-big", "app=train")
	t.Logf("killed the control plane with %d host pods created", killedAt)
	vc.Restart(t)

	testenv.Eventually(t, 4*time.Minute, time.Second, podsRunning(t, vClient, "default", "app=train", 200))
	testenv.Eventually(t, time.Minute, time.Second, podsRunning(t, hostClient, "vc-big", "app=train", 200))
	assertOneHostPodEach(t, vClient, hostClient, "default", "vc-big", "app=train", 200)
}

func countPods(t *testing.T, c kubernetes.Interface, ns, selector string) int {
	t.Helper()
	return len(mustList(t, c, ns, selector))
}

// TestSyncerIsolationBetweenClusters: two virtual clusters in one host namespace, each
// with namespace default and a Deployment web, plus names crafted to collide; no host
// name collides and neither tenant sees the other's objects.
func TestSyncerIsolationBetweenClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a host and two virtual clusters")
	}
	host := testenv.StartHost(t, "--nodes", "2")
	a := virtualCluster(t, host, "a", "shared")
	b := testenv.StartControlPlane(t, "", "--name", "b", "--host-kubeconfig", host.Kubeconfig, "--host-namespace", "shared")
	hostClient := testenv.Client(t, host.Kubeconfig)
	ctx := context.Background()

	for _, vc := range []*testenv.ControlPlane{a, b} {
		vc.Kubectl(t, "create", "deployment", "web", "--image=nginx", "--replicas=2")
		vc.Kubectl(t, "create", "namespace", "c")
		vc.Kubectl(t, "create", "namespace", "b-x-c")
		waitServiceAccount(t, vc.Kubeconfig, "c")
		waitServiceAccount(t, vc.Kubeconfig, "b-x-c")
		vc.Kubectl(t, "apply", "-f", "testdata/crafted.yaml")
	}
	// 2 web + 2 crafted pods per cluster, all distinct on the host.
	testenv.Eventually(t, 2*time.Minute, 500*time.Millisecond, func() (bool, string) {
		pods, err := hostClient.CoreV1().Pods("shared").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return len(pods.Items) == 8 && running == 8, fmt.Sprintf("%d host pods, %d Running", len(pods.Items), running)
	})
	pods, err := hostClient.CoreV1().Pods("shared").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, p := range pods.Items {
		id, err := translate.VirtualIdentity(&p)
		if err != nil {
			t.Fatalf("host pod %s without markers: %v", p.Name, err)
		}
		key := id.VCluster + "/" + id.Namespace + "/" + id.Name
		if other, dup := seen[key]; dup {
			t.Fatalf("virtual pod %s has two host pods: %s and %s", key, other, p.Name)
		}
		seen[key] = p.Name
	}
	if len(seen) != 8 {
		t.Fatalf("want 8 distinct virtual identities on the host, got %v", seen)
	}

	// Each tenant sees its own pods only, with the values it wrote.
	for _, tc := range []struct {
		vc    *testenv.ControlPlane
		other string
	}{{a, "b"}, {b, "a"}} {
		all := tc.vc.Kubectl(t, "get", "pods", "-A", "-o", "name")
		if n := len(strings.Fields(all)); n != 4 {
			t.Errorf("a tenant sees %d pods, want its own 4:\n%s", n, all)
		}
		if got := tc.vc.Kubectl(t, "-n", "c", "get", "configmap", "a-x-b", "-o", "jsonpath={.data.owner}"); got != "c" {
			t.Errorf("configmap c/a-x-b owner %q", got)
		}
		if nodes := tc.vc.Kubectl(t, "get", "nodes", "-o", "name"); strings.Contains(nodes, "shared") {
			t.Errorf("nodes leak host namespace names: %s", nodes)
		}
	}
	cmA := hostClient.CoreV1().ConfigMaps("shared")
	for _, tc := range []struct{ vc, ns, name, owner string }{{"a", "c", "a-x-b", "c"}, {"a", "b-x-c", "a", "b-x-c"}, {"b", "c", "a-x-b", "c"}} {
		name := translate.HostName(tc.vc, tc.ns, tc.name, translate.DNSSubdomain)
		testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			cm, err := cmA.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return cm.Data["owner"] == tc.owner, fmt.Sprintf("host configmap %s owner %q, want %q", name, cm.Data["owner"], tc.owner)
		})
	}
}

// TestSyncerOrphansAndDrift: host objects whose virtual object went away while the
// control plane was down are removed when it starts; a host pod deleted behind the
// syncer's back comes back; a host pod without kubicle's markers is never touched.
func TestSyncerOrphansAndDrift(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a host and a virtual cluster")
	}
	host := testenv.StartHost(t, "--nodes", "2")
	vc := virtualCluster(t, host, "o", "vc-o")
	hostClient, vClient := testenv.Client(t, host.Kubeconfig), testenv.Client(t, vc.Kubeconfig)
	ctx := context.Background()

	// A host pod kubicle does not own, named like a synced one would be.
	host.Kubectl(t, "-n", "vc-o", "run", translate.HostName("o", "default", "keep", translate.DNSSubdomain), "--image=nginx", "--labels=app=keep")
	vc.Kubectl(t, "create", "deployment", "keep", "--image=nginx", "--replicas=2")
	vc.Kubectl(t, "create", "deployment", "gone", "--image=nginx", "--replicas=3")
	testenv.Eventually(t, 2*time.Minute, 500*time.Millisecond, podsRunning(t, hostClient, "vc-o", "app=gone", 3))
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, podsRunning(t, vClient, "default", "app=keep", 2))

	// Drift: delete a host pod behind the syncer's back; it is recreated.
	keep, err := vClient.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=keep"})
	if err != nil {
		t.Fatal(err)
	}
	hostName := translate.HostName("o", "default", keep.Items[0].Name, translate.DNSSubdomain)
	host.Kubectl(t, "-n", "vc-o", "delete", "pod", hostName, "--wait=true")
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		p, err := hostClient.CoreV1().Pods("vc-o").Get(ctx, hostName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodRunning, "host pod " + string(p.Status.Phase)
	})

	// What the host adds to a synced pod (a host controller's label, a toleration that
	// host admission injects) survives the syncer carrying a virtual change down.
	host.Kubectl(t, "-n", "vc-o", "label", "pod", hostName, "queue.example.com/admitted=true")
	host.Kubectl(t, "-n", "vc-o", "patch", "pod", hostName, "--type=json",
		`-p=[{"op":"add","path":"/spec/tolerations/-","value":{"key":"example.com/pool","operator":"Exists","effect":"NoSchedule"}}]`)
	vc.Kubectl(t, "label", "pod", keep.Items[0].Name, "tier=frontend")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		p, err := hostClient.CoreV1().Pods("vc-o").Get(ctx, hostName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		tolerated := false
		for _, tol := range p.Spec.Tolerations {
			tolerated = tolerated || tol.Key == "example.com/pool"
		}
		return p.Labels["tier"] == "frontend" && p.Labels["queue.example.com/admitted"] == "true" && tolerated,
			fmt.Sprintf("host pod labels %v, host toleration kept: %v", p.Labels, tolerated)
	})

	// Orphans: stop the control plane, delete the Deployment with the syncer off (the
	// same data directory, no host flags), start it again with the syncer.
	vc.Stop(30 * time.Second)
	offline := testenv.StartControlPlane(t, vc.DataDir)
	offline.Kubectl(t, "delete", "deployment", "gone")
	offline.Kubectl(t, "delete", "pods", "-l", "app=gone", "--grace-period=0", "--force")
	offline.Stop(30 * time.Second)
	if n := len(mustList(t, hostClient, "vc-o", "app=gone")); n != 3 {
		t.Fatalf("with the syncer down the host pods should still be there, got %d", n)
	}
	vc.Restart(t)
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		n := len(mustList(t, hostClient, "vc-o", "app=gone"))
		return n == 0, fmt.Sprintf("%d orphaned host pods left", n)
	})
	if n := len(mustList(t, hostClient, "vc-o", "app=keep")); n != 3 {
		t.Fatalf("want the 2 synced keep pods and the unmanaged one on the host, got %d", n)
	}
}

func mustList(t *testing.T, c kubernetes.Interface, ns, selector string) []corev1.Pod {
	t.Helper()
	pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}
