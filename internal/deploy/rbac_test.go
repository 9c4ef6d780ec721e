package deploy

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// newVC returns virtual cluster "demo" with mutate applied; Render defaults it.
func newVC(mutate func(*v1alpha1.VirtualCluster)) *v1alpha1.VirtualCluster {
	vc := &v1alpha1.VirtualCluster{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.VirtualClusterKind},
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
	}
	if mutate != nil {
		mutate(vc)
	}
	return vc
}

func mustRender(t *testing.T, vc *v1alpha1.VirtualCluster, opts RenderOptions) []Object {
	t.Helper()
	objs, err := Render(vc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// only returns the objects of type T.
func only[T Object](objs []Object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// one returns the object of type T named name, or fails.
func one[T Object](t *testing.T, objs []Object, name string) T {
	t.Helper()
	for _, o := range only[T](objs) {
		if o.GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T named %q", zero, name)
	return zero
}

// resourcesOf returns "group/resource" for every resource of the rules,
// sorted, each once.
func resourcesOf(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				out = append(out, g+"/"+res)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func off() *bool { return new(false) }
func on() *bool  { return new(true) }

// TestClusterRoleScoping checks that the ClusterRole grants read access to
// exactly the kinds that spec.sync.fromHost shows, and is absent when it
// shows none.
func TestClusterRoleScoping(t *testing.T) {
	t.Parallel()
	// Host classes are not shown in virtual clusters yet (validation refuses
	// spec.sync.fromHost's class kinds), so the ClusterRole grants nodes only,
	// which the syncer mirrors for the pods it runs.
	defaults := []string{"/nodes"}
	cases := []struct {
		name   string
		mutate func(*v1alpha1.VirtualCluster)
		want   []string // nil: no ClusterRole at all
	}{
		{"defaults", nil, defaults},
		{"ingresses bring no ingress classes", func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.Sync.ToHost.Ingresses.Enabled = on()
		}, defaults},
		{"a virtual scheduler brings no CSI objects", func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.ControlPlane.Scheduler.Enabled = on()
		}, defaults},
		{"every class off but nodes", func(vc *v1alpha1.VirtualCluster) {
			f := &vc.Spec.Sync.FromHost
			f.StorageClasses.Enabled, f.RuntimeClasses.Enabled, f.DeviceClasses.Enabled, f.PriorityClasses.Enabled = off(), off(), off(), off()
		}, []string{"/nodes"}},
		{"no pods, no nodes", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.Pods.Enabled = off() }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			vc := newVC(c.mutate)
			r := Ref{Name: "demo", Namespace: "vc-demo"}
			objs := mustRender(t, vc, RenderOptions{})
			roles := only[*rbacv1.ClusterRole](objs)
			bindings := only[*rbacv1.ClusterRoleBinding](objs)
			if c.want == nil {
				if len(roles)+len(bindings) != 0 {
					t.Fatalf("got %d ClusterRoles and %d bindings, want none", len(roles), len(bindings))
				}
				return
			}
			if len(roles) != 1 || len(bindings) != 1 {
				t.Fatalf("got %d ClusterRoles and %d bindings, want one each", len(roles), len(bindings))
			}
			cr, crb := roles[0], bindings[0]
			slices.Sort(c.want)
			if got := resourcesOf(cr.Rules); !slices.Equal(got, c.want) {
				t.Errorf("ClusterRole resources\n got %v\nwant %v", got, c.want)
			}
			for _, rule := range cr.Rules {
				if !slices.Equal(rule.Verbs, []string{"get", "list", "watch"}) || len(rule.ResourceNames) > 0 || len(rule.NonResourceURLs) > 0 {
					t.Errorf("rule %+v: want read-only get, list, watch on whole resources", rule)
				}
			}
			if cr.Name != r.ClusterRoleName() || crb.Name != r.ClusterRoleBindingName() {
				t.Errorf("names %q, %q", cr.Name, crb.Name)
			}
			if crb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name}) {
				t.Errorf("binding refers to %+v", crb.RoleRef)
			}
			wantSubject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.ServiceAccountName(), Namespace: r.Namespace}}
			if !slices.Equal(crb.Subjects, wantSubject) {
				t.Errorf("binding subjects %+v, want %+v", crb.Subjects, wantSubject)
			}
		})
	}
}

