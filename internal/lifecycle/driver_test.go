package lifecycle

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func virtualCluster(driver v1alpha1.ControlPlaneDriver) *v1alpha1.VirtualCluster {
	vc := &v1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	vc.Spec.ControlPlane.Driver = driver
	v1alpha1.Default(vc)
	return vc
}

func TestDriverFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		driver v1alpha1.ControlPlaneDriver
		want   driver
	}{
		{v1alpha1.DriverProcess, &processDriver{}},
		{v1alpha1.DriverPod, &podDriver{}},
	}
	for _, tt := range tests {
		t.Run(string(tt.driver), func(t *testing.T) {
			t.Parallel()
			vc := virtualCluster(tt.driver)
			d := driverFor(driverEnv{}, vc)
			if reflect.TypeOf(d) != reflect.TypeOf(tt.want) {
				t.Fatalf("driverFor(%q) = %T, want %T", tt.driver, d, tt.want)
			}
			if d.name() != tt.driver {
				t.Errorf("driverFor(%q).name() = %q", tt.driver, d.name())
			}
		})
	}
}

// Every driver that runningDriver may find is the one driverFor selects by
// its name, so that RunningDriver and spec.controlPlane.driver agree.
func TestDriversMatchDriverFor(t *testing.T) {
	t.Parallel()
	r := deploy.Ref{Name: "a", Namespace: "vc-a"}
	seen := map[v1alpha1.ControlPlaneDriver]bool{}
	for _, d := range drivers(driverEnv{}, r) {
		if seen[d.name()] {
			t.Errorf("driver %q listed twice", d.name())
		}
		seen[d.name()] = true
		if got := driverFor(driverEnv{}, virtualCluster(d.name())); reflect.TypeOf(got) != reflect.TypeOf(d) {
			t.Errorf("drivers lists %T as %q, but driverFor selects %T", d, d.name(), got)
		}
	}
	for _, want := range []v1alpha1.ControlPlaneDriver{v1alpha1.DriverProcess, v1alpha1.DriverPod} {
		if !seen[want] {
			t.Errorf("drivers lacks driver %q", want)
		}
	}
}

// A process-driven control plane is found, located and connected to
// through its local state alone: no request goes to the host (the Host here
// has no clients).
func TestProcessDriverLocalState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vc := virtualCluster(v1alpha1.DriverProcess)
	r := deploy.RefOf(vc)
	paths := PathsFor(t.TempDir(), "host", r.Namespace, r.Name)
	env := driverEnv{h: &Host{}, p: newProgress(nil), paths: paths}

	d := driverFor(env, vc)
	if ok, err := d.found(ctx); ok || err != nil {
		t.Errorf("found without local state = %v, %v", ok, err)
	}
	if got := d.localKubeconfig(); got != "" {
		t.Errorf("localKubeconfig without local state = %q", got)
	}
	if err := d.adopt(nil); err != nil {
		t.Errorf("adopt(nil) without local state: %v", err)
	}

	if err := os.MkdirAll(paths.Data(), 0o700); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.found(ctx); !ok || err != nil {
		t.Errorf("found with local state = %v, %v", ok, err)
	}
	if got := d.localKubeconfig(); got != paths.AdminKubeconfig() {
		t.Errorf("localKubeconfig = %q, want %q", got, paths.AdminKubeconfig())
	}
	if err := d.adopt(nil); err == nil || !strings.Contains(err.Error(), "local state for it exists in "+paths.Dir()) {
		t.Errorf("adopt(nil) over local state: %v", err)
	}
	if got, want := d.location(), LocationAnnotations(paths); !reflect.DeepEqual(got, want) {
		t.Errorf("location = %v, want %v", got, want)
	}

	// Found by its local state first: the pod driver, which would ask the
	// host, is not consulted.
	got, err := runningDriver(ctx, env, r)
	if err != nil || got == nil || got.name() != v1alpha1.DriverProcess {
		t.Fatalf("runningDriver = %v, %v; want the process driver", got, err)
	}
}

func TestPodDriverHoldsNothingLocally(t *testing.T) {
	t.Parallel()
	d := driverFor(driverEnv{h: &Host{}, p: newProgress(nil)}, virtualCluster(v1alpha1.DriverPod))
	if loc := d.location(); loc != nil {
		t.Errorf("location = %v, want nil: the host's objects say where it runs", loc)
	}
	if got := d.localKubeconfig(); got != "" {
		t.Errorf("localKubeconfig = %q, want none", got)
	}
	if err := d.adopt(nil); err != nil {
		t.Errorf("adopt(nil): %v", err)
	}
	if started, err := d.start(context.Background()); started || err != nil {
		t.Errorf("start = %v, %v: applying the StatefulSet starts it", started, err)
	}
	if d.defaultReason() != "" {
		t.Errorf("defaultReason = %q, want none", d.defaultReason())
	}
}
