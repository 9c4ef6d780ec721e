package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/internal/testenv"
)

// isolatedCluster starts the embedded host and a virtual cluster name (driver
// process, host namespace vc-NAME) whose spec.isolation is the YAML line isolation.
func isolatedCluster(t *testing.T, name, isolation string) (*testenv.Host, *testenv.ControlPlane) {
	t.Helper()
	host := testenv.StartHost(t)
	config := filepath.Join(t.TempDir(), "vc.yaml")
	writeTestFile(t, config, fmt.Sprintf(`apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata: {name: %[1]s, namespace: vc-%[1]s}
spec:
  controlPlane: {driver: process}
  isolation:
    %[2]s
`, name, isolation))
	return host, virtualCluster(t, host, name, "vc-"+name, "--config", config)
}

// TestEndpointSliceConfinement: a tenant's Service without selector, with
// EndpointSlices written by hand, reaches the host only with addresses of the
// tenant's own pods or of spec.isolation.allowedEndpointCIDRs. A slice that names
// another namespace's pod or the host API server's Service IP stays in the virtual
// cluster with a Warning event naming the address and the field; its host Service
// gets no endpoint. A slice naming a pod that is then deleted leaves the host.
// (API behaviour, on simulated nodes.)
func TestEndpointSliceConfinement(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and a virtual control plane")
	}
	host, vc := isolatedCluster(t, "e", "allowedEndpointCIDRs: [192.0.2.0/24]")
	ctx := context.Background()
	hostClient := testenv.Client(t, host.Kubeconfig)

	// A pod of another namespace of the host: another tenant's, or the platform's.
	host.Kubectl(t, "create", "namespace", "other")
	waitServiceAccount(t, host.Kubeconfig, "other")
	host.Kubectl(t, "-n", "other", "run", "stranger", "--image=registry.example/stranger:v1")
	podIP := func(kubeconfig, ns, name string) string {
		var ip string
		testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
			ip = testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", kubeconfig, "-n", ns, "get", "pod", name, "-o", "jsonpath={.status.podIP}").Stdout
			return ip != "", "waiting for the IP of pod " + ns + "/" + name
		})
		return ip
	}
	strangerIP := podIP(host.Kubeconfig, "other", "stranger")

	waitServiceAccount(t, vc.Kubeconfig, "default")
	vc.Kubectl(t, "run", "own", "--image=registry.example/own:v1")
	ownIP := podIP(vc.Kubeconfig, "default", "own")

	slice := func(name, addr string) string {
		return fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %s, namespace: default, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints: [{addresses: [%q]}]
---
`, name, addr)
	}
	manifest := filepath.Join(t.TempDir(), "slices.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  ports: [{name: pg, port: 5432, targetPort: 5432}]
---
`+slice("own-pod", ownIP)+slice("external", "192.0.2.10")+slice("stranger", strangerIP)+slice("host-api", "10.96.0.1")), 0o600); err != nil {
		t.Fatal(err)
	}
	vc.Kubectl(t, "apply", "-f", manifest)

	hostSlice := func(name string) string { return translate.HostName("e", "default", name, translate.DNSSubdomain) }
	for _, name := range []string{"own-pod", "external"} {
		testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			_, err := hostClient.DiscoveryV1().EndpointSlices("vc-e").Get(ctx, hostSlice(name), metav1.GetOptions{})
			return err == nil, fmt.Sprintf("host slice of %s: %v", name, err)
		})
	}
	for _, tc := range []struct{ name, addr string }{{"stranger", strangerIP}, {"host-api", "10.96.0.1"}} {
		testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			events := vc.Kubectl(t, "get", "events", "--field-selector", "involvedObject.kind=EndpointSlice,involvedObject.name="+tc.name,
				"-o", `jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}`)
			want := fmt.Sprintf("Warning SyncFailed: cannot run on the host: endpoint address %s is not a pod of this virtual cluster: a Service without selector may name its own pods' IPs, and the ranges in spec.isolation.allowedEndpointCIDRs (192.0.2.0/24)", tc.addr)
			return strings.Contains(events, want), fmt.Sprintf("events of slice %s:\n%s\nwant %s", tc.name, events, want)
		})
		if _, err := hostClient.DiscoveryV1().EndpointSlices("vc-e").Get(ctx, hostSlice(tc.name), metav1.GetOptions{}); err == nil {
			t.Fatalf("slice %s naming %s reached the host", tc.name, tc.addr)
		}
	}
	// The host Service fronts the allowed addresses only.
	slices, err := hostClient.DiscoveryV1().EndpointSlices("vc-e").List(ctx, metav1.ListOptions{
		LabelSelector: "kubernetes.io/service-name=" + translate.HostName("e", "default", "db", translate.DNSLabel)})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			addrs = append(addrs, e.Addresses...)
		}
	}
	if got, want := strings.Join(addrs, ","), ownIP+",192.0.2.10"; len(addrs) != 2 || !strings.Contains(got, ownIP) || !strings.Contains(got, "192.0.2.10") {
		t.Fatalf("addresses behind the host Service: %s, want %s", got, want)
	}

	// Once the pod is gone its IP is no longer the tenant's: the slice naming it
	// is judged again and leaves the host.
	vc.Kubectl(t, "delete", "pod", "own", "--wait=true")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		_, err := hostClient.DiscoveryV1().EndpointSlices("vc-e").Get(ctx, hostSlice("own-pod"), metav1.GetOptions{})
		return err != nil, fmt.Sprintf("host slice of own-pod after its pod was deleted: %v", err)
	})
	if _, err := hostClient.DiscoveryV1().EndpointSlices("vc-e").Get(ctx, hostSlice("external"), metav1.GetOptions{}); err != nil {
		t.Fatalf("the slice of the allowed range left the host too: %v", err)
	}
}