// TestClusterRoleNamesAreUnique checks that virtual clusters whose names and
// namespaces concatenate alike still get different ClusterRoles.
func TestClusterRoleNamesAreUnique(t *testing.T) {
	t.Parallel()
	a := Ref{Name: "b-c", Namespace: "a"}
	b := Ref{Name: "c", Namespace: "a-b"}
	if a.ClusterRoleName() == b.ClusterRoleName() {
		t.Errorf("%v and %v share ClusterRole %q", a, b, a.ClusterRoleName())
	}
	// The same name in two namespaces.
	if (Ref{"demo", "x"}).ClusterRoleName() == (Ref{"demo", "y"}).ClusterRoleName() {
		t.Error("namesakes in different namespaces share a ClusterRole")
	}
}

// TestRoleScoping checks that the Role grants each synced kind exactly when
// spec.sync.toHost enables it.
func TestRoleScoping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		mutate   func(*v1alpha1.VirtualCluster)
		resource string // checked among the rules that name no objects
		want     bool
	}{
		{"pods by default", nil, "/pods", true},
		{"no pods when off", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.Pods.Enabled = off() }, "/pods", false},
		{"pod exec by default", nil, "/pods/exec", true},
		{"services by default", nil, "/services", true},
		{"services off", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.Services.Enabled = off() }, "/services", false},
		{"endpoint slices by default", nil, "discovery.k8s.io/endpointslices", true},
		{"endpoints off", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.Endpoints.Enabled = off() }, "discovery.k8s.io/endpointslices", false},
		{"config maps by default", nil, "/configmaps", true},
		{"config maps off", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.ConfigMaps.Enabled = off() }, "/configmaps", false},
		{"claims by default", nil, "/persistentvolumeclaims", true},
		{"claims off", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.PersistentVolumeClaims.Enabled = off() }, "/persistentvolumeclaims", false},
		{"no ingresses by default", nil, "networking.k8s.io/ingresses", false},
		{"ingresses on", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.Ingresses.Enabled = on() }, "networking.k8s.io/ingresses", true},
		{"no service accounts by default", nil, "/serviceaccounts", false},
		{"network policies by default", nil, "networking.k8s.io/networkpolicies", true},
		{"network policies off", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.NetworkPolicies.Enabled = off() }, "networking.k8s.io/networkpolicies", false},
		{"no resource claims by default", nil, "resource.k8s.io/resourceclaims", false},
		{"resource claims off", func(vc *v1alpha1.VirtualCluster) { vc.Spec.Sync.ToHost.ResourceClaims.Enabled = off() }, "resource.k8s.io/resourceclaimtemplates", false},
		{"no gangs by default", nil, "scheduling.k8s.io/workloads", false},
		{"leases always", nil, "coordination.k8s.io/leases", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs := mustRender(t, newVC(c.mutate), RenderOptions{})
			role := one[*rbacv1.Role](t, objs, "demo-control-plane")
			unnamed := slices.DeleteFunc(slices.Clone(role.Rules), func(r rbacv1.PolicyRule) bool { return len(r.ResourceNames) > 0 })
			if got := slices.Contains(resourcesOf(unnamed), c.resource); got != c.want {
				t.Errorf("Role grants %s: %v, want %v\nrules: %v", c.resource, got, c.want, resourcesOf(unnamed))
			}
		})
	}
}

// TestRoleOwnObjects checks that the control plane reads its own
// StatefulSet and Services by name, and only with driver "pod".
func TestRoleOwnObjects(t *testing.T) {
	t.Parallel()
	for _, driver := range []v1alpha1.ControlPlaneDriver{v1alpha1.DriverPod, v1alpha1.DriverProcess} {
		vc := newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.ControlPlane.Driver = driver
			vc.Spec.Sync.ToHost.Services.Enabled = off()
		})
		role := one[*rbacv1.Role](t, mustRender(t, vc, RenderOptions{}), "demo-control-plane")
		var named []string
		for _, r := range role.Rules {
			if len(r.ResourceNames) == 0 {
				continue
			}
			if !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
				t.Errorf("%s: named rule %+v is not read-only", driver, r)
			}
			for _, res := range resourcesOf([]rbacv1.PolicyRule{r}) {
				for _, n := range r.ResourceNames {
					named = append(named, res+"/"+n)
				}
			}
		}
		want := []string{"/services/demo", "/services/demo-headless", "/services/demo-dns", "apps/statefulsets/demo"}
		if driver == v1alpha1.DriverProcess {
			want = nil
		}
		if !slices.Equal(named, want) {
			t.Errorf("%s: named grants %v, want %v", driver, named, want)
		}
	}
}

