package deploy

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/internal/config"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// kindOf returns the Kind of DeletionOrder that obj is, or fails.
func kindOf(t *testing.T, obj Object) Kind {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	for _, k := range DeletionOrder() {
		if k.GroupVersionKind == gvk {
			return k
		}
	}
	t.Fatalf("%s %s: kind %v is not in DeletionOrder, so deleting the virtual cluster would leave it behind", gvk.Kind, obj.GetName(), gvk)
	return Kind{}
}

// TestLabels checks that every object carries the labels that name its
// virtual cluster, and that the selectors deletion uses find it.
func TestLabels(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			vc := load(t, c.input)
			r := RefOf(vc)
			for _, obj := range render(t, c) {
				l := obj.GetLabels()
				what := obj.GetObjectKind().GroupVersionKind().Kind + " " + obj.GetName()
				if l[translate.LabelManagedBy] != translate.ManagedBy || l[translate.KeyVCluster] != vc.Name ||
					l[LabelHostNamespace] != vc.Namespace || l[LabelComponent] == "" {
					t.Errorf("%s: labels %v lack the virtual cluster's markers", what, l)
				}
				if !r.Selector().Matches(labels.Set(l)) {
					t.Errorf("%s: Ref.Selector does not match labels %v", what, l)
				}
				k := kindOf(t, obj)
				if !k.Selector(r).Matches(labels.Set(l)) {
					t.Errorf("%s: Kind.Selector %v does not match labels %v", what, k.Selector(r), l)
				}
				if k.Namespaced != (obj.GetNamespace() != "") && k != kindNamespace {
					t.Errorf("%s: namespace %q, but kind namespaced=%v", what, obj.GetNamespace(), k.Namespaced)
				}
				if k.Namespaced && obj.GetNamespace() != vc.Namespace {
					t.Errorf("%s: in namespace %q, want %q", what, obj.GetNamespace(), vc.Namespace)
				}
				if translate.IsManaged(obj, vc.Name) {
					t.Errorf("%s: looks like a synced copy to the syncer (translate.IsManaged)", what)
				}
				// A namesake in another namespace must not select it.
				other := Ref{Name: r.Name, Namespace: r.Namespace + "-other"}
				if !k.Namespaced && k.Selector(other).Matches(labels.Set(l)) {
					t.Errorf("%s: selected by the namesake %v", what, other)
				}
			}
			for _, sts := range only[*appsv1.StatefulSet](render(t, c)) {
				sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
				if err != nil {
					t.Fatal(err)
				}
				if tl := sts.Spec.Template.Labels; !sel.Matches(labels.Set(tl)) || !r.Selector().Matches(labels.Set(tl)) {
					t.Errorf("pod template labels %v: not matched by the StatefulSet's selector or Ref.Selector", tl)
				}
				for _, pvc := range sts.Spec.VolumeClaimTemplates {
					if !kindPVC.Selector(r).Matches(labels.Set(pvc.Labels)) {
						t.Errorf("volume claim template labels %v: claims would survive deletion", pvc.Labels)
					}
				}
			}
		})
	}
}

// TestSelectorsUseMarkerKeys checks that everything selecting the control
// plane's pods does so by kubicle.dev keys, which no tenant pod can carry on
// the host.
func TestSelectorsUseMarkerKeys(t *testing.T) {
	t.Parallel()
	c := goldenCases()[0]
	objs := render(t, c)
	var selectors []map[string]string
	for _, s := range only[*corev1.Service](objs) {
		selectors = append(selectors, s.Spec.Selector)
	}
	for _, s := range only[*appsv1.StatefulSet](objs) {
		selectors = append(selectors, s.Spec.Selector.MatchLabels)
	}
	for _, np := range only[*networkingv1.NetworkPolicy](objs) {
		selectors = append(selectors, np.Spec.PodSelector.MatchLabels)
	}
	if len(selectors) < 4 {
		t.Fatalf("found %d selectors, want a Service, headless Service, StatefulSet and NetworkPolicies", len(selectors))
	}
	for _, sel := range selectors {
		if len(sel) == 0 {
			t.Errorf("empty selector")
		}
		for k := range sel {
			if !strings.HasPrefix(k, "kubicle.dev/") || !translate.IsReservedKey(k) {
				t.Errorf("selector %v uses key %q, which a tenant's host pod could carry", sel, k)
			}
		}
	}
}

// TestNamespaceSelectorNeedsCreatedLabel checks that deletion never selects
// a namespace that kubicle did not create.
func TestNamespaceSelectorNeedsCreatedLabel(t *testing.T) {
	t.Parallel()
	r := Ref{Name: "demo", Namespace: "vc-demo"}
	l := labels.Set(r.Labels(ComponentNamespace))
	if kindNamespace.Selector(r).Matches(l) {
		t.Error("Namespace selector matches a namespace without the created label")
	}
	l[LabelCreatedNamespace] = "true"
	if !kindNamespace.Selector(r).Matches(l) {
		t.Error("Namespace selector misses a namespace kubicle created")
	}
	if got, want := kindPod.Selector(r).String(), translate.ManagedSelector("demo").String(); got != want {
		t.Errorf("pod selector %s, want translate.ManagedSelector %s", got, want)
	}
}

