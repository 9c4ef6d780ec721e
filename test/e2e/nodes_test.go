package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestPseudoNodes: with spec.sync.fromHost.nodes.mode "pseudo", a virtual cluster
// shows made-up nodes: "node-" and ten hex digits, other names in another virtual
// cluster on the same host, hostname label and addresses of their own, only the
// well-known labels of the host's, capacity true. A pod runs as usual and shows the
// made-up node and address, and no host node name appears in pods, nodes or
// events. (API behaviour, on simulated nodes.)
func TestPseudoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host and two virtual control planes")
	}
	host := testenv.StartHost(t, "--nodes", "2")
	hostNodes := strings.Fields(host.Kubectl(t, "get", "nodes", "-o", `jsonpath={.items[*].metadata.name}`))
	pseudo := func(name string) *testenv.ControlPlane {
		file := filepath.Join(t.TempDir(), name+".yaml")
		writeTestFile(t, file, fmt.Sprintf(`apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata: {name: %[1]s, namespace: vc-%[1]s}
spec:
  controlPlane: {driver: process}
  sync: {fromHost: {nodes: {mode: pseudo}}}
`, name))
		vc := virtualCluster(t, host, name, "vc-"+name, "--config", file)
		waitServiceAccount(t, vc.Kubeconfig, "default")
		return vc
	}
	a, b := pseudo("a"), pseudo("b")
	names := func(vc *testenv.ControlPlane) []string {
		var got []string
		testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			got = strings.Fields(vc.Kubectl(t, "get", "nodes", "-o", `jsonpath={.items[*].metadata.name}`))
			return len(got) == len(hostNodes), fmt.Sprintf("nodes %v, want %d", got, len(hostNodes))
		})
		return got
	}
	made := regexp.MustCompile(`^node-[0-9a-f]{10}$`)
	aNodes, bNodes := names(a), names(b)
	for _, n := range append(append([]string{}, aNodes...), bNodes...) {
		if !made.MatchString(n) {
			t.Errorf("node %q is not a made-up name", n)
		}
	}
	for _, n := range aNodes {
		if strings.Contains(" "+strings.Join(bNodes, " ")+" ", " "+n+" ") {
			t.Errorf("both virtual clusters call a node %s: a tenant could tell it shares it", n)
		}
	}
	leaks := func(what, text string) {
		t.Helper()
		for _, h := range hostNodes {
			if strings.Contains(text, h) {
				t.Errorf("%s names host node %s:\n%s", what, h, text)
			}
		}
	}
	nodeYAML := a.Kubectl(t, "get", "nodes", "-o", "yaml")
	leaks("the virtual nodes", nodeYAML)
	if strings.Contains(nodeYAML, "type: kwok") || !strings.Contains(nodeYAML, "kubernetes.io/os: linux") {
		t.Errorf("labels of the made-up nodes: want the well-known ones only:\n%s", nodeYAML)
	}
	if got := a.Kubectl(t, "get", "node", aNodes[0], "-o", `jsonpath={.metadata.labels.kubernetes\.io/hostname} {.status.capacity.cpu}`); got != aNodes[0]+" "+strings.Fields(host.Kubectl(t, "get", "nodes", "-o", `jsonpath={.items[0].status.capacity.cpu}`))[0] {
		t.Errorf("hostname label and cpu capacity of %s: %q", aNodes[0], got)
	}

	a.Kubectl(t, "run", "web", "--image=registry.example/web:v1")
	var node, hostIP string
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, func() (bool, string) {
		got := strings.Fields(a.Kubectl(t, "get", "pod", "web", "-o", "jsonpath={.spec.nodeName} {.status.hostIP} {.status.phase}"))
		if len(got) == 3 {
			node, hostIP = got[0], got[1]
		}
		return len(got) == 3 && got[2] == "Running", fmt.Sprintf("pod web: %v", got)
	})
	if !made.MatchString(node) {
		t.Errorf("pod web runs on %q, not a made-up node", node)
	}
	if addr := a.Kubectl(t, "get", "node", node, "-o", `jsonpath={.status.addresses[?(@.type=="InternalIP")].address}`); hostIP != addr {
		t.Errorf("pod web shows host IP %s, its node's address is %s", hostIP, addr)
	}
	leaks("pod web", a.Kubectl(t, "get", "pod", "web", "-o", "yaml"))
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		events := a.Kubectl(t, "get", "events", "--field-selector", "involvedObject.name=web", "-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
		return strings.Contains(events, "Scheduled: Successfully assigned default/web to "+node), "events of web:\n" + events
	})
	leaks("the events", a.Kubectl(t, "get", "events", "-A", "-o", "yaml"))
}