// TestRoleSecretsOnlyForKubeConfig checks that a control plane that syncs no
// Secrets and no pods may write only its kubeconfig Secret by name.
func TestRoleSecretsOnlyForKubeConfig(t *testing.T) {
	t.Parallel()
	vc := newVC(func(vc *v1alpha1.VirtualCluster) {
		vc.Spec.Sync.ToHost.Pods.Enabled = off()
		vc.Spec.Sync.ToHost.Secrets.Enabled = off()
	})
	role := one[*rbacv1.Role](t, mustRender(t, vc, RenderOptions{}), "demo-control-plane")
	var got []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if slices.Contains(r.Resources, "secrets") {
			got = append(got, r)
		}
	}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "update", "patch"}, ResourceNames: []string{"demo-kubeconfig"}},
	}
	if len(got) != len(want) {
		t.Fatalf("secret rules %+v, want %+v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i].Verbs, want[i].Verbs) || !slices.Equal(got[i].ResourceNames, want[i].ResourceNames) {
			t.Errorf("secret rule %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestRoleStoreCredentials checks that the store's credential Secret is
// readable by name.
func TestRoleStoreCredentials(t *testing.T) {
	t.Parallel()
	role := one[*rbacv1.Role](t, render(t, goldenCases()[1]), "team-a-control-plane")
	found := false
	for _, r := range role.Rules {
		if slices.Equal(r.Resources, []string{"secrets"}) && slices.Equal(r.ResourceNames, []string{"team-a-db"}) {
			found = slices.Equal(r.Verbs, []string{"get"})
		}
	}
	if !found {
		t.Errorf("no get rule for Secret team-a-db in %+v", role.Rules)
	}
}

// clusterScoped are resources that a namespaced Role must never name: a
// Role naming them grants nothing, and naming them would show a
// misunderstanding.
var clusterScoped = []string{
	"nodes", "namespaces", "persistentvolumes", "clusterroles", "clusterrolebindings",
	"storageclasses", "ingressclasses", "runtimeclasses", "priorityclasses", "csidrivers",
	"csinodes", "deviceclasses", "resourceslices", "customresourcedefinitions",
}

// TestRBACInvariants checks every rendered Role and ClusterRole for grants
// that least privilege never allows.
func TestRBACInvariants(t *testing.T) {
	t.Parallel()
	forbiddenVerbs := []string{"*", "deletecollection", "escalate", "bind", "impersonate", "approve", "sign"}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, c)
			vc := load(t, c.input)
			r := RefOf(vc)
			check := func(kind string, rules []rbacv1.PolicyRule) {
				for _, rule := range rules {
					for _, v := range rule.Verbs {
						if slices.Contains(forbiddenVerbs, v) {
							t.Errorf("%s grants verb %q: %+v", kind, v, rule)
						}
					}
					for _, s := range append(slices.Clone(rule.APIGroups), rule.Resources...) {
						if strings.Contains(s, "*") {
							t.Errorf("%s has a wildcard: %+v", kind, rule)
						}
					}
					if len(rule.NonResourceURLs) > 0 {
						t.Errorf("%s grants non-resource URLs: %+v", kind, rule)
					}
					for _, res := range rule.Resources {
						if strings.HasPrefix(res, "pods/") && !slices.Contains(rule.APIGroups, "") {
							t.Errorf("%s: pod subresource outside the core group: %+v", kind, rule)
						}
						if kind == "Role" && slices.Contains(clusterScoped, res) {
							t.Errorf("Role names cluster-scoped %q", res)
						}
					}
				}
			}
			role := one[*rbacv1.Role](t, objs, r.RoleName())
			check("Role", role.Rules)
			for _, cr := range only[*rbacv1.ClusterRole](objs) {
				check("ClusterRole", cr.Rules)
				for _, rule := range cr.Rules {
					if !slices.Equal(rule.Verbs, []string{"get", "list", "watch"}) {
						t.Errorf("ClusterRole rule is not read-only: %+v", rule)
					}
				}
			}
			rb := one[*rbacv1.RoleBinding](t, objs, r.RoleBindingName())
			if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name {
				t.Errorf("RoleBinding refers to %+v", rb.RoleRef)
			}
			if len(rb.Subjects) != 1 || rb.Subjects[0].Name != r.ServiceAccountName() || rb.Subjects[0].Namespace != r.Namespace {
				t.Errorf("RoleBinding subjects %+v", rb.Subjects)
			}
		})
	}
}