// TestServicePolicy: a tenant's Service of a type that spec.isolation.
// allowedServiceTypes does not allow, or with spec.externalIPs, is refused by the
// virtual API server at once (kubectl gets Forbidden naming the field and the
// config) and never reaches the host, on create and on a change of type; the
// allowed types are synced. (API behaviour, on simulated nodes.)
func TestServicePolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and a virtual control plane")
	}
	host, vc := isolatedCluster(t, "p", "allowedServiceTypes: [ClusterIP, LoadBalancer]")
	kubectl := testenv.Kubectl(t)
	run := func(args ...string) testenv.Result {
		t.Helper()
		return testenv.Run(t, time.Minute, nil, kubectl, append([]string{"--kubeconfig", vc.Kubeconfig}, args...)...)
	}
	hostServices := func() string {
		return host.Kubectl(t, "-n", "vc-p", "get", "services", "-l", "kubicle.dev/vcluster=p", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.type}{"\n"}{end}`)
	}
	waitServiceAccount(t, vc.Kubeconfig, "default")

	res := run("create", "service", "nodeport", "np", "--tcp=80:8080")
	if want := `services "np" is forbidden: spec.type: NodePort is not allowed in this virtual cluster; spec.isolation.allowedServiceTypes allows ClusterIP, LoadBalancer`; res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Fatalf("a NodePort Service: %s\nwant %q", res, want)
	}
	manifest := filepath.Join(t.TempDir(), "external.yaml")
	writeTestFile(t, manifest, `apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec:
  ports: [{port: 80}]
  externalIPs: [203.0.113.9]
`)
	res = run("apply", "-f", manifest)
	if want := `services "ext" is forbidden: spec.externalIPs (203.0.113.9): a Service of a virtual cluster cannot claim addresses on the host's nodes`; res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Fatalf("a Service with externalIPs: %s\nwant %q", res, want)
	}

	vc.Kubectl(t, "create", "service", "clusterip", "web", "--tcp=80:8080")
	vc.Kubectl(t, "create", "service", "loadbalancer", "lb", "--tcp=80:8080")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		got := hostServices()
		return strings.Count(got, "=ClusterIP") == 1 && strings.Count(got, "=LoadBalancer") == 1, "host services:\n" + got
	})
	// Changing an allowed Service to a refused type is refused too.
	res = run("patch", "service", "web", "-p", `{"spec":{"type":"NodePort"}}`)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "spec.type: NodePort is not allowed in this virtual cluster") {
		t.Fatalf("patching web to NodePort: %s", res)
	}
	if got := hostServices(); strings.Contains(got, "NodePort") || strings.Count(got, "\n") != 2 {
		t.Fatalf("host services after the refusals:\n%s", got)
	}
}

