package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kubicle.dev/kubicle/internal/realnode"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/internal/testenv"
)

// TestControlPlaneHA: a virtual cluster with three control plane replicas (driver
// pod, real containers on a real node, Postgres store). One replica leads the
// controller manager and the syncer, through Leases in the virtual cluster; every
// replica serves the API. kill -9 of the leader's process while it syncs a
// 200-replica Deployment hands over to another replica, and the host then holds
// exactly 200 pods for it, one per virtual pod. The tenant's pods run on a pool of
// simulated nodes (tainted so that only the tenant's pods go there), since 200 real
// containers do not fit this machine; the control plane is what this test proves
// real.
func TestControlPlaneHA(t *testing.T) {
	testenv.RequireRealNodes(t)
	kubicle := testenv.Kubicle(t)
	host := testenv.StartHost(t, "--real-nodes", "1", "--nodes", "3")
	t.Cleanup(func() { testenv.Run(t, 3*time.Minute, nil, kubicle, "host", "--state-dir", host.StateDir, "down") })
	pg := testenv.StartPostgresOn(t, realnode.HostIP)
	pg.CreateDatabase(t, "vc_ha")
	u := newKubicleUser(t, kubicle, host, "ha")
	hostClient := testenv.Client(t, host.Kubeconfig)
	ctx := context.Background()

	// The simulated nodes are a pool for tenant pods only: control plane pods,
	// which do not tolerate the taint, go to the real node.
	host.Kubectl(t, "taint", "nodes", "-l", "type=kwok", "pool=simulated:NoSchedule")
	host.Kubectl(t, "create", "namespace", "vc-ha")
	host.Kubectl(t, "-n", "vc-ha", "create", "secret", "generic", "pg-db", "--from-literal=dsn="+pg.DSNOn("vc_ha"))
	file := filepath.Join(t.TempDir(), "ha.yaml")
	writeTestFile(t, file, `apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata: {name: ha, namespace: vc-ha}
spec:
  controlPlane:
    driver: pod
    replicas: 3
    backingStore:
      type: database
      database: {driver: postgres, dsnSecretRef: {name: pg-db}}
  isolation:
    mode: dedicated
    nodeSelector: {type: kwok}
    tolerations: [{key: pool, operator: Equal, value: simulated, effect: NoSchedule}]
`)
	u.mustRun("create", "ha", "-f", file)
	v := &tenant{t: t, u: u, name: "ha", context: "kubicle_ha_vc-ha_kubicle-host"}
	vClient := tenantClient(t, u, v.context)

	// Three replicas, Ready, each in a real container.
	replicas := map[string]corev1.Pod{}
	for _, p := range mustList(t, hostClient, "vc-ha", "kubicle.dev/component=control-plane") {
		if p.Spec.NodeName != realnode.NodeName(0) || !podReady(&p) {
			t.Fatalf("control plane pod %s: node %s, ready %v; want Ready on the real node %s", p.Name, p.Spec.NodeName, podReady(&p), realnode.NodeName(0))
		}
		replicas[p.Name] = p
	}
	if len(replicas) != 3 {
		t.Fatalf("want 3 control plane pods, got %d", len(replicas))
	}

	// One leader per Lease, a replica's pod; the same Leases a real cluster has.
	leader := func(lease string) string {
		t.Helper()
		var l coordinationv1.Lease
		testenv.Eventually(t, time.Minute, time.Second, func() (bool, string) {
			got, err := vClient.CoordinationV1().Leases("kube-system").Get(ctx, lease, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			l = *got
			return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", "no holder"
		})
		pod, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
		if _, ok := replicas[pod]; !ok {
			t.Fatalf("lease %s held by %q, not a replica's pod", lease, *l.Spec.HolderIdentity)
		}
		return pod
	}
	syncLeader, cmLeader := leader("kubicle-syncer"), leader("kube-controller-manager")
	t.Logf("leaders: syncer %s, controller manager %s", syncLeader, cmLeader)

	v.k("create", "deployment", "train", "--image=trainer:v1", "--replicas=200")
	testenv.Eventually(t, 3*time.Minute, 20*time.Millisecond, func() (bool, string) {
		n := countPods(t, hostClient, "vc-ha", "app=train")
		return n >= 20, fmt.Sprintf("%d host pods", n)
	})
	killed := time.Now()
	killContainer(t, replicas[syncLeader])
	atKill := countPods(t, hostClient, "vc-ha", "app=train")
	t.Logf("kill -9 of %s (the syncer's leader) with %d host pods created", syncLeader, atKill)

	// Another replica takes the syncer's Lease within about LeaseDuration.
	var next string
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() (bool, string) {
		l, err := vClient.CoordinationV1().Leases("kube-system").Get(ctx, "kubicle-syncer", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		next, _, _ = strings.Cut(ptrString(l.Spec.HolderIdentity), "_")
		return next != "" && next != syncLeader, "held by " + ptrString(l.Spec.HolderIdentity)
	})
	handover := time.Since(killed)
	t.Logf("syncer handed over to %s %.1fs after the kill", next, handover.Seconds())
	if handover > 40*time.Second {
		t.Errorf("handover took %s", handover)
	}

	if cmLeader == syncLeader {
		// The controller manager's Lease moves too.
		testenv.Eventually(t, time.Minute, time.Second, func() (bool, string) {
			l, err := vClient.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			holder, _, _ := strings.Cut(ptrString(l.Spec.HolderIdentity), "_")
			return holder != "" && holder != cmLeader, "controller manager lease held by " + ptrString(l.Spec.HolderIdentity)
		})
	}
	testenv.Eventually(t, 5*time.Minute, time.Second, podsRunning(t, vClient, "default", "app=train", 200))
	testenv.Eventually(t, time.Minute, time.Second, podsRunning(t, hostClient, "vc-ha", "app=train", 200))
	// Exactly one host pod per virtual pod, none lost or doubled, and one ReplicaSet.
	assertOneHostPodEach(t, vClient, hostClient, "default", "vc-ha", "app=train", 200)
	if rs := v.k("get", "replicasets", "-l", "app=train", "-o", "name"); strings.Count(strings.TrimSpace(rs), "\n") != 0 {
		t.Fatalf("want one ReplicaSet, got %q", rs)
	}

	// The killed replica came back (its container restarted) and follows. Each
	// replica serves the API and logs: its API server reaches the kubelet
	// endpoint at the one loopback port virtual nodes advertise. Asked one by
	// one at their pod IPs, with the tenant's credentials.
	testenv.Eventually(t, 3*time.Minute, time.Second, func() (bool, string) {
		p, err := hostClient.CoreV1().Pods("vc-ha").Get(ctx, syncLeader, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return podReady(p), fmt.Sprintf("%s ready %v", p.Name, podReady(p))
	})
	cfg := tenantConfig(t, u, v.context)
	pod := mustList(t, vClient, "default", "app=train")[0].Name
	for _, p := range mustList(t, hostClient, "vc-ha", "kubicle.dev/component=control-plane") {
		c := rest.CopyConfig(cfg)
		c.Host = "https://" + net.JoinHostPort(p.Status.PodIP, "6443")
		c.TLSClientConfig.ServerName = "ha.vc-ha.svc" // a name of the shared serving certificate
		replica := kubernetes.NewForConfigOrDie(c)
		if n := len(mustList(t, replica, "default", "app=train")); n != 200 {
			t.Fatalf("replica %s lists %d pods", p.Name, n)
		}
		if out, err := replica.CoreV1().Pods("default").GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx); err != nil || !strings.Contains(string(out), "simulated") {
			t.Fatalf("replica %s: logs of %s: %q, %v\n%s", p.Name, pod, out, err, host.Kubectl(t, "get", "nodes", "-o", "yaml", "--show-managed-fields"))
		}
	}
}

// tenantConfig is the client config of the user's kubeconfig context.
func tenantConfig(t *testing.T, u *kubicleUser, context string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: u.userConfig},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// tenantClient is a client of the virtual cluster through the user's kubeconfig
// context.
func tenantClient(t *testing.T, u *kubicleUser, context string) kubernetes.Interface {
	t.Helper()
	return kubernetes.NewForConfigOrDie(tenantConfig(t, u, context))
}

// assertOneHostPodEach checks that the host holds exactly one pod for each of the
// want virtual pods, on the same node (the default node view shows host names)
// with the same IP.
func assertOneHostPodEach(t *testing.T, vClient, hostClient kubernetes.Interface, vns, hns, selector string, want int) {
	t.Helper()
	vpods, hpods := mustList(t, vClient, vns, selector), mustList(t, hostClient, hns, selector)
	if len(vpods) != want || len(hpods) != want {
		t.Fatalf("want %d pods, virtual %d, host %d", want, len(vpods), len(hpods))
	}
	byUID := map[string]corev1.Pod{}
	for _, hp := range hpods {
		id, err := translate.VirtualIdentity(&hp)
		if err != nil {
			t.Fatalf("host pod %s: %v", hp.Name, err)
		}
		if _, dup := byUID[string(id.UID)]; dup {
			t.Fatalf("two host pods for virtual pod %s", id)
		}
		byUID[string(id.UID)] = hp
	}
	for _, vp := range vpods {
		hp, ok := byUID[string(vp.UID)]
		if !ok {
			t.Fatalf("virtual pod %s has no host pod", vp.Name)
		}
		if vp.Spec.NodeName != hp.Spec.NodeName || vp.Status.PodIP != hp.Status.PodIP {
			t.Fatalf("virtual pod %s: node %s IP %s; host: %s %s", vp.Name, vp.Spec.NodeName, vp.Status.PodIP, hp.Spec.NodeName, hp.Status.PodIP)
		}
	}
}

// killContainer sends SIGKILL to the main process of pod's first container, found
// on this machine (real nodes run their containers here) by the container ID in
// its cgroup: kill -9, not a graceful stop through the API.
func killContainer(t *testing.T, pod corev1.Pod) {
	t.Helper()
	if len(pod.Status.ContainerStatuses) == 0 {
		t.Fatalf("pod %s has no container status", pod.Name)
	}
	_, id, ok := strings.Cut(pod.Status.ContainerStatuses[0].ContainerID, "://")
	if !ok || id == "" {
		t.Fatalf("pod %s: container ID %q", pod.Name, pod.Status.ContainerStatuses[0].ContainerID)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(cg), id) {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", p.Name(), "status"))
		if err != nil {
			continue
		}
		// The container's PID 1: the last NSpid is 1.
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "NSpid:" && f[len(f)-1] == "1" {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill -9 %d: %v", pid, err)
				}
				return
			}
		}
	}
	t.Fatalf("no process of container %s (pod %s) on this machine", id, pod.Name)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