// TestDeterministic renders each case twice and checks that the objects are
// identical and the input untouched.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			vc := load(t, c.input)
			before := vc.DeepCopy()
			a, err := Render(vc, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Render(vc, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(vc, before) {
				t.Error("Render modified its input")
			}
			if ya, yb := marshalAll(t, a), marshalAll(t, b); !bytes.Equal(ya, yb) {
				t.Errorf("two renders differ:\n%s", firstDiff(string(ya), string(yb)))
			}
			// Changing what one render returned changes nothing of the next.
			for _, role := range only[*rbacv1.Role](a) {
				for i := range role.Rules {
					for j := range role.Rules[i].Verbs {
						role.Rules[i].Verbs[j] = "scribbled"
					}
				}
			}
			for _, cr := range only[*rbacv1.ClusterRole](a) {
				for i := range cr.Rules {
					for j := range cr.Rules[i].Verbs {
						cr.Rules[i].Verbs[j] = "scribbled"
					}
				}
			}
			if c2, err := Render(vc, c.opts); err != nil || !bytes.Equal(marshalAll(t, c2), marshalAll(t, b)) {
				t.Errorf("a render changed by a caller changes later renders (err %v)", err)
			}
			// No two objects share a label map, so a caller may change one.
			seen := map[uintptr]string{}
			for _, o := range a {
				p := reflect.ValueOf(o.GetLabels()).Pointer()
				if prev, ok := seen[p]; ok {
					t.Errorf("%s and %s share a label map", prev, o.GetName())
				}
				seen[p] = o.GetName()
			}
		})
	}
}

// TestRenderDefaults checks that an undefaulted VirtualCluster renders like
// its defaulted self.
func TestRenderDefaults(t *testing.T) {
	t.Parallel()
	raw := newVC(nil)
	defaulted := raw.DeepCopy()
	v1alpha1.Default(defaulted)
	a := marshalAll(t, mustRender(t, raw, RenderOptions{}))
	b := marshalAll(t, mustRender(t, defaulted, RenderOptions{}))
	if !bytes.Equal(a, b) {
		t.Errorf("undefaulted and defaulted inputs render differently:\n%s", firstDiff(string(b), string(a)))
	}
}

// TestConfigFileLoads checks that the config Secret holds a file that the
// control plane's loader accepts, and that it is the rendered config.
func TestConfigFileLoads(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			vc := load(t, c.input)
			r := RefOf(vc)
			secret := one[*corev1.Secret](t, render(t, c), r.ConfigSecretName())
			data := secret.Data[ConfigKey]
			got, err := config.Load(data)
			if err != nil {
				t.Fatalf("loading the config Secret: %v\n%s", err, data)
			}
			if got.Name != vc.Name || got.Namespace != vc.Namespace {
				t.Errorf("config names %s/%s, want %s/%s", got.Namespace, got.Name, vc.Namespace, vc.Name)
			}
			gotSpec, _ := yaml.Marshal(got.Spec)
			wantSpec, _ := yaml.Marshal(vc.Spec)
			if !bytes.Equal(gotSpec, wantSpec) {
				t.Errorf("config spec differs from the input:\n%s", firstDiff(string(wantSpec), string(gotSpec)))
			}
		})
	}
}

// TestControlPlanePodMeetsRestricted checks the control plane's pod against
// the "restricted" Pod Security Standard, the strictest a tenant's namespace
// may enforce.
func TestControlPlanePodMeetsRestricted(t *testing.T) {
	t.Parallel()
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, sts := range only[*appsv1.StatefulSet](render(t, c)) {
				tmpl := sts.Spec.Template
				lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
				for _, res := range eval.EvaluatePod(lv, &tmpl.ObjectMeta, &tmpl.Spec) {
					if !res.Allowed {
						t.Errorf("restricted: %s: %s", res.ForbiddenReason, res.ForbiddenDetail)
					}
				}
			}
		})
	}
}

