package v1alpha1

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fieldTruth says, for one field of the spec, either which tests show that it
// does what its documentation says (built), or how to set it to a value that
// validation must refuse as not supported yet (refuse).
type fieldTruth struct {
	built  []string
	refuse func(*VirtualCluster)
}

func builtBy(tests ...string) fieldTruth { return fieldTruth{built: tests} }

func refusedWhen(set func(*VirtualCluster)) fieldTruth { return fieldTruth{refuse: set} }

// specTruth lists every leaf field of VirtualClusterSpec by its JSON path. A
// field added to the type without an entry here fails TestEveryFieldBuiltOrRefused.
var specTruth = map[string]fieldTruth{
	"controlPlane.driver":                                      builtBy("TestDriverProcess", "TestLifecycle", "TestStatefulSet"),
	"controlPlane.version":                                     refusedWhen(func(vc *VirtualCluster) { vc.Spec.ControlPlane.Version = "v1.36" }),
	"controlPlane.image":                                       builtBy("TestStatefulSet"),
	"controlPlane.resources":                                   builtBy("TestRenderDefaults", "TestStatefulSet"),
	"controlPlane.replicas":                                    builtBy("TestStatefulSet", "TestControlPlaneHA"),
	"controlPlane.backingStore.type":                           builtBy("TestStoreSQLite", "TestStoreEmbeddedEtcd", "TestStoreExternalEtcd", "TestStorePostgres"),
	"controlPlane.backingStore.persistence.enabled":            builtBy("TestStatefulSet"),
	"controlPlane.backingStore.persistence.size":               builtBy("TestStatefulSet"),
	"controlPlane.backingStore.persistence.storageClassName":   builtBy("TestStatefulSet"),
	"controlPlane.backingStore.externalEtcd.endpoints":         builtBy("TestStoreExternalEtcd"),
	"controlPlane.backingStore.externalEtcd.tlsSecretRef.name": builtBy("TestPodDriverStores"),
	"controlPlane.backingStore.externalEtcd.prefix":            builtBy("TestStoreExternalEtcd", "TestApplyConfigBackingStore"),
	"controlPlane.backingStore.database.driver":                builtBy("TestStorePostgres", "TestLifecyclePostgres"),
	"controlPlane.backingStore.database.dsnSecretRef.name":     builtBy("TestLifecyclePostgres", "TestDSNSecretsHidden"),
	"controlPlane.backingStore.database.dsnSecretRef.key":      builtBy("TestLifecyclePostgres", "TestDSNSecretsHidden"),
	"controlPlane.scheduler.enabled":                           builtBy("TestControlPlaneFromConfig"),
	"controlPlane.expose.type":                                 refusedWhen(func(vc *VirtualCluster) { vc.Spec.ControlPlane.Expose.Type = ExposeLoadBalancer }),
	"controlPlane.expose.nodePort":                             refusedWhen(func(vc *VirtualCluster) { vc.Spec.ControlPlane.Expose = Expose{Type: ExposeNodePort, NodePort: 30443} }),
	"controlPlane.expose.annotations":                          builtBy("TestServiceExpose"),
	"controlPlane.expose.extraSANs":                            builtBy("TestControlPlaneFromConfig"),
	"sync.toHost.pods.enabled":                                 builtBy("TestSyncerWorkloads"),
	"sync.toHost.services.enabled":                             builtBy("TestSyncerWorkloads"),
	"sync.toHost.endpoints.enabled":                            builtBy("TestSyncerWorkloads"),
	"sync.toHost.configMaps.enabled":                           builtBy("TestSyncerWorkloads"),
	"sync.toHost.configMaps.all":                               builtBy("TestChart"),
	"sync.toHost.secrets.enabled":                              builtBy("TestSyncerWorkloads"),
	"sync.toHost.secrets.all":                                  builtBy("TestChart"),
	"sync.toHost.persistentVolumeClaims.enabled":               builtBy("TestSyncerWorkloads"),
	"sync.toHost.ingresses.enabled":                            builtBy("TestSyncerWorkloads"),
	"sync.toHost.serviceAccounts.enabled":                      refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sync.ToHost.ServiceAccounts.Enabled = ptr(true) }),
	"sync.toHost.networkPolicies.enabled":                      builtBy("TestNetworkPolicy", "TestTenantWorkloads"),
	"sync.toHost.priorityClasses.enabled":                      refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sync.ToHost.PriorityClasses.Enabled = ptr(true) }),
	"sync.toHost.resourceClaims.enabled":                       refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sync.ToHost.ResourceClaims.Enabled = ptr(true) }),
	"sync.toHost.workloads.enabled":                            refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sync.ToHost.Workloads.Enabled = ptr(true) }),
	"sync.fromHost.nodes.mode":                                 builtBy("TestPseudoNodes"),
	"sync.fromHost.nodes.selector":                             builtBy("TestPlacementPolicy"),
	"sync.fromHost.storageClasses.enabled":                     builtBy("TestHostClasses"),
	"sync.fromHost.storageClasses.selector":                    builtBy("TestHostClasses"),
	"sync.fromHost.ingressClasses.enabled":                     builtBy("TestHostClasses"),
	"sync.fromHost.ingressClasses.selector":                    builtBy("TestHostClasses"),
	"sync.fromHost.runtimeClasses.enabled":                     builtBy("TestHostClasses"),
	"sync.fromHost.runtimeClasses.selector":                    builtBy("TestHostClasses"),
	"sync.fromHost.priorityClasses.enabled":                    builtBy("TestHostClasses"),
	"sync.fromHost.priorityClasses.selector":                   builtBy("TestHostClasses"),
	"sync.fromHost.csiDrivers.enabled":                         builtBy("TestHostClasses"),
	"sync.fromHost.csiDrivers.selector":                        builtBy("TestHostClasses"),
	"sync.fromHost.deviceClasses.enabled":                      builtBy("TestHostClasses"),
	"sync.fromHost.deviceClasses.selector":                     builtBy("TestHostClasses"),
	"sync.fromHost.events.enabled":                             builtBy("TestSyncerWorkloads"),
	"isolation.mode":                                           refusedWhen(func(vc *VirtualCluster) { vc.Spec.Isolation.Mode = IsolationAuto }),
	"isolation.nodeSelector":                                   builtBy("TestPodSpecFields", "TestSyncerIsolationBetweenClusters"),
	"isolation.tolerations":                                    builtBy("TestPodSpecFields", "TestSyncerIsolationBetweenClusters"),
	"isolation.allowedTolerations":                             builtBy("TestCheckPlacement", "TestPlacementPolicy"),
	"isolation.podSecurityStandard":                            builtBy("TestPodSecurityLabels", "TestPodSecurityPolicy"),
	"isolation.allowedEndpointCIDRs":                           builtBy("TestSyncerWorkloads", "TestEndpointSliceConfinement"),
	"isolation.allowedServiceTypes":                            builtBy("TestServicePolicy"),
	"isolation.resourceQuota":                                  builtBy("TestGuardrails"),
	"isolation.limitRange.default":                             builtBy("TestGuardrails"),
	"isolation.limitRange.defaultRequest":                      builtBy("TestGuardrails"),
	"isolation.limitRange.max":                                 builtBy("TestGuardrails"),
	"isolation.limitRange.min":                                 builtBy("TestGuardrails"),
	"isolation.networkPolicy.enabled":                          builtBy("TestGuardrails"),
	"isolation.networkPolicy.egress.blockedCIDRs":              builtBy("TestEgressRules", "TestTenantWorkloads"),
	"isolation.networkPolicy.egress.allowedCIDRs":              builtBy("TestEgressRules"),
	"isolation.networkPolicy.egress.allowedNamespaces":         builtBy("TestEgressRules", "TestTenantWorkloads"),
	"isolation.gpu.maxGPUs":                                    builtBy("TestGuardrails"),
	"isolation.gpu.allowedGPUTypes":                            refusedWhen(func(vc *VirtualCluster) { vc.Spec.Isolation.GPU.AllowedGPUTypes = []string{"NVIDIA-H100-80GB-HBM3"} }),
	"isolation.gpu.resourceName":                               builtBy("TestGuardrails"),
	"isolation.gpu.productLabel":                               refusedWhen(func(vc *VirtualCluster) { vc.Spec.Isolation.GPU.ProductLabel = "example.com/gpu-product" }),
	"sleep.afterInactivity":                                    refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sleep.AfterInactivity = &metav1.Duration{Duration: time.Hour} }),
	"sleep.wakeOnRequest":                                      refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sleep.WakeOnRequest = ptr(false) }),
	"sleep.schedule.sleepAt":                                   refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sleep.Schedule = &SleepSchedule{SleepAt: "0 20 * * *"} }),
	"sleep.schedule.wakeAt":                                    refusedWhen(func(vc *VirtualCluster) { vc.Spec.Sleep.Schedule = &SleepSchedule{WakeAt: "0 7 * * *"} }),
	"sleep.schedule.timeZone": refusedWhen(func(vc *VirtualCluster) {
		vc.Spec.Sleep.Schedule = &SleepSchedule{WakeAt: "0 7 * * *", TimeZone: "Europe/Berlin"}
	}),
	"exportKubeConfig.enabled":    builtBy("TestLifecycle", "TestKubeConfigSecret"),
	"exportKubeConfig.secretName": builtBy("TestLifecycle", "TestKubeConfigSecret"),
	"exportKubeConfig.server":     builtBy("TestKubeConfigSecret"),
	"exportKubeConfig.context":    builtBy("TestLifecycle", "TestKubeConfigSecret"),
}