// TestPodSecurityPolicy: a tenant's pod is judged by the tenant's
// spec.isolation.podSecurityStandard (baseline by default) with the upstream Pod
// Security library, in the virtual API server, whatever pod-security labels the
// tenant puts on its own namespaces, and even where the host namespace enforces
// nothing (as here: no Pod Security Admission labels on it). A pod with
// hostNetwork and a hostPath volume is refused at once in the standard's words and
// never reaches the host; a plain pod runs. (API behaviour, on simulated nodes.)
func TestPodSecurityPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and a virtual control plane")
	}
	host := testenv.StartHost(t)
	vc := virtualCluster(t, host, "s", "vc-s")
	if labels := host.Kubectl(t, "get", "namespace", "vc-s", "-o", "jsonpath={.metadata.labels}"); strings.Contains(labels, "pod-security") {
		t.Fatalf("the host namespace enforces pod security itself: %s", labels)
	}
	waitServiceAccount(t, vc.Kubeconfig, "default")
	// The tenant, admin of its cluster, lifts the standard on its namespace.
	vc.Kubectl(t, "label", "namespace", "default", "pod-security.kubernetes.io/enforce=privileged")
	escape := filepath.Join(t.TempDir(), "escape.yaml")
	writeTestFile(t, escape, `apiVersion: v1
kind: Pod
metadata: {name: escape, namespace: default}
spec:
  hostNetwork: true
  containers:
  - {name: c, image: registry.example/escape:v1, volumeMounts: [{name: etc, mountPath: /host-etc}]}
  volumes: [{name: etc, hostPath: {path: /etc}}]
`)
	res := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", vc.Kubeconfig, "apply", "-f", escape)
	want := `pods "escape" is forbidden: violates PodSecurity "baseline" (spec.isolation.podSecurityStandard): host namespaces (hostNetwork=true), hostPath volumes (volume "etc")`
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Fatalf("a pod with hostNetwork and a hostPath volume: %s\nwant %q", res, want)
	}
	vc.Kubectl(t, "run", "plain", "--image=registry.example/plain:v1")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		pods := host.Kubectl(t, "-n", "vc-s", "get", "pods", "-l", "kubicle.dev/vcluster=s", "-o", `jsonpath={range .items[*]}{.metadata.annotations.kubicle\.dev/name}{"\n"}{end}`)
		return strings.TrimSpace(pods) == "plain", "host pods of s: " + pods
	})
	// kubectl debug adds an ephemeral container through the same check.
	res = testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", vc.Kubeconfig, "debug", "plain", "--image=registry.example/debug:v1", "--profile=sysadmin", "--", "sh")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, `violates PodSecurity "baseline" (spec.isolation.podSecurityStandard): privileged (container "debugger`) {
		t.Fatalf("kubectl debug --profile=sysadmin: %s", res)
	}
}

// TestPlacementPolicy: a tenant's pods stay on the nodes the platform lets it use.
// The host has a worker node and a GPU node tainted nvidia.com/gpu:NoSchedule.
// Before any pod runs, each tenant's virtual cluster shows the nodes it may use.
// Tenant p (default config, and its own scheduler, so that spec.nodeName reaches
// the syncer) is refused a toleration of the GPU taint at once, by the virtual API
// server, with the rule and the field named; a pod that names the GPU node, or a
// node that does not exist, never reaches the host and gets a Warning event and a
// PodScheduled=False condition that say why; one that names the worker node runs
// there. Tenant g, granted the toleration (isolation.allowedTolerations), runs its
// pod on the GPU node. (API behaviour, on simulated nodes.)
func TestPlacementPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and two virtual control planes")
	}
	host := testenv.StartHost(t, "--nodes", "1", "--gpu-nodes", "1")
	config := func(name, spec string) string {
		file := filepath.Join(t.TempDir(), name+".yaml")
		writeTestFile(t, file, fmt.Sprintf("apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata: {name: %[1]s, namespace: vc-%[1]s}\nspec:\n%[2]s", name, spec))
		return file
	}
	p := virtualCluster(t, host, "p", "vc-p", "--config", config("p", "  controlPlane: {driver: process, scheduler: {enabled: true}}\n"))
	g := virtualCluster(t, host, "g", "vc-g", "--config", config("g",
		"  controlPlane: {driver: process}\n  isolation:\n    allowedTolerations: [{key: nvidia.com/gpu, operator: Exists}]\n"+
			"  sync:\n    fromHost:\n      nodes: {selector: {matchLabels: {nvidia.com/gpu.present: \"true\"}}}\n"))
	waitServiceAccount(t, p.Kubeconfig, "default")
	waitServiceAccount(t, g.Kubeconfig, "default")

	// Before any pod runs, each shows the nodes it may use: p the worker only
	// (the GPU node's taint is not granted to it), g the GPU nodes its
	// selector selects.
	for _, tc := range []struct {
		vc   *testenv.ControlPlane
		want string
	}{{p, "kubicle-worker-0"}, {g, "kubicle-gpu-0"}} {
		testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			got := strings.TrimSpace(tc.vc.Kubectl(t, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name} {end}`))
			return got == tc.want, fmt.Sprintf("nodes of a new virtual cluster: %q, want %q", got, tc.want)
		})
	}
	if gpus := g.Kubectl(t, "get", "node", "kubicle-gpu-0", "-o", `jsonpath={.status.allocatable.nvidia\.com/gpu}`); gpus == "" || gpus == "0" {
		t.Errorf("the GPU node shows no GPUs: %q", gpus)
	}

	onGPU := `--overrides={"spec":{"tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}],"nodeSelector":{"nvidia.com/gpu.present":"true"}}}`
	res := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", p.Kubeconfig, "run", "train", "--image=registry.example/train:v1", onGPU)
	want := `pods "train" is forbidden: refused by the virtual cluster's placement: spec.tolerations[0]: Forbidden: toleration of nvidia.com/gpu (any value, effect NoSchedule) is not granted to this virtual cluster: nodes with that taint are reserved by the platform (isolation.allowedTolerations lists the tolerations its pods may carry)`
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
		t.Fatalf("tenant p tolerating the GPU taint: %s\nwant %q", res, want)
	}
	g.Kubectl(t, "run", "train", "--image=registry.example/train:v1", onGPU)

	// Names a node itself: the syncer judges the node.
	for _, node := range []string{"kubicle-gpu-0", "nowhere", "kubicle-worker-0"} {
		p.Kubectl(t, "run", "on-"+node, "--image=registry.example/pinned:v1", fmt.Sprintf(`--overrides={"spec":{"nodeName":%q}}`, node))
	}
	for pod, why := range map[string]string{
		"on-kubicle-gpu-0": "refused by the virtual cluster's placement: spec.nodeName: node kubicle-gpu-0 has taint nvidia.com/gpu=present:NoSchedule, which the pod does not tolerate",
		"on-nowhere":       "refused by the virtual cluster's placement: spec.nodeName: node nowhere does not exist on the host",
	} {
		testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			events := p.Kubectl(t, "get", "events", "--field-selector", "involvedObject.kind=Pod,involvedObject.name="+pod,
				"-o", `jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}`)
			cond := p.Kubectl(t, "get", "pod", pod, "-o", `jsonpath={range .status.conditions[?(@.type=="PodScheduled")]}{.status} {.reason}: {.message}{end}`)
			return strings.Contains(events, "Warning SyncRefused: "+why) && cond == "False SyncRefused: "+why,
				fmt.Sprintf("pod %s: events\n%s\ncondition %q", pod, events, cond)
		})
	}

	running := func(c *testenv.ControlPlane, pod, node string) {
		t.Helper()
		testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
			got := c.Kubectl(t, "get", "pod", pod, "-o", "jsonpath={.spec.nodeName} {.status.phase}")
			return got == node+" Running", fmt.Sprintf("pod %s: %q, want %q", pod, got, node+" Running")
		})
	}
	running(p, "on-kubicle-worker-0", "kubicle-worker-0")
	running(g, "train", "kubicle-gpu-0")
	hostPods := func(ns string) string {
		return strings.TrimSpace(host.Kubectl(t, "-n", ns, "get", "pods", "-l", "kubicle.dev/name",
			"-o", `jsonpath={range .items[*]}{.metadata.annotations.kubicle\.dev/name}@{.spec.nodeName}{"\n"}{end}`))
	}
	if got := hostPods("vc-p"); got != "on-kubicle-worker-0@kubicle-worker-0" {
		t.Errorf("host pods of p: %q, want only on-worker-0 on worker-0", got)
	}
	if got := hostPods("vc-g"); got != "train@kubicle-gpu-0" {
		t.Errorf("host pods of g: %q, want train on gpu-0", got)
	}
}