// TestPodSecurityLabels checks the namespace labels against Pod Security
// Admission's own names.
func TestPodSecurityLabels(t *testing.T) {
	t.Parallel()
	if psaEnforce != psaapi.EnforceLevelLabel || psaAudit != psaapi.AuditLevelLabel || psaWarn != psaapi.WarnLevelLabel {
		t.Fatal("Pod Security label keys disagree with k8s.io/pod-security-admission/api")
	}
	for _, level := range []v1alpha1.PodSecurityStandard{v1alpha1.PodSecurityPrivileged, v1alpha1.PodSecurityBaseline, v1alpha1.PodSecurityRestricted} {
		vc := newVC(func(vc *v1alpha1.VirtualCluster) { vc.Spec.Isolation.PodSecurityStandard = level })
		ns := one[*corev1.Namespace](t, mustRender(t, vc, RenderOptions{}), "vc-demo")
		policy, err := psaapi.PolicyToEvaluate(ns.Labels, psaapi.Policy{})
		if len(err) > 0 {
			t.Fatalf("%s: %v", level, err)
		}
		want := psaapi.Level(level)
		if policy.Enforce.Level != want || policy.Audit.Level != want || policy.Warn.Level != want {
			t.Errorf("%s: namespace policy %+v", level, policy)
		}
		if ns.Labels[LabelCreatedNamespace] != "true" {
			t.Errorf("%s: namespace lacks %s", level, LabelCreatedNamespace)
		}
	}
}

// TestDriverProcess checks that a process control plane gets no workload
// objects but keeps its identity, config and guardrails.
func TestDriverProcess(t *testing.T) {
	t.Parallel()
	objs := render(t, goldenCases()[3])
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	want := []string{"Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "NetworkPolicy", "NetworkPolicy", "Secret"}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
}

// TestApplyOrder checks that every object comes after the objects it needs.
func TestApplyOrder(t *testing.T) {
	t.Parallel()
	rank := map[string]int{
		"Namespace": 0, "ServiceAccount": 1, "Role": 2, "RoleBinding": 3, "ClusterRole": 4, "ClusterRoleBinding": 5,
		"ResourceQuota": 6, "LimitRange": 7, "NetworkPolicy": 8, "Secret": 9, "Service": 10, "StatefulSet": 11,
	}
	for _, c := range goldenCases() {
		objs := render(t, c)
		last := -1
		for _, o := range objs {
			k := o.GetObjectKind().GroupVersionKind().Kind
			rk, ok := rank[k]
			if !ok {
				t.Fatalf("%s: unexpected kind %s", c.name, k)
			}
			if rk < last {
				t.Errorf("%s: %s %s comes too late", c.name, k, o.GetName())
			}
			last = rk
		}
	}
}

// TestServiceExpose checks the Service type and port for each way of
// exposing the API server.
func TestServiceExpose(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expose   v1alpha1.Expose
		want     corev1.ServiceType
		nodePort int32
	}{
		{v1alpha1.Expose{}, corev1.ServiceTypeClusterIP, 0},
		{v1alpha1.Expose{Type: v1alpha1.ExposeClusterIP}, corev1.ServiceTypeClusterIP, 0},
		{v1alpha1.Expose{Type: v1alpha1.ExposePortForward}, corev1.ServiceTypeClusterIP, 0},
		{v1alpha1.Expose{Type: v1alpha1.ExposeClusterIP, Annotations: map[string]string{"a.example.com/x": "y"}}, corev1.ServiceTypeClusterIP, 0},
	}
	for _, c := range cases {
		vc := newVC(func(vc *v1alpha1.VirtualCluster) { vc.Spec.ControlPlane.Expose = c.expose })
		objs := mustRender(t, vc, RenderOptions{})
		svc := one[*corev1.Service](t, objs, "demo")
		if svc.Spec.Type != c.want {
			t.Errorf("%+v: type %s, want %s", c.expose, svc.Spec.Type, c.want)
		}
		want := corev1.ServicePort{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, NodePort: c.nodePort}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != want.Name || svc.Spec.Ports[0].Port != want.Port ||
			svc.Spec.Ports[0].NodePort != want.NodePort || svc.Spec.Ports[0].TargetPort.String() != "https" {
			t.Errorf("%+v: ports %+v", c.expose, svc.Spec.Ports)
		}
		if !maps.Equal(svc.Annotations, c.expose.Annotations) {
			t.Errorf("%+v: annotations %v", c.expose, svc.Annotations)
		}
		headless := one[*corev1.Service](t, objs, "demo-headless")
		if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
			t.Errorf("headless Service %+v", headless.Spec)
		}
		// The container port the Services target is 6443.
		sts := one[*appsv1.StatefulSet](t, objs, "demo")
		if p := sts.Spec.Template.Spec.Containers[0].Ports[0]; p.Name != "https" || p.ContainerPort != 6443 {
			t.Errorf("container port %+v", p)
		}
	}
}

