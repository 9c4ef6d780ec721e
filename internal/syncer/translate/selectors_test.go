package translate

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// hostPodLabels are the host labels of a tenant pod.
func hostPodLabels(vc, ns string, l map[string]string) labels.Set {
	return labels.Set(HostLabels(Identity{VCluster: vc, Namespace: ns, Name: "p"}, l))
}

func TestServiceSelector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		virtual map[string]string
		want    map[string]string
	}{
		{"nil stays nil", nil, nil},
		{"empty stays nil", map[string]string{}, nil},
		{"confined", map[string]string{"app": "web"}, map[string]string{"app": "web", KeyVCluster: "vc1", KeyNamespace: "ns"}},
		{
			"markers cannot be overridden",
			map[string]string{KeyVCluster: "vc2", KeyNamespace: "other", "kueue.x-k8s.io/queue-name": "q"},
			map[string]string{
				"kubicle.dev.tenant.kubicle.dev/vcluster":      "vc2",
				"kubicle.dev.tenant.kubicle.dev/namespace":     "other",
				"kueue.x-k8s.io.tenant.kubicle.dev/queue-name": "q",
				KeyVCluster:  "vc1",
				KeyNamespace: "ns",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ServiceSelector("vc1", "ns", tc.virtual); !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("ServiceSelector = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestServiceSelectorSelects checks what a translated selector matches
// among host pods.
func TestServiceSelectorSelects(t *testing.T) {
	t.Parallel()
	sel := labels.SelectorFromSet(ServiceSelector("vc1", "ns", map[string]string{"app": "web"}))
	for _, tc := range []struct {
		name string
		pod  labels.Set
		want bool
	}{
		{"own pod", hostPodLabels("vc1", "ns", map[string]string{"app": "web"}), true},
		{"other namespace", hostPodLabels("vc1", "other", map[string]string{"app": "web"}), false},
		{"other virtual cluster", hostPodLabels("vc2", "ns", map[string]string{"app": "web"}), false},
		{"host pod without markers", labels.Set{"app": "web"}, false},
		{"pod forging markers", hostPodLabels("vc2", "other", map[string]string{"app": "web", KeyVCluster: "vc1", KeyNamespace: "ns"}), false},
	} {
		if got := sel.Matches(tc.pod); got != tc.want {
			t.Errorf("%s: matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLabelSelector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		namespace string
		virtual   *metav1.LabelSelector
		want      *metav1.LabelSelector
	}{
		{"nil matches nothing and stays nil", "ns", nil, nil},
		{
			"empty becomes the namespace",
			"ns", &metav1.LabelSelector{},
			&metav1.LabelSelector{MatchLabels: map[string]string{KeyVCluster: "vc1", KeyNamespace: "ns"}},
		},
		{
			"labels and expressions escaped",
			"ns",
			&metav1.LabelSelector{
				MatchLabels: map[string]string{"app": "web", KeyNamespace: "x"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
					{Key: "kueue.x-k8s.io/queue-name", Operator: metav1.LabelSelectorOpExists},
				},
			},
			&metav1.LabelSelector{
				MatchLabels: map[string]string{"app": "web", "kubicle.dev.tenant.kubicle.dev/namespace": "x", KeyVCluster: "vc1", KeyNamespace: "ns"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
					{Key: "kueue.x-k8s.io.tenant.kubicle.dev/queue-name", Operator: metav1.LabelSelectorOpExists},
				},
			},
		},
		{
			"whole virtual cluster",
			"", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", KeyVCluster: "vc1"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := LabelSelector("vc1", tc.namespace, tc.virtual)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("LabelSelector = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestLabelSelectorDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	in := &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "c", Operator: metav1.LabelSelectorOpIn, Values: []string{"d"}}}}
	before := in.DeepCopy()
	out := LabelSelector("vc", "ns", in)
	out.MatchExpressions[0].Values[0] = "changed"
	if !reflect.DeepEqual(in, before) {
		t.Errorf("input modified: %v", in)
	}
}

func TestPodAffinityTerm(t *testing.T) {
	t.Parallel()
	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	resolver := func(s labels.Selector) ([]string, error) {
		var out []string
		for ns, l := range map[string]labels.Set{"prod": {"env": "prod"}, "prod-eu": {"env": "prod"}, "dev": {"env": "dev"}} {
			if s.Matches(l) {
				out = append(out, ns)
			}
		}
		return out, nil
	}
	type matchCase struct {
		ns   string
		vc   string
		want bool
	}
	for _, tc := range []struct {
		name    string
		term    corev1.PodAffinityTerm
		resolve NamespaceResolver
		want    *metav1.LabelSelector
		matches []matchCase
		wantErr string
	}{
		{
			name: "own namespace",
			term: corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone"},
			want: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", KeyVCluster: "vc1", KeyNamespace: "team"}},
			matches: []matchCase{
				{"team", "vc1", true}, {"other", "vc1", false}, {"team", "vc2", false},
			},
		},
		{
			name: "listed namespaces",
			term: corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone", Namespaces: []string{"b", "a", "b"}},
			want: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "web", KeyVCluster: "vc1"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: KeyNamespace, Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
			},
			matches: []matchCase{{"a", "vc1", true}, {"b", "vc1", true}, {"team", "vc1", false}, {"a", "vc2", false}},
		},
		{
			name:    "all namespaces of the virtual cluster",
			term:    corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone", Namespaces: []string{"a"}, NamespaceSelector: &metav1.LabelSelector{}},
			want:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", KeyVCluster: "vc1"}},
			matches: []matchCase{{"a", "vc1", true}, {"zzz", "vc1", true}, {"a", "vc2", false}},
		},
		{
			name:    "namespace selector resolved",
			term:    corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone", Namespaces: []string{"team"}, NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}},
			resolve: resolver,
			want: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "web", KeyVCluster: "vc1"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: KeyNamespace, Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "prod-eu", "team"}}},
			},
			matches: []matchCase{{"prod", "vc1", true}, {"team", "vc1", true}, {"dev", "vc1", false}, {"prod", "vc2", false}},
		},
		{
			name:    "namespace selector matching nothing",
			term:    corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone", NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "none"}}},
			resolve: resolver,
			want: &metav1.LabelSelector{
				MatchLabels: map[string]string{"app": "web", KeyVCluster: "vc1"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: KeyNamespace, Operator: metav1.LabelSelectorOpExists},
					{Key: KeyNamespace, Operator: metav1.LabelSelectorOpDoesNotExist},
				},
			},
			matches: []matchCase{{"team", "vc1", false}, {"prod", "vc1", false}},
		},
		{
			name:    "namespace selector without resolver",
			term:    corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone", NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}},
			wantErr: "namespaceSelector",
		},
		{
			name: "resolver failing",
			term: corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone", NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}},
			resolve: func(labels.Selector) ([]string, error) {
				return nil, errors.New("cache not synced")
			},
			wantErr: "cache not synced",
		},
		{
			name: "invalid namespace selector",
			term: corev1.PodAffinityTerm{LabelSelector: web, TopologyKey: "zone", NamespaceSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Bogus"}}}},
			resolve: resolver,
			wantErr: "namespaceSelector",
		},
		{
			name: "nil label selector matches nothing",
			term: corev1.PodAffinityTerm{TopologyKey: "zone", Namespaces: []string{"a"}},
			want: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := PodAffinityTerm("vc1", "team", &tc.term, tc.resolve)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Namespaces != nil || got.NamespaceSelector != nil {
				t.Errorf("namespaces %v / namespaceSelector %v not cleared", got.Namespaces, got.NamespaceSelector)
			}
			if got.TopologyKey != tc.term.TopologyKey {
				t.Errorf("topologyKey = %q", got.TopologyKey)
			}
			if !reflect.DeepEqual(got.LabelSelector, tc.want) {
				t.Errorf("labelSelector = %#v, want %#v", got.LabelSelector, tc.want)
			}
			if len(tc.matches) == 0 {
				return
			}
			sel, err := metav1.LabelSelectorAsSelector(got.LabelSelector)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.matches {
				if ok := sel.Matches(hostPodLabels(m.vc, m.ns, map[string]string{"app": "web"})); ok != m.want {
					t.Errorf("pod of %s/%s: matches = %v, want %v", m.vc, m.ns, ok, m.want)
				}
			}
		})
	}
}

