package controlplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapiserver "k8s.io/apiserver/pkg/server"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
	schedulingapiv1 "k8s.io/kubernetes/pkg/apis/scheduling/v1"
	rbacrest "k8s.io/kubernetes/pkg/registry/rbac/rest"
	schedulingrest "k8s.io/kubernetes/pkg/registry/scheduling/rest"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestBootstrapPolicy starts a control plane and checks that the replaced bootstrap
// hooks leave exactly upstream's RBAC policy and system priority classes, that
// /readyz waits for them under their own names, and that a restart reconciles what a
// user broke while respecting rbac.authorization.kubernetes.io/autoupdate=false.
func TestBootstrapPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cp := testenv.StartControlPlane(t, "")
	client := fastClient(t, cp.Kubeconfig)
	ctx := context.Background()

	readyz, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "").DoRaw(ctx)
	if err != nil {
		t.Fatalf("/readyz?verbose: %v", err)
	}
	for _, want := range []string{"[+]poststarthook/" + rbacBootstrapHook + " ok", "[+]poststarthook/" + priorityClassHook + " ok"} {
		if !strings.Contains(string(readyz), want) {
			t.Errorf("/readyz?verbose lacks %q:\n%s", want, readyz)
		}
	}
	for _, gone := range []string{"poststarthook/rbac/bootstrap-roles", "poststarthook/scheduling/bootstrap-system-priority-classes"} {
		if strings.Contains(string(readyz), gone+" ") {
			t.Errorf("/readyz?verbose still runs upstream's %s:\n%s", gone, readyz)
		}
	}
	checkPolicy(t, client, defaultPolicy())

	// Break the policy as a user could (system priority classes cannot be deleted):
	// delete roles and a binding, strip the rules of a role, and strip another that is marked not to be updated.
	rbac := client.RbacV1()
	must(t, rbac.ClusterRoles().Delete(ctx, "system:discovery", metav1.DeleteOptions{}))
	must(t, rbac.ClusterRoleBindings().Delete(ctx, "system:basic-user", metav1.DeleteOptions{}))
	must(t, rbac.Roles("kube-system").Delete(ctx, "system:controller:bootstrap-signer", metav1.DeleteOptions{}))
	strip := func(name string, protect bool) {
		t.Helper()
		cr, err := rbac.ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		must(t, err)
		cr.Rules = cr.Rules[:0]
		if protect {
			cr.Annotations["rbac.authorization.kubernetes.io/autoupdate"] = "false"
		}
		_, err = rbac.ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{})
		must(t, err)
	}
	strip("system:basic-user", false)
	strip("system:public-info-viewer", true)

	cp.Stop(30 * time.Second)
	cp.Restart(t)
	client = fastClient(t, cp.Kubeconfig)

	want := defaultPolicy()
	// The protected role keeps what the user left; everything else is upstream's.
	i := slices.IndexFunc(want.clusterRoles, func(r rbacv1.ClusterRole) bool { return r.Name == "system:public-info-viewer" })
	want.clusterRoles = slices.Delete(want.clusterRoles, i, i+1)
	checkPolicy(t, client, want)
	pub, err := client.RbacV1().ClusterRoles().Get(ctx, "system:public-info-viewer", metav1.GetOptions{})
	must(t, err)
	if len(pub.Rules) != 0 {
		t.Errorf("the protected clusterrole system:public-info-viewer was reconciled: %v", pub.Rules)
	}
}

// TestBootstrapWithoutRBAC starts a control plane whose user replaced its
// authorization modes with AlwaysAllow: no RBAC objects are bootstrapped (upstream
// writes none without the RBAC authorizer either), the system priority classes are,
// and the control plane is ready and usable.
func TestBootstrapWithoutRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cp := testenv.StartControlPlane(t, "", "--kube-apiserver-arg=authorization-mode=AlwaysAllow")
	client := fastClient(t, cp.Kubeconfig)
	ctx := context.Background()
	roles, err := client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	must(t, err)
	if len(roles.Items) != 0 {
		t.Errorf("without the RBAC authorizer, %d clusterroles were created", len(roles.Items))
	}
	for _, pc := range schedulingapiv1.SystemPriorityClasses() {
		if _, err := client.SchedulingV1().PriorityClasses().Get(ctx, pc.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("priorityclass %s: %v", pc.Name, err)
		}
	}
	readyz, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "").DoRaw(ctx)
	must(t, err)
	if strings.Contains(string(readyz), "rbac") {
		t.Errorf("an RBAC bootstrap hook ran without RBAC:\n%s", readyz)
	}
	// Anyone may do anything: the user's authorization mode replaced kubicle's.
	if got := cp.Kubectl(t, "auth", "can-i", "delete", "nodes", "--as", "nobody"); strings.TrimSpace(got) != "yes" {
		t.Errorf("with AlwaysAllow, nobody may delete nodes: %q", got)
	}
}