// TestStatefulSet checks the control plane's StatefulSet: command line,
// image, store volume, probes and identity.
func TestStatefulSet(t *testing.T) {
	t.Parallel()
	size := resource.MustParse("7Gi")
	cases := []struct {
		name      string
		mutate    func(*v1alpha1.VirtualCluster)
		opts      RenderOptions
		image     string
		claim     bool
		claimSize string
		class     string
	}{
		{"defaults", nil, RenderOptions{}, DefaultImage, true, "5Gi", ""},
		{"release image", nil, RenderOptions{Image: "kubicle:v1"}, "kubicle:v1", true, "5Gi", ""},
		{"config image wins", func(vc *v1alpha1.VirtualCluster) { vc.Spec.ControlPlane.Image = "mine:1" }, RenderOptions{Image: "kubicle:v1"}, "mine:1", true, "5Gi", ""},
		{"sized claim in a class", func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Persistence = v1alpha1.Persistence{Size: &size, StorageClassName: "fast"}
		}, RenderOptions{}, DefaultImage, true, "7Gi", "fast"},
		{"ephemeral", func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Persistence.Enabled = off()
		}, RenderOptions{}, DefaultImage, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs := mustRender(t, newVC(c.mutate), c.opts)
			sts := one[*appsv1.StatefulSet](t, objs, "demo")
			pod := sts.Spec.Template.Spec
			ctr := pod.Containers[0]
			if ctr.Image != c.image {
				t.Errorf("image %q, want %q", ctr.Image, c.image)
			}
			wantArgs := ControlPlaneArgs(Ref{"demo", "vc-demo"}, false)
			if !slices.Equal(ctr.Command, wantArgs) || len(ctr.Args) > 0 {
				t.Errorf("command %q args %q, want command %q", ctr.Command, ctr.Args, wantArgs)
			}
			for _, flag := range []string{"--config=/etc/kubicle/config.yaml", "--data-dir=/data", "--name=demo", "--host-namespace=vc-demo"} {
				if !slices.Contains(ctr.Command, flag) {
					t.Errorf("command %q lacks %s", ctr.Command, flag)
				}
			}
			if pod.ServiceAccountName != "demo-control-plane" || !isTrue(pod.AutomountServiceAccountToken) {
				t.Errorf("service account %q, automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
			}
			if *sts.Spec.Replicas != 1 {
				t.Errorf("replicas %d", *sts.Spec.Replicas)
			}
			for name, p := range map[string]*corev1.Probe{"startup": ctr.StartupProbe, "liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS || p.HTTPGet.Port.String() != "https" {
					t.Errorf("%s probe %+v", name, p)
				}
			}
			if ctr.ReadinessProbe.HTTPGet.Path != "/readyz" || ctr.LivenessProbe.HTTPGet.Path != "/livez" {
				t.Errorf("probe paths %q, %q", ctr.ReadinessProbe.HTTPGet.Path, ctr.LivenessProbe.HTTPGet.Path)
			}
			if !reflect.DeepEqual(ctr.Resources.Requests, corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("512Mi"),
			}) {
				t.Errorf("requests %v", ctr.Resources.Requests)
			}
			var dataVol *corev1.Volume
			for i := range pod.Volumes {
				if pod.Volumes[i].Name == "data" {
					dataVol = &pod.Volumes[i]
				}
			}
			switch {
			case c.claim && (len(sts.Spec.VolumeClaimTemplates) != 1 || dataVol != nil):
				t.Fatalf("want a claim template and no data volume, got %d templates, volume %v", len(sts.Spec.VolumeClaimTemplates), dataVol)
			case !c.claim && (len(sts.Spec.VolumeClaimTemplates) != 0 || dataVol == nil || dataVol.EmptyDir == nil):
				t.Fatalf("want an emptyDir data volume, got %d templates, volume %v", len(sts.Spec.VolumeClaimTemplates), dataVol)
			}
			if c.claim {
				claim := sts.Spec.VolumeClaimTemplates[0]
				if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != c.claimSize {
					t.Errorf("claim size %s, want %s", got.String(), c.claimSize)
				}
				if got := claim.Spec.StorageClassName; (c.class == "") != (got == nil) || (got != nil && *got != c.class) {
					t.Errorf("claim class %v, want %q", got, c.class)
				}
			}
		})
	}
}

// TestStatefulSetReplicas checks a highly available control plane: three
// replicas on a shared store start together, prefer different nodes, share one
// PKI, and serve the kubelet endpoint at the one port virtual nodes advertise.
func TestStatefulSetReplicas(t *testing.T) {
	t.Parallel()
	vc := newVC(func(vc *v1alpha1.VirtualCluster) {
		vc.Spec.ControlPlane.Replicas = new(int32(3))
		vc.Spec.ControlPlane.BackingStore.Type = v1alpha1.BackingStoreDatabase
		vc.Spec.ControlPlane.BackingStore.Database = &v1alpha1.Database{
			Driver: v1alpha1.DatabasePostgres, DSNSecretRef: &v1alpha1.SecretKeyReference{Name: "db"},
		}
	})
	sts := one[*appsv1.StatefulSet](t, mustRender(t, vc, RenderOptions{PKI: testPKI()}), "demo")
	if *sts.Spec.Replicas != 3 || sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("replicas %d, pod management %s", *sts.Spec.Replicas, sts.Spec.PodManagementPolicy)
	}
	cmd := sts.Spec.Template.Spec.Containers[0].Command
	for _, flag := range []string{"--pki-dir=" + PKIDir, "--kubelet-listen=127.0.0.1:10250"} {
		if !slices.Contains(cmd, flag) {
			t.Errorf("command %q lacks %s", cmd, flag)
		}
	}
	aff := sts.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != corev1.LabelHostname {
		t.Errorf("want replicas spread over nodes, affinity %+v", aff)
	}
}

