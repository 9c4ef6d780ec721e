package v1alpha1

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func ptr[T any](v T) *T { return &v }

// newVC returns a VirtualCluster named demo, changed by the given functions.
func newVC(changes ...func(*VirtualCluster)) *VirtualCluster {
	vc := &VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}
	for _, c := range changes {
		c(vc)
	}
	return vc
}

// pointer returns the value at a JSON pointer (RFC 6901) into v's JSON form,
// as compact JSON, or "<absent>".
func pointer(t *testing.T, v any, ptr string) string {
	t.Helper()
	var cur any
	if err := json.Unmarshal([]byte(mustJSON(t, v)), &cur); err != nil {
		t.Fatal(err)
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		obj, ok := cur.(map[string]any)
		if !ok {
			return "<absent>"
		}
		if cur, ok = obj[tok]; !ok {
			return "<absent>"
		}
	}
	return mustJSON(t, cur)
}

// TestDefaultGolden pins every default of a config that sets only a name.
func TestDefaultGolden(t *testing.T) {
	t.Parallel()
	vc := newVC()
	Default(vc)
	got, err := yaml.Marshal(vc)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "default-minimal.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("defaults of a minimal config differ from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   *VirtualCluster
		// want maps JSON pointers to the compact JSON expected there.
		want map[string]string
	}{{
		name: "minimal",
		in:   newVC(),
		want: map[string]string{
			"/metadata/namespace":                          `"vc-demo"`,
			"/spec/controlPlane/driver":                    `"pod"`,
			"/spec/controlPlane/replicas":                  `1`,
			"/spec/controlPlane/backingStore/type":         `"sqlite"`,
			"/spec/controlPlane/backingStore/persistence":  `{"enabled":true,"size":"5Gi"}`,
			"/spec/controlPlane/scheduler/enabled":         `false`,
			"/spec/controlPlane/expose/type":               `"ClusterIP"`,
			"/spec/controlPlane/resources":                 `{"limits":{"memory":"2Gi"},"requests":{"cpu":"200m","memory":"512Mi"}}`,
			"/spec/controlPlane/version":                   `<absent>`,
			"/spec/controlPlane/image":                     `<absent>`,
			"/spec/sync/toHost/pods/enabled":               `true`,
			"/spec/sync/toHost/secrets":                    `{"all":false,"enabled":true}`,
			"/spec/sync/toHost/ingresses/enabled":          `false`,
			"/spec/sync/toHost/priorityClasses/enabled":    `false`,
			"/spec/sync/fromHost/nodes":                    `{"mode":"real"}`,
			"/spec/sync/fromHost/ingressClasses/enabled":   `false`,
			"/spec/sync/fromHost/priorityClasses/enabled":  `false`,
			"/spec/sync/fromHost/csiDrivers/enabled":       `false`,
			"/spec/isolation/mode":                         `"shared"`,
			"/spec/isolation/podSecurityStandard":          `"baseline"`,
			"/spec/isolation/networkPolicy/enabled":        `true`,
			"/spec/isolation/resourceQuota":                `<absent>`,
			"/spec/isolation/limitRange":                   `<absent>`,
			"/spec/isolation/gpu":                          `{"productLabel":"nvidia.com/gpu.product","resourceName":"nvidia.com/gpu"}`,
			"/spec/sleep":                                  `{"wakeOnRequest":true}`,
			"/spec/exportKubeConfig":                       `{"context":"kubicle-demo","enabled":true,"secretName":"demo-kubeconfig"}`,
			"/spec/controlPlane/backingStore/externalEtcd": `<absent>`,
			"/spec/controlPlane/backingStore/database":     `<absent>`,
			"/spec/controlPlane/expose/extraSANs":          `<absent>`,
		},
	}, {
		name: "namespace of its own gives a context that names it",
		in:   newVC(func(vc *VirtualCluster) { vc.Namespace = "team-a" }),
		want: map[string]string{
			"/metadata/namespace":               `"team-a"`,
			"/spec/exportKubeConfig/context":    `"kubicle-demo.team-a"`,
			"/spec/exportKubeConfig/secretName": `"demo-kubeconfig"`,
		},
	}, {
		name: "no name leaves name-derived fields empty",
		in:   &VirtualCluster{},
		want: map[string]string{
			"/metadata/namespace":               `<absent>`,
			"/spec/exportKubeConfig/secretName": `<absent>`,
			"/spec/exportKubeConfig/context":    `<absent>`,
			"/spec/controlPlane/driver":         `"pod"`,
		},
	}, {
		name: "process driver listens locally and has no pod resources or volume",
		in:   newVC(func(vc *VirtualCluster) { vc.Spec.ControlPlane.Driver = DriverProcess }),
		want: map[string]string{
			"/spec/controlPlane/expose/type":              `"PortForward"`,
			"/spec/controlPlane/resources":                `<absent>`,
			"/spec/controlPlane/backingStore/persistence": `<absent>`,
		},
	}, {
		name: "private nodes need the virtual scheduler and keep pods off the host",
		in:   newVC(func(vc *VirtualCluster) { vc.Spec.Isolation.Mode = IsolationPrivate }),
		want: map[string]string{
			"/spec/controlPlane/scheduler/enabled":   `true`,
			"/spec/sync/toHost/pods/enabled":         `false`,
			"/spec/sync/fromHost/csiDrivers/enabled": `false`,
		},
	}, {
		name: "embedded etcd is persisted",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreEmbeddedEtcd
			vc.Spec.ControlPlane.Replicas = ptr[int32](3)
		}),
		want: map[string]string{
			"/spec/controlPlane/replicas":                 `3`,
			"/spec/controlPlane/backingStore/persistence": `{"enabled":true,"size":"5Gi"}`,
		},
	}, {
		name: "external etcd gets a prefix of its own and no volume",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreExternalEtcd
			vc.Spec.ControlPlane.BackingStore.ExternalEtcd = &ExternalEtcd{Endpoints: []string{"https://etcd:2379"}}
		}),
		want: map[string]string{
			"/spec/controlPlane/backingStore/externalEtcd/prefix": `"/kubicle/vc-demo/demo"`,
			"/spec/controlPlane/backingStore/persistence":         `<absent>`,
		},
	}, {
		name: "database secret key defaults to dsn",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreDatabase
			vc.Spec.ControlPlane.BackingStore.Database = &Database{Driver: DatabasePostgres,
				DSNSecretRef: &SecretKeyReference{Name: "db"}}
		}),
		want: map[string]string{
			"/spec/controlPlane/backingStore/database": `{"driver":"postgres","dsnSecretRef":{"key":"dsn","name":"db"}}`,
		},
	}, {
		name: "database without a secret ref stays without one",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.BackingStore.Type = BackingStoreDatabase
			vc.Spec.ControlPlane.BackingStore.Database = &Database{Driver: DatabaseMySQL}
		}),
		want: map[string]string{
			"/spec/controlPlane/backingStore/database": `{"driver":"mysql"}`,
		},
	}, {
		name: "persistence turned off gets no size",
		in:   newVC(func(vc *VirtualCluster) { vc.Spec.ControlPlane.BackingStore.Persistence.Enabled = ptr(false) }),
		want: map[string]string{
			"/spec/controlPlane/backingStore/persistence": `{"enabled":false}`,
		},
	}, {
		name: "partial resources are left alone",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.ControlPlane.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}),
		want: map[string]string{
			"/spec/controlPlane/resources": `{"requests":{"cpu":"1"}}`,
		},
	}, {
		name: "maxGPUs becomes the GPU quota entry",
		in:   newVC(func(vc *VirtualCluster) { vc.Spec.Isolation.GPU.MaxGPUs = ptr[int32](4) }),
		want: map[string]string{
			"/spec/isolation/resourceQuota": `{"requests.nvidia.com/gpu":"4"}`,
			"/spec/isolation/limitRange":    `<absent>`,
		},
	}, {
		name: "maxGPUs uses the configured GPU resource name",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.Isolation.GPU.MaxGPUs = ptr[int32](2)
			vc.Spec.Isolation.GPU.ResourceName = "amd.com/gpu"
		}),
		want: map[string]string{
			"/spec/isolation/resourceQuota": `{"requests.amd.com/gpu":"2"}`,
		},
	}, {
		name: "maxGPUs keeps a quota entry that is set",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.Isolation.GPU.MaxGPUs = ptr[int32](4)
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("8")}
		}),
		want: map[string]string{
			"/spec/isolation/resourceQuota/requests.nvidia.com~1gpu": `"8"`,
		},
	}, {
		name: "a compute quota gets default requests and limits",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{
				"requests.cpu": resource.MustParse("8"), "requests.memory": resource.MustParse("32Gi"),
				"limits.cpu": resource.MustParse("16"), "limits.memory": resource.MustParse("64Gi"),
			}
		}),
		want: map[string]string{
			"/spec/isolation/limitRange": `{"default":{"cpu":"1","memory":"512Mi"},"defaultRequest":{"cpu":"100m","memory":"128Mi"}}`,
		},
	}, {
		name: "a quota on requests only gets default requests only",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{"cpu": resource.MustParse("8")}
		}),
		want: map[string]string{
			"/spec/isolation/limitRange": `{"defaultRequest":{"cpu":"100m"}}`,
		},
	}, {
		name: "a limit range that is set is left alone",
		in: newVC(func(vc *VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{"requests.cpu": resource.MustParse("8")}
			vc.Spec.Isolation.LimitRange.Max = corev1.ResourceList{"cpu": resource.MustParse("4")}
		}),
		want: map[string]string{
			"/spec/isolation/limitRange": `{"max":{"cpu":"4"}}`,
		},
	}, {
		name: "ingresses to the host do not bring their classes, which are not shown yet",
		in:   newVC(func(vc *VirtualCluster) { vc.Spec.Sync.ToHost.Ingresses.Enabled = ptr(true) }),
		want: map[string]string{
			"/spec/sync/fromHost/ingressClasses/enabled": `false`,
		},
	}, {
		name: "tenant priority classes turn off host ones",
		in:   newVC(func(vc *VirtualCluster) { vc.Spec.Sync.ToHost.PriorityClasses.Enabled = ptr(true) }),
		want: map[string]string{
			"/spec/sync/fromHost/priorityClasses/enabled": `false`,
		},
	}, {
		name: "a schedule runs in UTC",
		in:   newVC(func(vc *VirtualCluster) { vc.Spec.Sleep.Schedule = &SleepSchedule{SleepAt: "@daily"} }),
		want: map[string]string{
			"/spec/sleep/schedule": `{"sleepAt":"@daily","timeZone":"UTC"}`,
		},
	}, {
		name: "values that are set are kept",
		in: newVC(func(vc *VirtualCluster) {
			vc.Namespace = "ns"
			vc.Spec.ControlPlane.Expose.Type = ExposeLoadBalancer
			vc.Spec.ControlPlane.Scheduler.Enabled = ptr(true)
			vc.Spec.Sync.ToHost.Pods.Enabled = ptr(false)
			vc.Spec.Sync.ToHost.Secrets.All = ptr(true)
			vc.Spec.Sync.FromHost.Nodes.Mode = NodeSyncReal
			vc.Spec.Isolation.PodSecurityStandard = PodSecurityRestricted
			vc.Spec.Isolation.NetworkPolicy.Enabled = ptr(false)
			vc.Spec.Sleep.WakeOnRequest = ptr(false)
			vc.Spec.ExportKubeConfig = ExportKubeConfig{Enabled: ptr(false), SecretName: "s", Context: "c"}
		}),
		want: map[string]string{
			"/metadata/namespace":                    `"ns"`,
			"/spec/controlPlane/expose/type":         `"LoadBalancer"`,
			"/spec/controlPlane/scheduler/enabled":   `true`,
			"/spec/sync/fromHost/csiDrivers/enabled": `false`,
			"/spec/sync/toHost/pods/enabled":         `false`,
			"/spec/sync/toHost/secrets":              `{"all":true,"enabled":true}`,
			"/spec/sync/fromHost/nodes/mode":         `"real"`,
			"/spec/isolation/podSecurityStandard":    `"restricted"`,
			"/spec/isolation/networkPolicy/enabled":  `false`,
			"/spec/sleep/wakeOnRequest":              `false`,
			"/spec/exportKubeConfig":                 `{"context":"c","enabled":false,"secretName":"s"}`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vc := tt.in.DeepCopy()
			Default(vc)
			for ptr, want := range tt.want {
				if got := pointer(t, vc, ptr); got != want {
					t.Errorf("%s = %s, want %s", ptr, got, want)
				}
			}
			again := vc.DeepCopy()
			Default(again)
			if !equality.Semantic.DeepEqual(vc, again) {
				t.Errorf("Default is not idempotent:\nonce:  %s\ntwice: %s", mustJSON(t, vc), mustJSON(t, again))
			}
		})
	}
}

// TestDefaultsValidate checks that defaulting any config in this file's
// tables that needs nothing else gives a valid VirtualCluster.
func TestDefaultsValidate(t *testing.T) {
	t.Parallel()
	for i, vc := range []*VirtualCluster{
		newVC(),
		newVC(func(vc *VirtualCluster) { vc.Spec.ControlPlane.Driver = DriverProcess }),
		newVC(func(vc *VirtualCluster) {
			vc.Spec.Isolation.Mode = IsolationDedicated
			vc.Spec.Isolation.NodeSelector = map[string]string{"pool": "gpu"}
		}),
		newVC(func(vc *VirtualCluster) { vc.Spec.Isolation.GPU.MaxGPUs = ptr[int32](4) }),
		newVC(func(vc *VirtualCluster) {
			vc.Spec.Isolation.ResourceQuota = corev1.ResourceList{"requests.cpu": resource.MustParse("8"), "limits.memory": resource.MustParse("8Gi")}
		}),
	} {
		Default(vc)
		if errs := Validate(vc); len(errs) > 0 {
			t.Errorf("config %s: defaults do not validate: %v", strconv.Itoa(i), errs.ToAggregate())
		}
	}
}
