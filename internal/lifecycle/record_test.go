package lifecycle

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func TestObjectRecord(t *testing.T) {
	t.Parallel()
	created := metav1.Now().Rfc3339Copy()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubicle.dev/v1alpha1",
		"kind":       "VirtualCluster",
		"metadata": map[string]any{
			"name": "ops", "namespace": "team-ops", "generation": int64(3),
			"creationTimestamp": created.Format("2006-01-02T15:04:05Z"),
			"annotations":       map[string]any{AnnotationMachine: "m1", AnnotationStateDir: "/state/ops"},
		},
		"spec":   map[string]any{"controlPlane": map[string]any{"driver": "process"}},
		"status": map[string]any{"phase": "Running", "endpoint": "https://127.0.0.1:1"},
	}}
	rec, err := objectRecord(u)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Operator || rec.managedBy() != ManagedByOperator || rec.Machine != "m1" || rec.StateDir != "/state/ops" || !rec.Created.Equal(&created) {
		t.Errorf("record: %+v", rec)
	}
	// Defaulted as the operator defaults it: list and describe show the
	// same backing store the operator runs.
	if rec.VC.Spec.ControlPlane.BackingStore.Type != v1alpha1.BackingStoreSQLite || rec.VC.Status.Endpoint != "https://127.0.0.1:1" {
		t.Errorf("spec %+v status %+v", rec.VC.Spec.ControlPlane, rec.VC.Status)
	}
	cli := &record{VC: rec.VC}
	if cli.managedBy() != ManagedByCLI {
		t.Errorf("a ConfigMap record is managed by %q", cli.managedBy())
	}
}

func TestOperatorStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    v1alpha1.VirtualClusterStatus
		want, why string
	}{
		{name: "not seen yet", want: "Pending", why: "has not reconciled it yet"},
		{name: "running", status: v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseRunning}, want: StatusRunning},
		{name: "invalid", status: v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseFailed, Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: "InvalidConfig", Message: "spec.x: Required value"},
		}}, want: StatusFailed, why: "InvalidConfig: spec.x: Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, why := operatorStatus(&v1alpha1.VirtualCluster{Status: tt.status})
			if got != tt.want || !strings.Contains(why, tt.why) || (tt.why == "" && why != "") {
				t.Errorf("operatorStatus = %q, %q; want %q, %q", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestLocationAnnotations(t *testing.T) {
	t.Parallel()
	p := PathsFor("/state", "ctx", "ns", "a")
	a := LocationAnnotations(p)
	if a[AnnotationMachine] != MachineName() || a[AnnotationStateDir] != p.Dir() {
		t.Errorf("annotations %v", a)
	}
	if got := LocalStateDir(a); got != p.Dir() {
		t.Errorf("LocalStateDir of this machine's annotations = %q", got)
	}
	for _, other := range []map[string]string{
		{AnnotationMachine: MachineName() + "-elsewhere", AnnotationStateDir: p.Dir()},
		{AnnotationMachine: MachineName(), AnnotationStateDir: "relative/dir"},
		nil,
	} {
		if got := LocalStateDir(other); got != "" {
			t.Errorf("LocalStateDir(%v) = %q, want none", other, got)
		}
	}
}

func TestManagedByOperatorError(t *testing.T) {
	t.Parallel()
	r := deploy.Ref{Name: "ops", Namespace: "team"}
	if err := managedByOperatorError(r, "delete"); !strings.Contains(err.Error(), "kubectl -n team delete virtualcluster ops") {
		t.Errorf("delete: %v", err)
	}
	if err := managedByOperatorError(r, "change"); !strings.Contains(err.Error(), "kubectl -n team apply -f FILE") {
		t.Errorf("change: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	vc := defaulted(&v1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec: v1alpha1.VirtualClusterSpec{ControlPlane: v1alpha1.ControlPlane{BackingStore: v1alpha1.BackingStore{Type: v1alpha1.BackingStoreDatabase}}}})
	if err := validate(vc); err == nil || !strings.Contains(err.Error(), "spec.controlPlane.backingStore.database: Required value") {
		t.Errorf("validate: %v", err)
	}
	if err := validate(defaulted(&v1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "x"}})); err != nil {
		t.Errorf("a minimal VirtualCluster: %v", err)
	}
}