// TestSleeping checks that a sleeping virtual cluster keeps everything but
// its control plane's pods.
func TestSleeping(t *testing.T) {
	t.Parallel()
	c := goldenCases()[1]
	awake := render(t, c)
	c.opts.Sleeping = true
	asleep := render(t, c)
	if len(awake) != len(asleep) {
		t.Fatalf("%d objects awake, %d asleep", len(awake), len(asleep))
	}
	for i := range awake {
		sts, ok := asleep[i].(*appsv1.StatefulSet)
		if !ok {
			if a, b := marshalAll(t, awake[i:i+1]), marshalAll(t, asleep[i:i+1]); !bytes.Equal(a, b) {
				t.Errorf("%s differs asleep:\n%s", awake[i].GetName(), firstDiff(string(a), string(b)))
			}
			continue
		}
		if *sts.Spec.Replicas != 0 || *awake[i].(*appsv1.StatefulSet).Spec.Replicas != 1 {
			t.Errorf("replicas asleep %d, awake %d", *sts.Spec.Replicas, *awake[i].(*appsv1.StatefulSet).Spec.Replicas)
		}
	}
}

// TestPKIMount checks that a given PKI is stored in a Secret, mounted, named
// on the command line and covered by the config hash.
func TestPKIMount(t *testing.T) {
	t.Parallel()
	r := Ref{"demo", "vc-demo"}
	with := mustRender(t, newVC(nil), RenderOptions{PKI: testPKI()})
	without := mustRender(t, newVC(nil), RenderOptions{})
	secret := one[*corev1.Secret](t, with, r.PKISecretName())
	if !reflect.DeepEqual(secret.Data, testPKI()) {
		t.Errorf("PKI Secret data %v", secret.Data)
	}
	if len(only[*corev1.Secret](without)) != 1 {
		t.Errorf("without a PKI, want only the config Secret")
	}
	sts := one[*appsv1.StatefulSet](t, with, "demo")
	if !slices.Contains(sts.Spec.Template.Spec.Containers[0].Command, "--pki-dir="+PKIDir) {
		t.Errorf("command lacks --pki-dir")
	}
	changed := testPKI()
	changed["ca.crt"] = []byte("rotated")
	rotated := one[*appsv1.StatefulSet](t, mustRender(t, newVC(nil), RenderOptions{PKI: changed}), "demo")
	plain := one[*appsv1.StatefulSet](t, without, "demo")
	hashes := map[string]bool{
		sts.Spec.Template.Annotations[AnnotationConfigHash]:     true,
		rotated.Spec.Template.Annotations[AnnotationConfigHash]: true,
		plain.Spec.Template.Annotations[AnnotationConfigHash]:   true,
	}
	if len(hashes) != 3 {
		t.Errorf("config hashes do not follow the PKI: %v", hashes)
	}
}