// TestEveryFieldBuiltOrRefused walks VirtualClusterSpec by reflection and
// fails for a field that has neither a test that shows it working nor a
// refusal by validation, so that the config never accepts a setting that
// does nothing.
func TestEveryFieldBuiltOrRefused(t *testing.T) {
	t.Parallel()
	paths := leafPaths(reflect.TypeFor[VirtualClusterSpec](), "")
	for _, p := range paths {
		if _, ok := specTruth[p]; !ok {
			t.Errorf("spec.%s has no entry in specTruth: name the tests that show it working, or refuse it in validateUnsupported", p)
		}
	}
	for p := range specTruth {
		if !slices.Contains(paths, p) {
			t.Errorf("specTruth names spec.%s, which VirtualClusterSpec does not have", p)
		}
	}

	tests := testFunctions(t)
	for _, p := range paths {
		truth, ok := specTruth[p]
		if !ok {
			continue
		}
		if truth.refuse == nil {
			for _, name := range truth.built {
				if !tests[name] {
					t.Errorf("spec.%s: built by %s, but no such test exists in the module", p, name)
				}
			}
			continue
		}
		vc := &VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}
		truth.refuse(vc)
		Default(vc)
		errs := Validate(vc)
		found := false
		for _, e := range errs {
			if strings.Contains(e.Error(), NotSupportedYet) && strings.HasPrefix(strings.TrimPrefix(e.Field, "spec."), parentOf(p)) {
				found = true
			}
		}
		if !found {
			t.Errorf("spec.%s: the refusing value was not refused as %q; errors: %v", p, NotSupportedYet, errs)
		}
	}
}