func TestPodAffinityTermLabelKeys(t *testing.T) {
	t.Parallel()
	got, err := PodAffinityTerm("vc", "ns", &corev1.PodAffinityTerm{
		LabelSelector:     &metav1.LabelSelector{},
		TopologyKey:       "zone",
		MatchLabelKeys:    []string{"pod-template-hash", "kueue.x-k8s.io/queue-name"},
		MismatchLabelKeys: []string{KeyName},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"pod-template-hash", "kueue.x-k8s.io.tenant.kubicle.dev/queue-name"}; !reflect.DeepEqual(got.MatchLabelKeys, want) {
		t.Errorf("matchLabelKeys = %v, want %v", got.MatchLabelKeys, want)
	}
	if want := []string{"kubicle.dev.tenant.kubicle.dev/name"}; !reflect.DeepEqual(got.MismatchLabelKeys, want) {
		t.Errorf("mismatchLabelKeys = %v, want %v", got.MismatchLabelKeys, want)
	}
	if got, err := PodAffinityTerm("vc", "ns", nil, nil); got != nil || err != nil {
		t.Errorf("PodAffinityTerm(nil) = %v, %v", got, err)
	}
}

func TestAffinity(t *testing.T) {
	t.Parallel()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	bad := &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	node := &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "nvidia.com/gpu.product", Operator: corev1.NodeSelectorOpIn, Values: []string{"H100"}}}}}}}
	in := &corev1.Affinity{
		NodeAffinity: node,
		PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: sel, TopologyKey: "zone"}},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 10, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: "host"}}},
		},
		PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: sel, TopologyKey: "host"}},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 5, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: "zone", NamespaceSelector: bad}}},
		},
	}
	if _, err := Affinity("vc", "ns", in, nil); err == nil ||
		!strings.Contains(err.Error(), "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.namespaceSelector") {
		t.Errorf("error = %v, want one naming the anti-affinity term's namespaceSelector", err)
	}
	in.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.NamespaceSelector = nil
	before := in.DeepCopy()
	got, err := Affinity("vc", "ns", in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, before) {
		t.Error("input modified")
	}
	if !reflect.DeepEqual(got.NodeAffinity, node) {
		t.Errorf("node affinity changed: %v", got.NodeAffinity)
	}
	want := map[string]string{"app": "web", KeyVCluster: "vc", KeyNamespace: "ns"}
	for _, s := range []*metav1.LabelSelector{
		got.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector,
		got.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector,
		got.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector,
		got.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector,
	} {
		if !maps.Equal(s.MatchLabels, want) {
			t.Errorf("term selector = %v, want %v", s.MatchLabels, want)
		}
	}
	if got.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight != 10 {
		t.Error("weight lost")
	}
	if a, err := Affinity("vc", "ns", nil, nil); a != nil || err != nil {
		t.Errorf("Affinity(nil) = %v, %v", a, err)
	}
}