// TestGuardrails checks the quota, limit range and network policies.
func TestGuardrails(t *testing.T) {
	t.Parallel()
	c := goldenCases()[4]
	vc := load(t, c.input)
	r := RefOf(vc)
	objs := render(t, c)

	q := one[*corev1.ResourceQuota](t, objs, r.ResourceQuotaName())
	if gpu := q.Spec.Hard["requests.nvidia.com/gpu"]; gpu.String() != "8" {
		t.Errorf("GPU quota %s, want 8 (from gpu.maxGPUs)", gpu.String())
	}
	if !reflect.DeepEqual(q.Spec.Hard, vc.Spec.Isolation.ResourceQuota) {
		t.Errorf("quota %v, want %v", q.Spec.Hard, vc.Spec.Isolation.ResourceQuota)
	}
	lr := one[*corev1.LimitRange](t, objs, r.LimitRangeName())
	item := lr.Spec.Limits[0]
	iso := vc.Spec.Isolation.LimitRange
	if item.Type != corev1.LimitTypeContainer || !reflect.DeepEqual(item.Max, iso.Max) || !reflect.DeepEqual(item.Min, iso.Min) ||
		!reflect.DeepEqual(item.Default, iso.Default) || !reflect.DeepEqual(item.DefaultRequest, iso.DefaultRequest) {
		t.Errorf("limit range %+v, want %+v", item, iso)
	}

	wl := one[*networkingv1.NetworkPolicy](t, objs, r.WorkloadsNetworkPolicyName())
	sel, err := metav1.LabelSelectorAsSelector(&wl.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	tenantPod, _ := translate.Markers(translate.Identity{VCluster: vc.Name, Namespace: "default", Name: "web"})
	otherTenantPod, _ := translate.Markers(translate.Identity{VCluster: "other", Namespace: "default", Name: "web"})
	cpPod := r.Labels(ComponentControlPlane)
	if !sel.Matches(labels.Set(tenantPod)) || sel.Matches(labels.Set(cpPod)) || sel.Matches(labels.Set(otherTenantPod)) {
		t.Errorf("workloads policy selects %s: want the tenant's synced pods only", sel)
	}
	if len(wl.Spec.Ingress) != 1 || len(wl.Spec.Ingress[0].From) != 1 || wl.Spec.Ingress[0].From[0].NamespaceSelector != nil ||
		wl.Spec.Ingress[0].From[0].PodSelector == nil || len(wl.Spec.Ingress[0].From[0].PodSelector.MatchLabels) != 0 {
		t.Errorf("workloads policy should admit pods of its own namespace only: %+v", wl.Spec.Ingress)
	}
	if !slices.Equal(wl.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policy types %v", wl.Spec.PolicyTypes)
	}
	// A pod that a policy of the tenant's isolates is left to that policy.
	isolated := labels.Merge(tenantPod, labels.Set{translate.KeyIsolatedIngress: "true"})
	if sel.Matches(isolated) || !sel.Matches(labels.Merge(tenantPod, labels.Set{translate.KeyIsolatedIngress: "false"})) {
		t.Errorf("workloads policy selects %s: want the pods no tenant ingress policy isolates", sel)
	}
	eg := one[*networkingv1.NetworkPolicy](t, objs, r.WorkloadsEgressNetworkPolicyName())
	egSel, err := metav1.LabelSelectorAsSelector(&eg.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	if !egSel.Matches(labels.Set(tenantPod)) || egSel.Matches(labels.Merge(tenantPod, labels.Set{translate.KeyIsolatedEgress: "true"})) || egSel.Matches(labels.Set(cpPod)) {
		t.Errorf("egress policy selects %s: want the tenant's pods no tenant egress policy isolates", egSel)
	}
	if !slices.Equal(eg.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}) {
		t.Errorf("egress policy types %v", eg.Spec.PolicyTypes)
	}
	if len(eg.Spec.Egress) != 1 || len(eg.Spec.Egress[0].Ports) != 0 {
		t.Fatalf("workloads egress %+v: want one rule for every port", eg.Spec.Egress)
	}
	if to := eg.Spec.Egress[0].To; len(to) != 2 || to[0].PodSelector == nil || to[0].NamespaceSelector != nil ||
		to[1].IPBlock == nil || to[1].IPBlock.CIDR != "0.0.0.0/0" || !slices.Equal(to[1].IPBlock.Except, v1alpha1.DefaultBlockedEgressCIDRs) {
		t.Errorf("workloads egress by default %+v: want the own namespace and every address but the blocked ranges", to)
	}
	// Every tenant pod and the control plane reach each other, isolated or not.
	wcp := one[*networkingv1.NetworkPolicy](t, objs, r.WorkloadsControlPlaneNetworkPolicyName())
	wcpSel, err := metav1.LabelSelectorAsSelector(&wcp.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	if !wcpSel.Matches(isolated) || len(wcp.Spec.Ingress) != 1 || len(wcp.Spec.Egress) != 1 ||
		!reflect.DeepEqual(wcp.Spec.Ingress[0].From[0].PodSelector.MatchLabels, cpPod) && !labels.SelectorFromSet(wcp.Spec.Ingress[0].From[0].PodSelector.MatchLabels).Matches(labels.Set(cpPod)) {
		t.Errorf("workloads-control-plane policy %+v", wcp.Spec)
	}
	cp := one[*networkingv1.NetworkPolicy](t, objs, r.ControlPlaneNetworkPolicyName())
	if cp.Spec.Ingress[0].Ports[0].Port.IntValue() != APIServerPort || len(cp.Spec.Ingress[0].From) != 0 {
		t.Errorf("control plane policy should admit the API server port from anywhere: %+v", cp.Spec.Ingress[0])
	}

	// Switched off, none of them.
	bare := newVC(func(vc *v1alpha1.VirtualCluster) { vc.Spec.Isolation.NetworkPolicy.Enabled = off() })
	bareObjs := mustRender(t, bare, RenderOptions{})
	if n := len(only[*networkingv1.NetworkPolicy](bareObjs)) + len(only[*corev1.ResourceQuota](bareObjs)) + len(only[*corev1.LimitRange](bareObjs)); n != 0 {
		t.Errorf("%d guardrail objects without any guardrail configured", n)
	}
}

// TestEgressRules checks the egress peers of the workloads policy for each form
// of spec.isolation.networkPolicy.egress.
func TestEgressRules(t *testing.T) {
	t.Parallel()
	ownNamespace := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}
	for _, tc := range []struct {
		name   string
		egress v1alpha1.NetworkEgress
		want   []networkingv1.NetworkPolicyPeer
	}{
		{"blocked ranges are the exceptions of the open IPv4 range",
			v1alpha1.NetworkEgress{BlockedCIDRs: []string{"10.0.0.0/8", "169.254.0.0/16"}},
			[]networkingv1.NetworkPolicyPeer{ownNamespace, {IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "169.254.0.0/16"}}}}},
		{"all of IPv4 blocked leaves the own namespace and what is allowed",
			v1alpha1.NetworkEgress{BlockedCIDRs: []string{"0.0.0.0/0"}, AllowedCIDRs: []string{"198.18.0.1/32"}, AllowedNamespaces: []string{"models", "monitoring"}},
			[]networkingv1.NetworkPolicyPeer{ownNamespace, {IPBlock: &networkingv1.IPBlock{CIDR: "198.18.0.1/32"}},
				{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"models", "monitoring"}}}}}}},
		{"an IPv6 range opens IPv6 outside it",
			v1alpha1.NetworkEgress{BlockedCIDRs: []string{"10.0.0.0/8", "fc00::/7"}},
			[]networkingv1.NetworkPolicyPeer{ownNamespace, {IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: []string{"fc00::/7"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := egressRules(&tc.egress)
			if len(got) != 1 || len(got[0].Ports) != 0 || !reflect.DeepEqual(got[0].To, tc.want) {
				t.Errorf("egressRules(%+v) = %+v, want one rule to %+v", tc.egress, got, tc.want)
			}
		})
	}
}