// parentOf returns the path of the struct that holds p's value, which is
// where a refusal may be reported (sleep.schedule for sleep.schedule.wakeAt).
func parentOf(p string) string {
	if i := strings.LastIndex(p, "."); i > 0 {
		return p[:i]
	}
	return p
}

// leafPaths returns the JSON paths of every field under t, descending into
// the structs of this package and stopping at other types (Kubernetes types,
// maps, slices, scalars).
func leafPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == reflect.TypeFor[VirtualCluster]().PkgPath() {
			out = append(out, leafPaths(ft, path)...)
			continue
		}
		out = append(out, path)
	}
	return out
}

// testFunctions returns the names of the Test functions of every _test.go file
// of the module, read from the source.
func testFunctions(t *testing.T) map[string]bool {
	t.Helper()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from the package directory: %v", err)
	}
	re := regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)
	names := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestServedKubernetesVersion keeps ServedKubernetesVersion equal to the
// Kubernetes version that go.mod embeds.
func TestServedKubernetesVersion(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("../../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod requires no k8s.io/kubernetes")
	}
	if got := string(m[1]); got != ServedKubernetesVersion {
		t.Errorf("go.mod embeds k8s.io/kubernetes %s, ServedKubernetesVersion is %s", got, ServedKubernetesVersion)
	}
}

