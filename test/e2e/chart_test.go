package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/internal/config"
	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/internal/testenv"
)

// chartDir is the Helm chart, from test/e2e.
var chartDir = filepath.Join("..", "..", "charts", "kubicle")

// fullVirtualCluster enables every built sync that widens the control plane's
// host role, so that the rules deploy renders for it are the most a virtual
// cluster can be granted today (the kinds validation refuses as not supported
// yet cannot be enabled).
const fullVirtualCluster = `apiVersion: kubicle.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: full
  namespace: team-full
spec:
  controlPlane:
    driver: DRIVER
  sync:
    toHost:
      pods: {enabled: true}
      services: {enabled: true}
      endpoints: {enabled: true}
      configMaps: {enabled: true, all: true}
      secrets: {enabled: true, all: true}
      persistentVolumeClaims: {enabled: true}
      ingresses: {enabled: true}
    fromHost:
      events: {enabled: true}
`

// TestChart checks the Helm chart with the real helm: lint and template
// with several sets of values, a server-side dry run of every rendered
// object on the embedded host (and a real apply of the CRD), that the
// operator's ClusterRole covers every rule deploy renders for a control
// plane (the API server refuses to let it grant more than it holds), and
// finally the operator itself, run with nothing but the chart's
// ServiceAccount, taking a virtual cluster with every sync on from
// VirtualCluster object to Ready and back to nothing.
func TestChart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded host, the operator and a virtual control plane")
	}
	helm, kubectl, kubicle := testenv.Helm(t), testenv.Kubectl(t), testenv.Kubicle(t)

	testenv.MustRun(t, time.Minute, nil, helm, "lint", chartDir, "--strict")
	testenv.MustRun(t, time.Minute, nil, helm, "lint", chartDir, "--strict", "--set",
		"watchNamespace=team-a,leaderElection.enabled=false,rbac.create=false,serviceAccount.create=false,serviceAccount.name=ops,metrics.enabled=false,image.digest=sha256:0123")
	if res := testenv.Run(t, time.Minute, nil, helm, "template", chartDir, "--set", "replicas=2,leaderElection.enabled=false"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "needs leaderElection.enabled") {
		t.Fatalf("two replicas without leader election must not render: %s", res)
	}
	noRBAC := testenv.MustRun(t, time.Minute, nil, helm, "template", "k", chartDir, "--set", "rbac.create=false").Stdout
	if kinds := kindsOf(t, noRBAC); slices.Contains(kinds, "ClusterRole") || slices.Contains(kinds, "ClusterRoleBinding") {
		t.Fatalf("rbac.create=false still renders %v", kinds)
	}

	rendered := testenv.MustRun(t, time.Minute, nil, helm, "template", "kubicle", chartDir, "--namespace", "kubicle-system").Stdout
	if kinds := kindsOf(t, rendered); !slices.Equal(kinds, []string{"ClusterRole", "ClusterRoleBinding", "Deployment", "ServiceAccount"}) {
		t.Fatalf("the chart renders %v", kinds)
	}
	for _, want := range []string{"- operator", "- --leader-elect=true", "- --control-plane-image=kubicle.dev/kubicle:dev", "image: \"kubicle.dev/kubicle:dev\"", "name: POD_NAMESPACE"} {
		if !strings.Contains(rendered, want) {
			t.Errorf("the rendered Deployment lacks %q", want)
		}
	}

	// Every rule a control plane may be granted is covered by the
	// operator's ClusterRole, for both drivers.
	var role *rbacv1.ClusterRole
	for _, doc := range documents(t, rendered) {
		if strings.Contains("\n"+doc, "\nkind: ClusterRole\n") {
			role = &rbacv1.ClusterRole{}
			if err := yaml.UnmarshalStrict([]byte(doc), role); err != nil {
				t.Fatalf("decoding the ClusterRole: %v", err)
			}
		}
	}
	for _, driver := range []string{"process", "pod"} {
		vc, err := config.Load([]byte(strings.Replace(fullVirtualCluster, "DRIVER", driver, 1)))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := deploy.Render(vc, deploy.RenderOptions{PKI: map[string][]byte{"ca.crt": []byte("x")}})
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			var rules []rbacv1.PolicyRule
			switch o := obj.(type) {
			case *rbacv1.Role:
				rules = o.Rules
			case *rbacv1.ClusterRole:
				rules = o.Rules
			}
			for _, missing := range uncovered(role.Rules, rules) {
				t.Errorf("driver %s: %s %s grants %s, which the chart's ClusterRole does not hold", driver, obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), missing)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// On a real API server: the CRD applied for real, everything else
	// dry-run, then installed.
	host := testenv.StartHost(t)
	dir := t.TempDir()
	host.Kubectl(t, "apply", "--server-side", "-f", filepath.Join(chartDir, "crds"))
	host.Kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "crd/virtualclusters.kubicle.dev")
	host.Kubectl(t, "create", "namespace", "kubicle-system")
	manifests := filepath.Join(dir, "kubicle.yaml")
	if err := os.WriteFile(manifests, []byte(rendered), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := host.Kubectl(t, "apply", "--dry-run=server", "-f", manifests); strings.Count(out, "(server dry run)") != 4 {
		t.Fatalf("server dry run:\n%s", out)
	}
	host.Kubectl(t, "apply", "-f", manifests)

	// The operator as the chart's ServiceAccount, and nothing more.
	token := strings.TrimSpace(host.Kubectl(t, "-n", "kubicle-system", "create", "token", "kubicle", "--duration=1h"))
	admin, err := clientcmd.LoadFromFile(host.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	saConfig := filepath.Join(dir, "operator.kubeconfig")
	if err := kubeconfig.WriteFile(saConfig, kubeconfig.New("chart-operator", kubeconfig.Credentials{
		Server: cluster.Server, CAData: cluster.CertificateAuthorityData, Token: token,
	})); err != nil {
		t.Fatal(err)
	}
	asOperator := func(args ...string) testenv.Result {
		t.Helper()
		return testenv.Run(t, time.Minute, nil, kubectl, append([]string{"--kubeconfig", saConfig}, args...)...)
	}
	for _, verb := range []string{"escalate clusterroles", "bind clusterroles", "create namespaces", "delete namespaces", "impersonate users", "create clusterroles.rbac.authorization.k8s.io"} {
		res := asOperator(append([]string{"auth", "can-i"}, strings.Fields(verb)...)...)
		if want := strings.HasPrefix(verb, "create clusterroles"); (strings.TrimSpace(res.Stdout) == "yes") != want {
			t.Errorf("can the operator %s? %s", verb, res)
		}
	}

	opState := filepath.Join(dir, "operator-state")
	op := testenv.Start(t, []string{"KUBICLE_STATE_DIR=" + opState, "KUBECONFIG="}, kubicle,
		"operator", "--kubeconfig", saConfig, "--check-interval", "5s")
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, opState)
		}
		testenv.Run(t, 2*time.Minute, nil, kubectl, "--kubeconfig", host.Kubeconfig,
			"delete", "virtualclusters", "--all", "-A", "--wait", "--timeout=90s")
		killLeftovers(t, opState)
	})

	host.Kubectl(t, "create", "namespace", "team-full")
	vcFile := filepath.Join(dir, "full.yaml")
	if err := os.WriteFile(vcFile, []byte(strings.Replace(fullVirtualCluster, "DRIVER", "process", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	host.Kubectl(t, "apply", "-f", vcFile)
	testenv.Eventually(t, 3*time.Minute, time.Second, func() (bool, string) {
		if done, err := op.Exited(); done {
			t.Fatalf("the operator exited (%v):\n%s", err, op.Tail(40))
		}
		out := host.Kubectl(t, "-n", "team-full", "get", "virtualcluster", "full", "-o",
			`jsonpath={.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}`)
		if strings.Contains(out, "forbidden") {
			t.Fatalf("the chart's RBAC is not enough for the operator: %s", out)
		}
		return strings.HasPrefix(out, "Running True"), out
	})
	if got := host.Kubectl(t, "get", "clusterrole", "kubicle-full.team-full", "-o", "name"); strings.TrimSpace(got) != "clusterrole.rbac.authorization.k8s.io/kubicle-full.team-full" {
		t.Fatalf("the operator did not create the control plane's ClusterRole: %q", got)
	}
	host.Kubectl(t, "-n", "team-full", "delete", "virtualcluster", "full", "--wait", "--timeout=2m")
	if got := labelled(t, host, "kubicle.dev/vcluster=full"); len(got) > 0 {
		t.Fatalf("host objects of full after its deletion: %v", got)
	}
}

// documents splits a multi-document YAML stream into its non-empty
// documents.
func documents(t *testing.T, stream string) []string {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	var docs []string
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("reading YAML: %v", err)
		}
		if len(bytes.TrimSpace(doc)) > 0 && strings.Contains(string(doc), "kind:") {
			docs = append(docs, string(doc))
		}
	}
}

// kindsOf returns the sorted kinds of the objects in a YAML stream.
func kindsOf(t *testing.T, stream string) []string {
	t.Helper()
	var kinds []string
	for _, doc := range documents(t, stream) {
		var obj struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		kinds = append(kinds, obj.Kind)
	}
	slices.Sort(kinds)
	return kinds
}

// uncovered returns, as "verb group/resource", each permission in rules
// that no rule of owner grants. A resourceNames restriction only narrows a
// rule, so it is ignored; owner rules with resourceNames are not used.
func uncovered(owner, rules []rbacv1.PolicyRule) []string {
	has := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	var missing []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					ok := false
					for _, o := range owner {
						if len(o.ResourceNames) == 0 && has(o.APIGroups, g) && has(o.Resources, res) && has(o.Verbs, v) {
							ok = true
							break
						}
					}
					if !ok {
						missing = append(missing, v+" "+g+"/"+res)
					}
				}
			}
		}
	}
	return missing
}