// TestTenancyBoundary: three tenants on one host. "hostile", admin of its virtual
// cluster with the default config, tries every way out it has: another tenant's
// volume by name, another tenant's pod behind a Service of its own, host namespaces
// and paths, the GPU nodes' taint, a node port and external IPs, a priority class
// of its own, a NetworkPolicy opening the host API server, a privileged kubectl
// debug, and its service account's token against the host API. Each is refused,
// at once or by a Warning event that names the rule and the field; nothing of it
// reaches the host; the syncer logs no error for it. "calm" (restricted) keeps
// running untouched, and is itself refused a root pod in the restricted
// standard's words. "trusted", where the platform opted in (privileged, node
// ports), gets what hostile was refused. (API behaviour, on simulated nodes; the
// network boundary is shown on real nodes by TestTenantWorkloads.)
func TestTenancyBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and three virtual control planes")
	}
	host := testenv.StartHost(t, "--nodes", "1", "--gpu-nodes", "1")
	tenant := func(name, spec string) *testenv.ControlPlane {
		file := filepath.Join(t.TempDir(), name+".yaml")
		writeTestFile(t, file, fmt.Sprintf("apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata: {name: %[1]s, namespace: vc-%[1]s}\nspec:\n  controlPlane: {driver: process}\n%[2]s", name, spec))
		vc := virtualCluster(t, host, name, "vc-"+name, "--config", file)
		waitServiceAccount(t, vc.Kubeconfig, "default")
		return vc
	}
	calm := tenant("calm", "  isolation: {podSecurityStandard: restricted}\n")
	hostile := tenant("hostile", "")
	trusted := tenant("trusted", "  isolation: {podSecurityStandard: privileged, allowedServiceTypes: [ClusterIP, NodePort]}\n")
	kubectl := func(vc *testenv.ControlPlane, args ...string) testenv.Result {
		return testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), append([]string{"--kubeconfig", vc.Kubeconfig}, args...)...)
	}
	apply := func(vc *testenv.ControlPlane, manifest string) testenv.Result {
		file := filepath.Join(t.TempDir(), "manifest.yaml")
		writeTestFile(t, file, manifest)
		return kubectl(vc, "apply", "-f", file)
	}
	refused := func(what string, res testenv.Result, want string) {
		t.Helper()
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("%s: %s\nwant the refusal %q", what, res, want)
		}
	}
	warned := func(vc *testenv.ControlPlane, kind, name, want string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			events := vc.Kubectl(t, "get", "events", "--field-selector", "involvedObject.kind="+kind+",involvedObject.name="+name,
				"-o", `jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}`)
			return strings.Contains(events, want), fmt.Sprintf("events of %s %s:\n%s\nwant %q", kind, name, events, want)
		})
	}

	// calm: a restricted workload with a volume, running.
	if res := apply(calm, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: registry.example/web:v1
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`); res.ExitCode != 0 {
		t.Fatalf("calm's workload: %s", res)
	}
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		got := calm.Kubectl(t, "get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.status.phase} {end}`)
		return got == "Running Running ", "calm's web pods: " + got
	})
	var calmPV string
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		calmPV = strings.TrimSpace(host.Kubectl(t, "-n", "vc-calm", "get", "pvc", "-o", `jsonpath={range .items[?(@.status.phase=="Bound")]}{.spec.volumeName}{end}`))
		return calmPV != "", "waiting for calm's host claim to be bound"
	})
	calmHostPods := hostPods(t, host, "vc-calm")
	calmIP := strings.Fields(calm.Kubectl(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"))[0]
	refused("calm's root pod", kubectl(calm, "run", "root", "--image=registry.example/root:v1"),
		`pods "root" is forbidden: violates PodSecurity "restricted" (spec.isolation.podSecurityStandard): allowPrivilegeEscalation != false`)

	// hostile: another tenant's volume by name gets a volume of its own.
	if res := apply(hostile, fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: steal, namespace: default}
spec: {accessModes: [ReadWriteOnce], volumeName: %s, resources: {requests: {storage: 1Gi}}}
`, calmPV)); res.ExitCode != 0 {
		t.Fatalf("hostile's claim: %s", res)
	}
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		claim := host.Kubectl(t, "-n", "vc-hostile", "get", "pvc", "-o", `jsonpath={range .items[*]}{.status.phase} {.spec.volumeName}{end}`)
		phase, volume, _ := strings.Cut(claim, " ")
		return phase == "Bound" && volume != calmPV, fmt.Sprintf("hostile's host claim: %q (calm's volume is %s)", claim, calmPV)
	})
	if owner := host.Kubectl(t, "get", "pv", calmPV, "-o", "jsonpath={.spec.claimRef.namespace}"); owner != "vc-calm" {
		t.Errorf("calm's volume %s is bound to a claim in %q", calmPV, owner)
	}
	// Another tenant's pod behind a Service of its own.
	if res := apply(hostile, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: front, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: front-1, namespace: default, labels: {kubernetes.io/service-name: front}}
addressType: IPv4
ports: [{port: 80, protocol: TCP}]
endpoints: [{addresses: [%q]}]
`, calmIP)); res.ExitCode != 0 {
		t.Fatalf("hostile's service: %s", res)
	}
	warned(hostile, "EndpointSlice", "front-1", "Warning SyncFailed: cannot run on the host: endpoint address "+calmIP+" is not a pod of this virtual cluster")
	// Host namespaces and paths, and kubectl debug as root.
	hostile.Kubectl(t, "run", "plain", "--image=registry.example/plain:v1")
	refused("hostNetwork and hostPath", kubectl(hostile, "run", "escape", "--image=registry.example/escape:v1",
		`--overrides={"spec":{"hostNetwork":true,"volumes":[{"name":"etc","hostPath":{"path":"/etc"}}]}}`),
		`violates PodSecurity "baseline" (spec.isolation.podSecurityStandard): host namespaces (hostNetwork=true), hostPath volumes (volume "etc")`)
	refused("kubectl debug --profile=sysadmin", kubectl(hostile, "debug", "plain", "--image=registry.example/debug:v1", "--profile=sysadmin", "--", "sh"),
		`violates PodSecurity "baseline" (spec.isolation.podSecurityStandard): privileged (container "debugger`)
	// The GPU nodes' taint.
	refused("a GPU toleration", kubectl(hostile, "run", "gpu", "--image=registry.example/gpu:v1",
		`--overrides={"spec":{"tolerations":[{"key":"nvidia.com/gpu","operator":"Exists"}]}}`),
		"refused by the virtual cluster's placement: spec.tolerations[0]: Forbidden: toleration of nvidia.com/gpu (any value, any effect) is not granted to this virtual cluster")
	// A node port, and external IPs.
	refused("a NodePort service", kubectl(hostile, "create", "service", "nodeport", "open", "--tcp=80"),
		`services "open" is forbidden: spec.type: NodePort is not allowed in this virtual cluster; spec.isolation.allowedServiceTypes allows ClusterIP`)
	refused("external IPs", apply(hostile, `apiVersion: v1
kind: Service
metadata: {name: claim-ip, namespace: default}
spec: {ports: [{port: 80}], externalIPs: [198.18.0.1]}
`), `services "claim-ip" is forbidden: spec.externalIPs (198.18.0.1): a Service of a virtual cluster cannot claim addresses on the host's nodes`)
	// A priority class of its own.
	hostile.Kubectl(t, "create", "priorityclass", "urgent", "--value=1000000")
	hostile.Kubectl(t, "run", "urgent", "--image=registry.example/urgent:v1", `--overrides={"spec":{"priorityClassName":"urgent"}}`)
	warned(hostile, "Pod", "urgent", `Warning SyncRefused: priorityClassName "urgent" is not a class the platform offers`)
	// A NetworkPolicy that opens the host API server's address.
	if res := apply(hostile, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 198.18.0.1/32}}]}]