// TestReplaceBootstrapHooks checks which hooks are replaced: both by default, the
// RBAC one not when upstream has disabled its own (RBAC is not an authorization mode),
// the priority-class one not when the scheduling API is off.
func TestReplaceBootstrapHooks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		noRBAC, noSched bool
		want            []string
	}{
		{name: "default", want: []string{priorityClassHook, rbacBootstrapHook}},
		{name: "RBAC not an authorization mode", noRBAC: true, want: []string{priorityClassHook}},
		{name: "scheduling API off", noSched: true, want: []string{rbacBootstrapHook}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := genericapiserver.NewConfig(serializer.NewCodecFactory(runtime.NewScheme()))
			c.MergedResourceConfig = serverstorage.NewResourceConfig()
			c.MergedResourceConfig.EnableVersions(rbacv1.SchemeGroupVersion, schedulingv1.SchemeGroupVersion)
			if tc.noRBAC {
				c.DisabledPostStartHooks.Insert(rbacrest.PostStartHookName)
			}
			if tc.noSched {
				c.MergedResourceConfig.DisableVersions(schedulingv1.SchemeGroupVersion)
			}
			replaceBootstrapHooks(c)
			got := slices.Sorted(maps.Keys(c.PostStartHooks))
			if !slices.Equal(got, tc.want) {
				t.Errorf("hooks %v, want %v", got, tc.want)
			}
			if !c.DisabledPostStartHooks.Has(rbacrest.PostStartHookName) || tc.noSched == c.DisabledPostStartHooks.Has(schedulingrest.PostStartHookName) {
				t.Errorf("disabled upstream hooks: %v", c.DisabledPostStartHooks.List())
			}
		})
	}
}

// checkPolicy fails t unless every object of p exists with p's rules, aggregation
// rule, role reference and subjects, and every system priority class exists with its
// value.
func checkPolicy(t *testing.T, client kubernetes.Interface, p policyData) {
	t.Helper()
	ctx := context.Background()
	rbac := client.RbacV1()
	for _, want := range p.clusterRoles {
		got, err := rbac.ClusterRoles().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("clusterrole %s: %v", want.Name, err)
			continue
		}
		// Aggregated roles get their rules from the controller manager; the rest are
		// upstream's exactly.
		if want.AggregationRule != nil {
			if !apiequality.Semantic.DeepEqual(got.AggregationRule, want.AggregationRule) {
				t.Errorf("clusterrole %s: aggregation rule %v, want %v", want.Name, got.AggregationRule, want.AggregationRule)
			}
		} else if !sameRules(got.Rules, want.Rules) {
			t.Errorf("clusterrole %s: rules %v, want %v", want.Name, got.Rules, want.Rules)
		}
	}
	for _, want := range p.clusterRoleBindings {
		got, err := rbac.ClusterRoleBindings().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("clusterrolebinding %s: %v", want.Name, err)
			continue
		}
		if got.RoleRef != want.RoleRef || !apiequality.Semantic.DeepEqual(got.Subjects, want.Subjects) {
			t.Errorf("clusterrolebinding %s: %v %v, want %v %v", want.Name, got.RoleRef, got.Subjects, want.RoleRef, want.Subjects)
		}
	}
	for ns, roles := range p.roles {
		for _, want := range roles {
			got, err := rbac.Roles(ns).Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("role %s/%s: %v", ns, want.Name, err)
			} else if !sameRules(got.Rules, want.Rules) {
				t.Errorf("role %s/%s: rules %v, want %v", ns, want.Name, got.Rules, want.Rules)
			}
		}
	}
	for ns, bindings := range p.roleBindings {
		for _, want := range bindings {
			got, err := rbac.RoleBindings(ns).Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("rolebinding %s/%s: %v", ns, want.Name, err)
			} else if got.RoleRef != want.RoleRef || !apiequality.Semantic.DeepEqual(got.Subjects, want.Subjects) {
				t.Errorf("rolebinding %s/%s: %v %v, want %v %v", ns, want.Name, got.RoleRef, got.Subjects, want.RoleRef, want.Subjects)
			}
		}
	}
	for _, want := range schedulingapiv1.SystemPriorityClasses() {
		got, err := client.SchedulingV1().PriorityClasses().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("priorityclass %s: %v", want.Name, err)
		} else if got.Value != want.Value {
			t.Errorf("priorityclass %s: value %d, want %d", want.Name, got.Value, want.Value)
		}
	}
}

