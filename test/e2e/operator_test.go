package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// vcStatus is the part of a VirtualCluster object the operator test reads.
type vcStatus struct {
	Metadata struct {
		Generation  int64             `json:"generation"`
		Finalizers  []string          `json:"finalizers"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Status struct {
		Phase              string `json:"phase"`
		ObservedGeneration int64  `json:"observedGeneration"`
		Endpoint           string `json:"endpoint"`
		KubernetesVersion  string `json:"kubernetesVersion"`
		Conditions         []struct {
			Type, Status, Reason, Message string
			ObservedGeneration            int64 `json:"observedGeneration"`
		} `json:"conditions"`
	} `json:"status"`
}

// condition returns the condition of type typ, or a zero one.
func (s vcStatus) condition(typ string) (status, reason, message string) {
	for _, c := range s.Status.Conditions {
		if c.Type == typ {
			return c.Status, c.Reason, c.Message
		}
	}
	return "", "", ""
}

// TestOperator runs `kubicle operator` against the embedded host and drives
// it with kubectl like a GitOps tool: a VirtualCluster applied becomes a
// running virtual cluster with a Ready condition, reachable with `kubicle
// connect` and through its exported kubeconfig; an invalid one is refused
// with the field path and leaves nothing on the host; deleting the object
// removes the control plane and every host object.
func TestOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host, the operator and a virtual control plane")
	}
	kubicle, kubectl := testenv.Kubicle(t), testenv.Kubectl(t)
	host := testenv.StartHost(t)
	dir := t.TempDir()

	host.Kubectl(t, "apply", "-f", filepath.Join("..", "..", "charts", "kubicle", "crds"))
	host.Kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "crd/virtualclusters.kubicle.dev")

	// The operator's state (process-driven control planes) and the CLI's
	// are apart, as on a machine where a user runs kubicle next to the
	// operator: the CLI finds the process through the object's annotations.
	opState := filepath.Join(dir, "operator-state")
	op := testenv.Start(t, []string{"KUBICLE_STATE_DIR=" + opState, "KUBECONFIG="}, kubicle,
		"operator", "--kubeconfig", host.Kubeconfig, "--check-interval", "5s")
	userConfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(userConfig, []byte(readFile(t, host.Kubeconfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	cliEnv := []string{"KUBECONFIG=" + userConfig, "KUBICLE_STATE_DIR=" + filepath.Join(dir, "cli-state")}

	// Registered after the operator started, so it runs while the operator
	// still does: deleting the objects tears their clusters down.
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, opState)
		}
		testenv.Run(t, 2*time.Minute, nil, kubectl, "--kubeconfig", host.Kubeconfig,
			"delete", "virtualclusters", "--all", "-A", "--wait", "--timeout=90s")
		killLeftovers(t, opState)
	})

	get := func(ns, name string) (vcStatus, bool) {
		t.Helper()
		res := testenv.Run(t, time.Minute, nil, kubectl, "--kubeconfig", host.Kubeconfig, "-n", ns, "get", "virtualcluster", name, "-o", "json")
		if res.ExitCode != 0 {
			if strings.Contains(res.Stderr, "NotFound") {
				return vcStatus{}, false
			}
			t.Fatalf("kubectl get virtualcluster %s/%s: %s", ns, name, res)
		}
		var s vcStatus
		if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
			t.Fatalf("decoding virtualcluster %s/%s: %v", ns, name, err)
		}
		return s, true
	}
	apply := func(doc string) {
		t.Helper()
		f := filepath.Join(dir, "vc.yaml")
		if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		host.Kubectl(t, "apply", "-f", f)
	}
	operatorAlive := func() {
		t.Helper()
		if done, err := op.Exited(); done {
			t.Fatalf("the operator exited (%v):\n%s", err, op.Tail(40))
		}
	}

	// A valid VirtualCluster becomes Ready within a couple of minutes.
	host.Kubectl(t, "create", "namespace", "team-ops")
	apply(`apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: ops
  namespace: team-ops
spec:
  controlPlane:
    driver: process
`)
	var st vcStatus
	testenv.Eventually(t, 3*time.Minute, time.Second, func() (bool, string) {
		operatorAlive()
		var ok bool
		if st, ok = get("team-ops", "ops"); !ok {
			return false, "the object is gone"
		}
		status, reason, msg := st.condition("Ready")
		return status == "True", "phase " + st.Status.Phase + ", Ready=" + status + " " + reason + ": " + msg
	})
	if st.Status.Phase != "Running" || st.Status.ObservedGeneration != st.Metadata.Generation ||
		!strings.HasPrefix(st.Status.Endpoint, "https://127.0.0.1:") || st.Status.KubernetesVersion != "v1.37.2" {
		t.Fatalf("status of a ready virtual cluster: %+v", st.Status)
	}
	if s, r, _ := st.condition("Valid"); s != "True" || r != "Valid" {
		t.Fatalf("Valid condition: %s %s", s, r)
	}
	if s, _, _ := st.condition("ControlPlaneReady"); s != "True" {
		t.Fatalf("ControlPlaneReady condition: %s", s)
	}
	if !slices.Contains(st.Metadata.Finalizers, "kubicle.dev/cleanup") {
		t.Fatalf("finalizers: %v", st.Metadata.Finalizers)
	}
	if !strings.HasPrefix(st.Metadata.Annotations["kubicle.dev/state-dir"], opState) {
		t.Fatalf("the object does not record the control plane's state directory: %v", st.Metadata.Annotations)
	}
	if ns := host.Kubectl(t, "get", "ns", "team-ops", "-o", "jsonpath={.metadata.labels}"); !strings.Contains(ns, "pod-security.kubernetes.io/enforce") {
		t.Fatalf("the host namespace did not get its Pod Security labels: %s", ns)
	}

	// Reachable: with kubicle connect (another state directory, same
	// machine), and through the exported kubeconfig.
	if out := testenv.MustRun(t, time.Minute, cliEnv, kubicle, "connect", "ops", "--", kubectl, "get", "ns").Stdout; !strings.Contains(out, "kube-system") || strings.Contains(out, "team-ops") {
		t.Fatalf("kubicle connect ops -- kubectl get ns:\n%s", out)
	}
	exported := host.Kubectl(t, "-n", "team-ops", "get", "secret", "ops-kubeconfig", "-o", "jsonpath={.data.kubeconfig}")
	data, err := base64.StdEncoding.DecodeString(exported)
	if err != nil || len(data) == 0 {
		t.Fatalf("exported kubeconfig Secret: %v %q", err, exported)
	}
	vcConfig := filepath.Join(dir, "ops.kubeconfig")
	if err := os.WriteFile(vcConfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.MustRun(t, time.Minute, nil, kubectl, "--kubeconfig", vcConfig, "create", "namespace", "from-gitops")
	if out := testenv.MustRun(t, time.Minute, cliEnv, kubicle, "connect", "ops", "--", kubectl, "get", "ns", "from-gitops", "-o", "name").Stdout; strings.TrimSpace(out) != "namespace/from-gitops" {
		t.Fatalf("the exported kubeconfig and kubicle connect reach different clusters: %q", out)
	}

	// The CLI sees the operator's cluster and leaves it to the operator.
	var entries []listEntry
	out := testenv.MustRun(t, time.Minute, cliEnv, kubicle, "list", "-o", "json").Stdout
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != 1 || entries[0].Name != "ops" || entries[0].Status != "Running" {
		t.Fatalf("kubicle list -o json: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"managedBy": "operator"`) {
		t.Fatalf("kubicle list does not say the operator manages ops:\n%s", out)
	}
	for _, args := range [][]string{{"delete", "ops"}, {"create", "ops", "-n", "team-ops", "--upgrade"}} {
		res := testenv.Run(t, time.Minute, cliEnv, kubicle, args...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "is managed by kubicle operator through its VirtualCluster object") {
			t.Fatalf("kubicle %v on an operator-managed cluster must refuse: %s", args, res)
		}
	}

	// The driver cannot change in place; setting it back recovers, without
	// restarting the control plane.
	pidBefore := readFile(t, filepath.Join(st.Metadata.Annotations["kubicle.dev/state-dir"], "control-plane.pid"))
	waitReady := func(want, reason string) vcStatus {
		t.Helper()
		var got vcStatus
		testenv.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
			operatorAlive()
			got, _ = get("team-ops", "ops")
			status, r, msg := got.condition("Ready")
			return status == want && r == reason && got.Status.ObservedGeneration == got.Metadata.Generation,
				fmt.Sprintf("generation %d, observed %d, Ready=%s %s: %s", got.Metadata.Generation, got.Status.ObservedGeneration, status, r, msg)
		})
		return got
	}
	host.Kubectl(t, "-n", "team-ops", "patch", "virtualcluster", "ops", "--type=merge", "-p", `{"spec":{"controlPlane":{"driver":"pod"}}}`)
	changed := waitReady("False", "InvalidConfig")
	if _, _, msg := changed.condition("Ready"); !strings.Contains(msg, `spec.controlPlane.driver: Forbidden: the control plane runs with driver "process"`) {
		t.Fatalf("changing the driver: %q", msg)
	}
	host.Kubectl(t, "-n", "team-ops", "patch", "virtualcluster", "ops", "--type=merge", "-p", `{"spec":{"controlPlane":{"driver":"process"}}}`)
	waitReady("True", "Running")
	if pid := readFile(t, filepath.Join(st.Metadata.Annotations["kubicle.dev/state-dir"], "control-plane.pid")); pid != pidBefore {
		t.Fatalf("the control plane was restarted (pid %s, then %s) though its config did not change", pidBefore, pid)
	}
	if got := host.Kubectl(t, "-n", "team-ops", "get", "statefulsets", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Fatalf("the refused driver change left objects: %q", got)
	}

	// An invalid spec: Ready=False with the field path, nothing on the host.
	host.Kubectl(t, "create", "namespace", "team-bad")
	apply(`apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: bad
  namespace: team-bad
spec:
  controlPlane:
    driver: process
    backingStore:
      type: database
`)
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, func() (bool, string) {
		operatorAlive()
		st, _ = get("team-bad", "bad")
		status, reason, msg := st.condition("Ready")
		return status == "False" && reason == "InvalidConfig", "phase " + st.Status.Phase + ", Ready=" + status + " " + reason + ": " + msg
	})
	if _, _, msg := st.condition("Ready"); !strings.Contains(msg, "spec.controlPlane.backingStore.database: Required value") {
		t.Fatalf("the Ready condition of an invalid spec does not name the field: %q", msg)
	}
	if s, r, _ := st.condition("Valid"); s != "False" || r != "InvalidConfig" || st.Status.Phase != "Failed" {
		t.Fatalf("invalid spec: Valid=%s %s, phase %s", s, r, st.Status.Phase)
	}
	if got := labelled(t, host, "kubicle.dev/vcluster=bad"); len(got) > 0 {
		t.Fatalf("host objects of an invalid VirtualCluster: %v", got)
	}
	if l := host.Kubectl(t, "get", "ns", "team-bad", "-o", "jsonpath={.metadata.labels}"); strings.Contains(l, "pod-security") {
		t.Fatalf("the namespace of an invalid VirtualCluster was changed: %s", l)
	}

	// Deleting the object removes the control plane and every host object.
	st, _ = get("team-ops", "ops")
	stateDirOps := st.Metadata.Annotations["kubicle.dev/state-dir"]
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(stateDirOps, "control-plane.pid"))))
	if err != nil {
		t.Fatal(err)
	}
	host.Kubectl(t, "-n", "team-ops", "delete", "virtualcluster", "ops", "--wait", "--timeout=2m")
	if _, ok := get("team-ops", "ops"); ok {
		t.Fatal("virtualcluster ops still there after kubectl delete --wait")
	}
	if got := labelled(t, host, "kubicle.dev/vcluster=ops"); len(got) > 0 {
		t.Fatalf("host objects labelled for ops after its deletion: %v", got)
	}
	if _, err := os.Stat(stateDirOps); stateDirOps == "" || !os.IsNotExist(err) {
		t.Fatalf("the control plane's local state %q is still there: %v", stateDirOps, err)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("the control plane process %d still runs after its VirtualCluster was deleted", pid)
	}
	if l := host.Kubectl(t, "get", "ns", "team-ops", "-o", "jsonpath={.metadata.labels}"); strings.Contains(l, "pod-security") || strings.Contains(l, "kubicle") {
		t.Fatalf("the namespace kubicle did not create keeps kubicle's labels: %s", l)
	}
	host.Kubectl(t, "-n", "team-bad", "delete", "virtualcluster", "bad", "--wait", "--timeout=1m")
	if got := labelled(t, host, "app.kubernetes.io/managed-by=kubicle"); len(got) > 0 {
		t.Fatalf("kubicle objects left on the host: %v", got)
	}
	operatorAlive()
}