`); res.ExitCode != 0 {
		t.Fatalf("hostile's network policy: %s", res)
	}
	warned(hostile, "NetworkPolicy", "out", "Warning NetworkPolicyConfined: spec.egress[0].to[0].ipBlock 198.18.0.1/32 was dropped: it lies in 198.18.0.0/15")
	// Its token is the virtual cluster's, worthless on the host.
	token := strings.TrimSpace(hostile.Kubectl(t, "create", "token", "default"))
	server := strings.TrimSpace(host.Kubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	res := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", "/dev/null", "--server", server, "--insecure-skip-tls-verify", "--token", token, "get", "namespaces")
	refused("a virtual service account token on the host", res, "Unauthorized")

	// Nothing of it reached the host: the plain pod only, and no policy opening
	// the host API server.
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		got := strings.TrimSpace(host.Kubectl(t, "-n", "vc-hostile", "get", "pods", "-l", "kubicle.dev/name", "-o", `jsonpath={range .items[*]}{.metadata.annotations.kubicle\.dev/name} {end}`))
		return got == "plain", "hostile's host pods: " + got
	})
	if svcs := host.Kubectl(t, "-n", "vc-hostile", "get", "services", "-o", `jsonpath={range .items[*]}{.spec.type}:{.spec.externalIPs} {end}`); strings.Contains(svcs, "NodePort") || strings.Contains(svcs, "198.18") {
		t.Errorf("hostile's host services: %s", svcs)
	}
	if slices := host.Kubectl(t, "-n", "vc-hostile", "get", "endpointslices", "-o", `jsonpath={range .items[*]}{.endpoints[*].addresses} {end}`); strings.Contains(slices, calmIP) {
		t.Errorf("a host EndpointSlice of hostile fronts calm's pod %s: %s", calmIP, slices)
	}
	if policy := host.Kubectl(t, "-n", "vc-hostile", "get", "networkpolicies", "-o", "yaml"); strings.Contains(policy, "198.18.0.1/32") {
		t.Errorf("a host NetworkPolicy of hostile names the host API server:\n%s", policy)
	}
	// calm is untouched.
	if got := hostPods(t, host, "vc-calm"); got != calmHostPods {
		t.Errorf("calm's host pods changed:\n%s\nwant\n%s", got, calmHostPods)
	}
	// trusted, where the platform opted in, gets what hostile was refused.
	trusted.Kubectl(t, "run", "node-agent", "--image=registry.example/agent:v1",
		`--overrides={"spec":{"hostNetwork":true,"volumes":[{"name":"etc","hostPath":{"path":"/etc"}}]}}`)
	trusted.Kubectl(t, "create", "service", "nodeport", "open", "--tcp=80")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		pods := host.Kubectl(t, "-n", "vc-trusted", "get", "pods", "-l", "kubicle.dev/name", "-o", `jsonpath={range .items[*]}{.spec.hostNetwork} {end}`)
		svcs := host.Kubectl(t, "-n", "vc-trusted", "get", "services", "-o", `jsonpath={range .items[*]}{.spec.type} {end}`)
		return strings.TrimSpace(pods) == "true" && strings.Contains(svcs, "NodePort"), fmt.Sprintf("trusted's host pods (hostNetwork) %q, services %q", pods, svcs)
	})
	// The syncer logged no error for any of it.
	data, err := os.ReadFile(hostile.Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) > 5 && line[0] == 'E' && strings.Contains(line, "syncer") {
			t.Errorf("the syncer logged an error: %s", line)
		}
	}
}