// sameRules says whether a and b grant the same: a restored role holds its rules one
// resource at a time.
func sameRules(a, b []rbacv1.PolicyRule) bool {
	ab, _ := rbacvalidation.Covers(a, b)
	ba, _ := rbacvalidation.Covers(b, a)
	return ab && ba
}

// fastClient is a clientset without client-go's default limit of 5 requests/s: the
// checks read ~150 objects.
func fastClient(t *testing.T, kubeconfig string) kubernetes.Interface {
	cfg := testenv.RESTConfig(t, kubeconfig)
	cfg.QPS, cfg.Burst = 500, 500
	return kubernetes.NewForConfigOrDie(cfg)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunTasks checks the worker pool's rules: every task runs even when some fail,
// conflicts are retried, other errors are reported with the task's name.
func TestRunTasks(t *testing.T) {
	t.Parallel()
	var ran atomic.Int32
	conflicts := atomic.Int32{}
	gr := schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
	var tasks []reconcileTask
	for i := range 20 {
		name := fmt.Sprintf("r%d", i)
		tasks = append(tasks, reconcileTask{kind: "clusterrole", name: name, run: func() (reconciliation.ReconcileOperation, bool, error) {
			ran.Add(1)
			switch {
			case i == 3 && conflicts.Add(1) < 3:
				return "", false, apierrors.NewConflict(gr, name, errors.New("changed"))
			case i == 7:
				return "", false, apierrors.NewForbidden(gr, name, errors.New("no"))
			}
			return reconciliation.ReconcileCreate, false, nil
		}})
	}
	err := runTasks(context.Background(), tasks, 4)
	if err == nil || !strings.Contains(err.Error(), "clusterrole r7: ") || strings.Contains(err.Error(), "r3") {
		t.Fatalf("runTasks error = %v, want only r7's", err)
	}
	if got := ran.Load(); got != 22 {
		t.Errorf("ran %d times, want 22 (20 tasks, 2 retries of the conflict)", got)
	}
}

// TestSnapshotAnswersFirstGetOnly checks the snapshot's rules: the first Get of an
// object it holds returns it, of one it lacks NotFound, of one it was told to skip the
// API server's answer; every later Get of the same object is the API server's.
func TestSnapshotAnswersFirstGetOnly(t *testing.T) {
	t.Parallel()
	s := newSnapshot[string](rbacv1.Resource("clusterroles"), map[string]bool{"/primed": true})
	s.add("", "admin", "listed")
	live := func(ns, name string) (string, error) { return "live " + ns + "/" + name, nil }
	for _, tc := range []struct {
		ns, name, want string
		notFound       bool
	}{
		{name: "admin", want: "listed"},
		{name: "admin", want: "live /admin"},
		{ns: "kube-system", name: "admin", notFound: true},
		{ns: "kube-system", name: "admin", want: "live kube-system/admin"},
		{name: "primed", want: "live /primed"},
	} {
		got, err := s.get(tc.ns, tc.name, live)
		if tc.notFound != apierrors.IsNotFound(err) || (!tc.notFound && (err != nil || got != tc.want)) {
			t.Errorf("get(%q, %q) = %q, %v; want %q (NotFound: %v)", tc.ns, tc.name, got, err, tc.want, tc.notFound)
		}
	}
}

// TestBootstrapUntilDone checks the retry loop: a failing pass is retried, one that
// cannot succeed ends it at once with its own error (named once), and a server that
// stops ends it without an error.
func TestBootstrapUntilDone(t *testing.T) {
	t.Parallel()
	hc := genericapiserver.PostStartHookContext{LoopbackClientConfig: &rest.Config{Host: "https://127.0.0.1:1"}, Context: context.Background()}
	calls := 0
	err := bootstrapUntilDone(hc, "things", func(context.Context, kubernetes.Interface) error {
		if calls++; calls < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("retried pass: %v after %d calls, want nil after 2", err, calls)
	}

	err = bootstrapUntilDone(hc, "things", func(context.Context, kubernetes.Interface) error {
		return permanentError{errors.New("forbidden")}
	})
	if err == nil || err.Error() != "unable to initialize things: forbidden" {
		t.Errorf("permanent error: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := genericapiserver.PostStartHookContext{LoopbackClientConfig: hc.LoopbackClientConfig, Context: ctx}
	if err := bootstrapUntilDone(stopped, "things", func(context.Context, kubernetes.Interface) error { return errors.New("down") }); err != nil {
		t.Errorf("stopped server: %v, want nil", err)
	}
}
