package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestHostClasses: spec.sync.fromHost shows the host's classes in the virtual
// cluster, read-only: storage, ingress, runtime and priority classes, CSI drivers
// and DRA device classes, the priority classes filtered by a selector and never the
// host's system-* ones. A tenant's change or deletion of a shown class is undone. A
// tenant pod naming a host RuntimeClass and an offered host PriorityClass is
// admitted and runs on the host at that class; one naming a class of the tenant's
// own is refused, with a Warning event and a condition; one naming a built-in
// system class runs at the default priority, with a Warning event. A class the
// platform stops offering leaves the virtual cluster. (API behaviour, on simulated
// nodes.)
func TestHostClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and a virtual control plane")
	}
	host := testenv.StartHost(t)
	manifest := filepath.Join(t.TempDir(), "classes.yaml")
	writeTestFile(t, manifest, `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: batch-high, labels: {offered: "true"}}
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: platform-only}
value: 2000
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: sandboxed}
handler: runsc
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: edge}
spec: {controller: example.com/ingress-controller}
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: disks.csi.example.com}
spec: {attachRequired: false, podInfoOnMount: true}
---
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: gpu.example.com}
spec:
  selectors:
  - cel: {expression: 'device.driver == "gpu.example.com"'}
`)
	host.Kubectl(t, "apply", "-f", manifest)
	config := filepath.Join(t.TempDir(), "vc.yaml")
	writeTestFile(t, config, `apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata: {name: c, namespace: vc-c}
spec:
  controlPlane: {driver: process}
  sync:
    fromHost:
      priorityClasses: {enabled: true, selector: {matchLabels: {offered: "true"}}}
      runtimeClasses: {enabled: true}
      storageClasses: {enabled: true}
      ingressClasses: {enabled: true}
      csiDrivers: {enabled: true}
      deviceClasses: {enabled: true}
`)
	vc := virtualCluster(t, host, "c", "vc-c", "--config", config)
	shown := func(kind string) string {
		out := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", vc.Kubeconfig, "get", kind,
			"-l", "kubicle.dev/from-host=true", "-o", `jsonpath={range .items[*]}{.metadata.name} {end}`)
		return strings.TrimSpace(out.Stdout)
	}
	hostStorageClass := strings.TrimSpace(host.Kubectl(t, "get", "storageclass", "-o", "jsonpath={.items[0].metadata.name}"))
	for kind, want := range map[string]string{
		"priorityclasses": "batch-high", "runtimeclasses": "sandboxed", "ingressclasses": "edge",
		"csidrivers": "disks.csi.example.com", "deviceclasses": "gpu.example.com", "storageclasses": hostStorageClass,
	} {
		testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			got := shown(kind)
			return got == want, fmt.Sprintf("%s shown in the virtual cluster: %q, want %q", kind, got, want)
		})
	}
	if got := vc.Kubectl(t, "get", "priorityclass", "batch-high", "-o", "jsonpath={.value}"); got != "1000" {
		t.Errorf("the shown batch-high has value %s, want the host's 1000", got)
	}
	// The virtual cluster keeps its own system classes; the host's are not shown.
	if got := vc.Kubectl(t, "get", "priorityclass", "system-cluster-critical", "-o", "jsonpath={.metadata.labels}"); strings.Contains(got, "from-host") {
		t.Errorf("system-cluster-critical of the virtual cluster is the host's: %s", got)
	}

	// Read-only: a tenant's change and a deletion are undone.
	vc.Kubectl(t, "label", "runtimeclass", "sandboxed", "tenant-was-here=true")
	vc.Kubectl(t, "delete", "priorityclass", "batch-high")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		labels := testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", vc.Kubeconfig, "get", "runtimeclass", "sandboxed", "-o", "jsonpath={.metadata.labels}").Stdout
		return !strings.Contains(labels, "tenant-was-here") && shown("priorityclasses") == "batch-high",
			fmt.Sprintf("runtimeclass labels %s, priority classes shown %q", labels, shown("priorityclasses"))
	})

	// Pods: an offered host class and a host runtime class run as asked.
	waitServiceAccount(t, vc.Kubeconfig, "default")
	vc.Kubectl(t, "run", "batch", "--image=registry.example/batch:v1", `--overrides={"spec":{"priorityClassName":"batch-high","runtimeClassName":"sandboxed"}}`)
	vc.Kubectl(t, "create", "priorityclass", "urgent", "--value=5000")
	vc.Kubectl(t, "run", "own-class", "--image=registry.example/own:v1", `--overrides={"spec":{"priorityClassName":"urgent"}}`)
	vc.Kubectl(t, "run", "system-class", "--image=registry.example/system:v1", `--overrides={"spec":{"priorityClassName":"system-cluster-critical"}}`)
	hostPod := func(name string) string {
		return strings.TrimSpace(testenv.Run(t, time.Minute, nil, testenv.Kubectl(t), "--kubeconfig", host.Kubeconfig, "-n", "vc-c", "get", "pods",
			"-l", "kubicle.dev/namespace=default,kubicle.dev/name="+name,
			"-o", `jsonpath={range .items[*]}{.spec.priorityClassName}/{.spec.priority}/{.spec.runtimeClassName}/{.status.phase}{end}`).Stdout)
	}
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		got := hostPod("batch")
		return got == "batch-high/1000/sandboxed/Running", fmt.Sprintf("host pod of batch: %q, want batch-high/1000/sandboxed/Running", got)
	})
	events := func(pod string) string {
		return vc.Kubectl(t, "get", "events", "--field-selector", "involvedObject.kind=Pod,involvedObject.name="+pod,
			"-o", `jsonpath={range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}`)
	}
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		why := `priorityClassName "urgent" is not a class the platform offers`
		cond := vc.Kubectl(t, "get", "pod", "own-class", "-o", `jsonpath={range .status.conditions[?(@.type=="PodScheduled")]}{.status} {.reason}: {.message}{end}`)
		return strings.Contains(events("own-class"), "Warning SyncRefused: "+why) && strings.HasPrefix(cond, "False SyncRefused: "+why),
			fmt.Sprintf("pod own-class: events\n%s\ncondition %q", events("own-class"), cond)
	})
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		got := hostPod("system-class")
		return strings.HasPrefix(got, "/0//") && strings.Contains(events("system-class"), `Warning PriorityClassNotSynced: priorityClassName "system-cluster-critical" has no effect on the host`),
			fmt.Sprintf("host pod of system-class: %q (want no class, priority 0); events\n%s", got, events("system-class"))
	})
	if got := hostPod("own-class"); got != "" {
		t.Errorf("the pod naming the tenant's own class reached the host: %q", got)
	}

	// The platform stops offering batch-high: it leaves the virtual cluster.
	host.Kubectl(t, "label", "priorityclass", "batch-high", "offered-")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		got := shown("priorityclasses")
		return got == "", fmt.Sprintf("priority classes shown after the host stopped offering batch-high: %q", got)
	})
}
