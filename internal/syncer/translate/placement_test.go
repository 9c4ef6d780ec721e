package translate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheckPlacement(t *testing.T) {
	t.Parallel()
	gpu := corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	pool := corev1.Toleration{Key: "kubicle.dev/pool", Operator: corev1.TolerationOpEqual, Value: "team-a", Effect: corev1.TaintEffectNoSchedule}
	notReady := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))}
	for _, tc := range []struct {
		name   string
		pod    corev1.PodSpec
		policy PlacementPolicy
		want   []string // error strings, in order
	}{
		{name: "node condition tolerations of every pod", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{notReady,
			{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}}},
		{name: "PreferNoSchedule keeps no pod away", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{
			{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule}}}},
		{name: "a reserved taint by default", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{notReady, gpu}},
			want: []string{`spec.tolerations[1]: Forbidden: toleration of nvidia.com/gpu (any value, effect NoSchedule) is not granted to this virtual cluster: nodes with that taint are reserved by the platform (isolation.allowedTolerations lists the tolerations its pods may carry)`}},
		{name: "tolerate everything", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
			policy: PlacementPolicy{AllowedTolerations: []corev1.Toleration{gpu}},
			want:   []string{`spec.tolerations[0]: Forbidden: toleration of every taint (any value, any effect) is not granted`}},
		{name: "granted", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{gpu}},
			policy: PlacementPolicy{AllowedTolerations: []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}}}},
		{name: "granted one effect, asked all", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}}},
			policy: PlacementPolicy{AllowedTolerations: []corev1.Toleration{gpu}},
			want:   []string{`spec.tolerations[0]: Forbidden: toleration of nvidia.com/gpu (any value, any effect)`}},
		{name: "granted one value, asked any", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "kubicle.dev/pool", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}},
			policy: PlacementPolicy{AllowedTolerations: []corev1.Toleration{pool}},
			want:   []string{`spec.tolerations[0]: Forbidden: toleration of kubicle.dev/pool (any value, effect NoSchedule)`}},
		{name: "another pool's value", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "kubicle.dev/pool", Value: "team-b", Effect: corev1.TaintEffectNoSchedule}}},
			policy: PlacementPolicy{Tolerations: []corev1.Toleration{pool}},
			want:   []string{`spec.tolerations[0]: Forbidden: toleration of kubicle.dev/pool (value "team-b", effect NoSchedule)`}},
		{name: "the pool's own toleration (empty operator means Equal)", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "kubicle.dev/pool", Value: "team-a", Effect: corev1.TaintEffectNoSchedule}}},
			policy: PlacementPolicy{Tolerations: []corev1.Toleration{pool}}},
		{name: "granted everything", pod: corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
			policy: PlacementPolicy{AllowedTolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}},
		{name: "a selector inside the pool", pod: corev1.PodSpec{NodeSelector: map[string]string{"pool": "a", "zone": "z1"}},
			policy: PlacementPolicy{NodeSelector: map[string]string{"pool": "a"}}},
		{name: "a selector out of the pool", pod: corev1.PodSpec{NodeSelector: map[string]string{"pool": "b", "zone": "z1"}},
			policy: PlacementPolicy{NodeSelector: map[string]string{"pool": "a"}},
			want:   []string{`spec.nodeSelector[pool]: Forbidden: this virtual cluster's pods run only on nodes with pool=a (isolation.nodeSelector)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := CheckPlacement(&corev1.Pod{Spec: tc.pod}, tc.policy)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tc.want))
			}
			for i, err := range errs {
				if !strings.HasPrefix(err.Error(), tc.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s", i, err, tc.want[i])
				}
			}
		})
	}
}

func TestNodeAdmits(t *testing.T) {
	t.Parallel()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "gpu-1", Labels: map[string]string{"pool": "gpu"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{
			{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule},
			{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule},
			{Key: "generation", Value: "5", Effect: corev1.TaintEffectNoExecute},
		}},
	}
	gpu := corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}
	for _, tc := range []struct {
		name        string
		tolerations []corev1.Toleration
		selector    map[string]string
		want        string
	}{
		{"every hard taint tolerated", []corev1.Toleration{gpu, {Key: "generation", Operator: corev1.TolerationOpGt, Value: "3"}}, map[string]string{"pool": "gpu"}, ""},
		{"a taint not tolerated", []corev1.Toleration{gpu}, nil, "node gpu-1 has taint generation=5:NoExecute, which the pod does not tolerate"},
		{"a numeric toleration that misses", []corev1.Toleration{gpu, {Key: "generation", Operator: corev1.TolerationOpLt, Value: "3"}}, nil, "node gpu-1 has taint generation=5:NoExecute"},
		{"a value that differs", []corev1.Toleration{{Key: "nvidia.com/gpu", Value: "absent"}, {Operator: corev1.TolerationOpExists, Key: "generation"}}, nil, "node gpu-1 has taint nvidia.com/gpu=present:NoSchedule"},
		{"outside the pool", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, map[string]string{"pool": "cpu"}, "node gpu-1 is outside this virtual cluster's nodes (isolation.nodeSelector pool=cpu)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NodeAdmits(node, tc.tolerations, tc.selector)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
}