// TestRenderErrors checks the inputs Render refuses.
func TestRenderErrors(t *testing.T) {
	t.Parallel()
	db := func(vc *v1alpha1.VirtualCluster) {
		vc.Spec.ControlPlane.BackingStore.Type = v1alpha1.BackingStoreDatabase
		vc.Spec.ControlPlane.BackingStore.Database = &v1alpha1.Database{
			Driver: v1alpha1.DatabasePostgres, DSNSecretRef: &v1alpha1.SecretKeyReference{Name: "db"},
		}
	}
	cases := []struct {
		name   string
		vc     *v1alpha1.VirtualCluster
		opts   RenderOptions
		substr string
	}{
		{"nil", nil, RenderOptions{}, "no VirtualCluster"},
		{"invalid", newVC(func(vc *v1alpha1.VirtualCluster) { vc.Name = "Not_A_Name" }), RenderOptions{}, "metadata.name"},
		{"replicas of embedded etcd", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.ControlPlane.Replicas = new(int32(3))
			vc.Spec.ControlPlane.BackingStore.Type = v1alpha1.BackingStoreEmbeddedEtcd
		}), RenderOptions{PKI: testPKI()}, `spec.controlPlane.replicas: Invalid value: 3: must be 1 with backingStore.type "embeddedEtcd"`},
		{"database without PKI", newVC(db), RenderOptions{}, "the PKI must too"},
		{"kubeconfig over config", newVC(func(vc *v1alpha1.VirtualCluster) { vc.Spec.ExportKubeConfig.SecretName = "demo-config" }), RenderOptions{}, `both name Secret "demo-config"`},
		{"DSN over PKI", newVC(func(vc *v1alpha1.VirtualCluster) {
			db(vc)
			vc.Spec.ControlPlane.BackingStore.Database.DSNSecretRef.Name = "demo-pki"
		}), RenderOptions{PKI: testPKI()}, `both name Secret "demo-pki"`},
		{"DSN is the kubeconfig", newVC(func(vc *v1alpha1.VirtualCluster) {
			db(vc)
			vc.Spec.ExportKubeConfig.SecretName = "db"
		}), RenderOptions{PKI: testPKI()}, `both name Secret "db"`},
		{"bad image", newVC(nil), RenderOptions{Image: "kubicle: dev"}, "whitespace"},
		{"quota without room for the control plane", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}
		}), RenderOptions{}, "spec.isolation.resourceQuota[pods] 0 leaves no room for the control plane's 1 pods"},
		{"quota smaller than the control plane", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("100m")}
		}), RenderOptions{}, "spec.isolation.resourceQuota[requests.cpu] 100m is less than the control plane's 1 × 200m request"},
		{"quota on limits the control plane lacks", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("10")}
			vc.Spec.Isolation.LimitRange.Min = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}
		}), RenderOptions{}, "spec.isolation.resourceQuota[limits.cpu] needs a cpu limit on every container"},
		{"limit range max without a limit", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.Isolation.LimitRange.Max = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
		}), RenderOptions{}, "spec.isolation.limitRange.max[cpu] needs a cpu limit on every container"},
		{"limit range max below the control plane", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.Isolation.LimitRange.Max = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}
		}), RenderOptions{}, "the control plane's memory limit 2Gi exceeds spec.isolation.limitRange.max[memory] 1Gi"},
		{"limit range min above the control plane", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.Isolation.LimitRange.Min = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}
		}), RenderOptions{}, "the control plane's memory request 512Mi is below spec.isolation.limitRange.min[memory] 1Gi"},
		{"limit range default below the request", newVC(func(vc *v1alpha1.VirtualCluster) {
			vc.Spec.ControlPlane.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
			vc.Spec.Isolation.LimitRange.Default = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}), RenderOptions{}, "the control plane's cpu request 2 exceeds its limit 1"},
		{"empty PKI", newVC(nil), RenderOptions{PKI: map[string][]byte{}}, "PKI: no files"},
		{"bad PKI file name", newVC(nil), RenderOptions{PKI: map[string][]byte{"../ca.key": nil}}, `PKI file name "../ca.key"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs, err := Render(c.vc, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.substr) {
				t.Fatalf("Render: %d objects, error %v; want an error containing %q", len(objs), err, c.substr)
			}
		})
	}
	// The same configs render once the PKI is given or the name is free.
	for _, vc := range []*v1alpha1.VirtualCluster{newVC(db)} {
		if _, err := Render(vc, RenderOptions{PKI: testPKI()}); err != nil {
			t.Error(err)
		}
	}
	// An ephemeral single replica may generate its own PKI.
	if _, err := Render(newVC(func(vc *v1alpha1.VirtualCluster) {
		vc.Spec.ControlPlane.BackingStore.Persistence.Enabled = off()
	}), RenderOptions{}); err != nil {
		t.Error(err)
	}
}

// TestControlPlaneDeclaresNoGPUs checks that the control plane states a zero
// limit for an extended resource that the LimitRange caps without a default,
// so that LimitRanger admits it, and nothing otherwise.
func TestControlPlaneDeclaresNoGPUs(t *testing.T) {
	t.Parallel()
	gpu := corev1.ResourceName("nvidia.com/gpu")
	cases := []struct {
		name     string
		lr       v1alpha1.LimitRange
		wantZero bool
	}{
		{"no limit range", v1alpha1.LimitRange{}, false},
		{"GPU max", v1alpha1.LimitRange{Max: corev1.ResourceList{gpu: resource.MustParse("8")}}, true},
		{"GPU max with a default", v1alpha1.LimitRange{
			Max: corev1.ResourceList{gpu: resource.MustParse("8")}, Default: corev1.ResourceList{gpu: resource.MustParse("0")},
		}, false},
	}
	for _, c := range cases {
		vc := newVC(func(vc *v1alpha1.VirtualCluster) { vc.Spec.Isolation.LimitRange = c.lr })
		sts := one[*appsv1.StatefulSet](t, mustRender(t, vc, RenderOptions{}), "demo")
		q, ok := sts.Spec.Template.Spec.Containers[0].Resources.Limits[gpu]
		if ok != c.wantZero || (ok && !q.IsZero()) {
			t.Errorf("%s: GPU limit %v (set %v), want zero: %v", c.name, q.String(), ok, c.wantZero)
		}
	}
}

// TestKubeConfigSecret checks the Secret the control plane writes for
// spec.exportKubeConfig.
func TestKubeConfigSecret(t *testing.T) {
	t.Parallel()
	vc := newVC(nil)
	v1alpha1.Default(vc)
	s := KubeConfigSecret(vc, []byte("apiVersion: v1\nkind: Config\n"))
	if s == nil || s.Name != "demo-kubeconfig" || s.Namespace != "vc-demo" || string(s.Data[v1alpha1.KubeConfigSecretKey]) != "apiVersion: v1\nkind: Config\n" {
		t.Fatalf("kubeconfig Secret %+v", s)
	}
	if !kindSecret.Selector(RefOf(vc)).Matches(labels.Set(s.Labels)) || !RefOf(vc).Selector().Matches(labels.Set(s.Labels)) {
		t.Errorf("kubeconfig Secret labels %v: deletion would not find it", s.Labels)
	}
	for _, obj := range mustRender(t, vc, RenderOptions{}) {
		if _, ok := obj.(*corev1.Secret); ok && obj.GetName() == s.Name {
			t.Error("Render returned the kubeconfig Secret; the control plane writes it")
		}
	}
	vc.Spec.ExportKubeConfig.Enabled = off()
	if KubeConfigSecret(vc, nil) != nil {
		t.Error("kubeconfig Secret with the export off")
	}
}