// TestUnsupportedMessages pins the message of each refusal: it is what a
// platform engineer reads.
func TestUnsupportedMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  func(*VirtualCluster)
		want []string
	}{
		{"defaults are all supported", func(*VirtualCluster) {}, nil},
		{"version of another release", func(vc *VirtualCluster) { vc.Spec.ControlPlane.Version = "1.36" },
			[]string{`spec.controlPlane.version: Invalid value: "1.36": not supported yet: this kubicle release serves Kubernetes v1.37.2 only; leave version empty or name that version`}},
		{"version of another patch", func(vc *VirtualCluster) { vc.Spec.ControlPlane.Version = "v1.37.1" },
			[]string{`spec.controlPlane.version: Invalid value: "v1.37.1": not supported yet: this kubicle release serves Kubernetes v1.37.2 only; leave version empty or name that version`}},
		{"version served, minor only", func(vc *VirtualCluster) { vc.Spec.ControlPlane.Version = "v1.37" }, nil},
		{"version served, patch without v", func(vc *VirtualCluster) { vc.Spec.ControlPlane.Version = "1.37.2" }, nil},
		{"replicas on a shared store", func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Replicas = ptr[int32](3)
			vc.Spec.ControlPlane.BackingStore = BackingStore{Type: BackingStoreExternalEtcd, ExternalEtcd: &ExternalEtcd{Endpoints: []string{"http://etcd:2379"}}}
		}, nil},
		{"etcd TLS secret", func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore = BackingStore{Type: BackingStoreExternalEtcd, ExternalEtcd: &ExternalEtcd{
				Endpoints: []string{"https://etcd:2379"}, TLSSecretRef: &SecretReference{Name: "etcd-tls"}}}
		}, nil},
		{"expose NodePort", func(vc *VirtualCluster) { vc.Spec.ControlPlane.Expose.Type = ExposeNodePort },
			[]string{`spec.controlPlane.expose.type: Invalid value: "NodePort": not supported yet: the exported kubeconfig and "kubicle connect" do not use a node port or load balancer address; use "ClusterIP" or "PortForward"`}},
		{"toHost kinds", func(vc *VirtualCluster) {
			to := &vc.Spec.Sync.ToHost
			to.ServiceAccounts.Enabled, to.ResourceClaims.Enabled, to.Workloads.Enabled = ptr(true), ptr(true), ptr(true)
		}, []string{
			`spec.sync.toHost.serviceAccounts.enabled: Invalid value: true: not supported yet: ServiceAccounts are not copied to the host`,
			`spec.sync.toHost.resourceClaims.enabled: Invalid value: true: not supported yet: ResourceClaims are not created on the host`,
			`spec.sync.toHost.workloads.enabled: Invalid value: true: not supported yet: Workload and PodGroup objects are not copied to the host`,
		}},
		{"priority classes both ways: the conflict, and one message per field", func(vc *VirtualCluster) {
			vc.Spec.Sync.ToHost.PriorityClasses.Enabled = ptr(true)
			vc.Spec.Sync.FromHost.PriorityClasses.Enabled = ptr(true)
		}, []string{
			`spec.sync.fromHost.priorityClasses.enabled: Invalid value: true: must be false while spec.sync.toHost.priorityClasses.enabled is true: a class would be synced both ways`,
			`spec.sync.toHost.priorityClasses.enabled: Invalid value: true: not supported yet: the tenant's PriorityClasses are not copied to the host`,
		}},
		{"pseudo nodes and a node selector are built", func(vc *VirtualCluster) {
			vc.Spec.Sync.FromHost.Nodes = NodeSync{Mode: NodeSyncPseudo, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "a"}}}
		}, nil},
		{"host classes are built", func(vc *VirtualCluster) {
			vc.Spec.Sync.FromHost.RuntimeClasses.Enabled = ptr(true)
			vc.Spec.Sync.FromHost.PriorityClasses = HostClassSync{Enabled: ptr(true), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"offered": "true"}}}
		}, nil},
		{"a class selector while disabled", func(vc *VirtualCluster) {
			vc.Spec.Sync.FromHost.StorageClasses.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"offered": "true"}}
		}, []string{`spec.sync.fromHost.storageClasses.selector: Forbidden: only used while enabled is true`}},
		{"private nodes", func(vc *VirtualCluster) {
			vc.Spec.Isolation.Mode = IsolationPrivate
			vc.Spec.Sync.ToHost.Pods.Enabled = ptr(false)
		}, []string{`spec.isolation.mode: Invalid value: "private": not supported yet: no node can join a virtual cluster; use "shared" or "dedicated"`}},
		{"auto nodes", func(vc *VirtualCluster) { vc.Spec.Isolation.Mode = IsolationAuto },
			[]string{`spec.isolation.mode: Invalid value: "auto": not supported yet: nodes are not provisioned for a virtual cluster; use "shared" or "dedicated"`}},
		{"dedicated pool is built", func(vc *VirtualCluster) {
			vc.Spec.Isolation.Mode = IsolationDedicated
			vc.Spec.Isolation.NodeSelector = map[string]string{"pool": "h100"}
		}, nil},
		{"GPU types and product label", func(vc *VirtualCluster) {
			vc.Spec.Isolation.GPU.AllowedGPUTypes = []string{"A100", "H100"}
			vc.Spec.Isolation.GPU.ProductLabel = "example.com/product"
		}, []string{
			`spec.isolation.gpu.allowedGPUTypes: Invalid value: "A100,H100": not supported yet: GPU pods are not confined to GPU products; a dedicated pool's nodeSelector can name the product label`,
			`spec.isolation.gpu.productLabel: Invalid value: "example.com/product": not supported yet: only allowedGPUTypes would read it`,
		}},
		{"sleep", func(vc *VirtualCluster) {
			vc.Spec.Sleep = Sleep{AfterInactivity: &metav1.Duration{Duration: 2 * time.Hour}, WakeOnRequest: ptr(false),
				Schedule: &SleepSchedule{SleepAt: "0 20 * * *"}}
		}, []string{
			`spec.sleep.afterInactivity: Invalid value: "2h0m0s": not supported yet: virtual clusters do not sleep`,
			`spec.sleep.schedule: Invalid value: "": not supported yet: virtual clusters do not sleep`,
			`spec.sleep.wakeOnRequest: Invalid value: false: not supported yet: virtual clusters do not sleep`,
		}},
		{"wakeOnRequest true changes nothing", func(vc *VirtualCluster) { vc.Spec.Sleep.WakeOnRequest = ptr(true) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vc := &VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}
			tt.set(vc)
			Default(vc)
			var got []string
			for _, e := range Validate(vc) {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}
