package operator

import (
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func TestNextStatus(t *testing.T) {
	t.Parallel()
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	type cond struct {
		status metav1.ConditionStatus
		reason string
	}
	tests := []struct {
		name      string
		old       v1alpha1.VirtualClusterStatus
		o         outcome
		wantPhase v1alpha1.VirtualClusterPhase
		want      map[string]cond // absent types must be absent
		endpoint  string
	}{
		{
			name:      "invalid spec",
			o:         outcome{phase: v1alpha1.PhaseFailed, reason: ReasonInvalidConfig, message: "spec.x: Required value"},
			wantPhase: v1alpha1.PhaseFailed,
			want: map[string]cond{
				v1alpha1.ConditionReady: {metav1.ConditionFalse, ReasonInvalidConfig},
				v1alpha1.ConditionValid: {metav1.ConditionFalse, ReasonInvalidConfig},
			},
		},
		{
			name:      "starting",
			o:         outcome{phase: v1alpha1.PhaseStarting, reason: ReasonStarting, message: "/readyz: connection refused", endpoint: "https://x"},
			wantPhase: v1alpha1.PhaseStarting,
			want: map[string]cond{
				v1alpha1.ConditionReady:             {metav1.ConditionFalse, ReasonStarting},
				v1alpha1.ConditionValid:             {metav1.ConditionTrue, ReasonValid},
				v1alpha1.ConditionControlPlaneReady: {metav1.ConditionFalse, ReasonStarting},
			},
			endpoint: "https://x",
		},
		{
			name:      "running",
			o:         outcome{phase: v1alpha1.PhaseRunning, reason: ReasonRunning, message: "ready", endpoint: "https://127.0.0.1:1", version: "v1.37.2"},
			wantPhase: v1alpha1.PhaseRunning,
			want: map[string]cond{
				v1alpha1.ConditionReady:             {metav1.ConditionTrue, ReasonRunning},
				v1alpha1.ConditionValid:             {metav1.ConditionTrue, ReasonValid},
				v1alpha1.ConditionControlPlaneReady: {metav1.ConditionTrue, ReasonRunning},
			},
			endpoint: "https://127.0.0.1:1",
		},
		{
			name:      "managed by the CLI",
			o:         outcome{phase: v1alpha1.PhaseFailed, reason: ReasonManagedByCLI, message: "created by kubicle create"},
			wantPhase: v1alpha1.PhaseFailed,
			want: map[string]cond{
				v1alpha1.ConditionReady: {metav1.ConditionFalse, ReasonManagedByCLI},
				v1alpha1.ConditionValid: {metav1.ConditionTrue, ReasonValid},
			},
		},
		{
			name: "deleting keeps the endpoint and validity",
			old: v1alpha1.VirtualClusterStatus{Endpoint: "https://old", Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionValid, Status: metav1.ConditionTrue, Reason: ReasonValid, ObservedGeneration: 7, LastTransitionTime: t0},
			}},
			o:         outcome{phase: v1alpha1.PhaseDeleting, reason: ReasonDeleting, message: "deleting"},
			wantPhase: v1alpha1.PhaseDeleting,
			want: map[string]cond{
				v1alpha1.ConditionReady:             {metav1.ConditionFalse, ReasonDeleting},
				v1alpha1.ConditionValid:             {metav1.ConditionTrue, ReasonValid},
				v1alpha1.ConditionControlPlaneReady: {metav1.ConditionFalse, ReasonDeleting},
			},
			endpoint: "https://old",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := nextStatus(tt.old, 7, tt.o, t1)
			if st.Phase != tt.wantPhase || st.ObservedGeneration != 7 || st.Endpoint != tt.endpoint || st.KubernetesVersion != tt.o.version {
				t.Errorf("status: %+v", st)
			}
			if len(st.Conditions) != len(tt.want) {
				t.Errorf("conditions: %+v, want types %v", st.Conditions, tt.want)
			}
			for typ, w := range tt.want {
				c := meta.FindStatusCondition(st.Conditions, typ)
				if c == nil || c.Status != w.status || c.Reason != w.reason || c.ObservedGeneration != 7 {
					t.Errorf("condition %s: %+v, want %+v", typ, c, w)
				}
			}
			if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil && c.Message != tt.o.message {
				t.Errorf("Ready message %q, want %q", c.Message, tt.o.message)
			}
		})
	}
}

func TestNextStatusTransitionTime(t *testing.T) {
	t.Parallel()
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	running := outcome{phase: v1alpha1.PhaseRunning, reason: ReasonRunning, message: "ready"}
	first := nextStatus(v1alpha1.VirtualClusterStatus{}, 1, running, t0)
	again := nextStatus(first, 1, running, t1)
	if c := meta.FindStatusCondition(again.Conditions, v1alpha1.ConditionReady); !c.LastTransitionTime.Equal(&t0) {
		t.Errorf("an unchanged Ready condition moved its transition time to %v", c.LastTransitionTime)
	}
	stopped := nextStatus(again, 1, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonControlPlaneStopped, message: "exited"}, t1)
	if c := meta.FindStatusCondition(stopped.Conditions, v1alpha1.ConditionReady); !c.LastTransitionTime.Equal(&t1) || c.Status != metav1.ConditionFalse {
		t.Errorf("Ready after the process stopped: %+v", c)
	}
	if first.Conditions[0].LastTransitionTime != t0 || len(first.Conditions) != 3 {
		t.Errorf("first status: %+v", first.Conditions)
	}
}

func TestNextStatusLongMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 3*maxMessage)
	st := nextStatus(v1alpha1.VirtualClusterStatus{}, 1, outcome{phase: v1alpha1.PhaseFailed, reason: ReasonControlPlaneStopped, message: long}, metav1.Now())
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); len(c.Message) > maxMessage+len("…") {
		t.Errorf("message of %d bytes", len(c.Message))
	}
}

func TestLineLogger(t *testing.T) {
	t.Parallel()
	var got []string
	l := funcr.New(func(_, args string) { got = append(got, args) }, funcr.Options{})
	w := logWriter(logr.Logger(l))
	_, _ = w.Write([]byte(" ✓ Applied 7 host objects\n • Started the con"))
	_, _ = w.Write([]byte("trol plane (pid 1)\n\n"))
	if len(got) != 2 || !strings.Contains(got[0], `"msg"="Applied 7 host objects"`) || !strings.Contains(got[1], `"msg"="Started the control plane (pid 1)"`) {
		t.Errorf("logged %q", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := NewOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	o := NewOptions()
	o.Workers, o.CheckInterval, o.ControlPlaneImage = 0, time.Millisecond, "a b"
	err := o.Validate()
	for _, want := range []string{"--workers 0", "--check-interval 1ms", `--control-plane-image "a b"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
}
