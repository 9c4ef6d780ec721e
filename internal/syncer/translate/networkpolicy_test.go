package translate

import (
	"reflect"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	resolve := func(s labels.Selector) ([]string, error) {
		var out []string
		for ns, l := range map[string]labels.Set{"ops": {"team": "ops"}, "shop": {"team": "shop"}} {
			if s.Matches(l) {
				out = append(out, ns)
			}
		}
		return out, nil
	}
	opts := NetworkPolicyOptions{Target: testTarget, ResolveNamespaces: resolve,
		BlockedCIDRs: []string{"10.0.0.0/8", "198.18.0.0/15"}, AllowedCIDRs: []string{"198.18.0.5/32"}}
	virtual := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"access": "granted"}}},
					{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "ops"}}},
				}},
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.1.2.3/32"}}}},
			},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"192.0.2.0/24"}}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "198.18.0.5/32"}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "198.18.0.1/32"}},
			}}},
		},
	}
	host, notes, err := NetworkPolicy(virtual, opts)
	if err != nil {
		t.Fatal(err)
	}
	if host.Namespace != "host" || host.Name != HostName("vc1", "shop", "web", DNSSubdomain) {
		t.Errorf("host policy %s/%s", host.Namespace, host.Name)
	}
	if want := (metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", KeyVCluster: "vc1", KeyNamespace: "shop"}}); !reflect.DeepEqual(host.Spec.PodSelector, want) {
		t.Errorf("pod selector %+v, want %+v", host.Spec.PodSelector, want)
	}
	from := host.Spec.Ingress[0].From
	if len(from) != 2 || from[0].NamespaceSelector != nil || from[1].NamespaceSelector != nil ||
		!reflect.DeepEqual(from[0].PodSelector.MatchLabels, map[string]string{"access": "granted", KeyVCluster: "vc1", KeyNamespace: "shop"}) ||
		!reflect.DeepEqual(from[1].PodSelector.MatchExpressions, []metav1.LabelSelectorRequirement{{Key: KeyNamespace, Operator: metav1.LabelSelectorOpIn, Values: []string{"ops"}}}) {
		t.Errorf("ingress peers not confined to the tenant's pods: %+v", from)
	}
	// 10.1.2.3 is inside a blocked range: dropped, and the rule admits no one.
	if from := host.Spec.Ingress[1].From; len(from) != 1 || from[0].IPBlock != nil || from[0].PodSelector == nil || len(from[0].PodSelector.MatchExpressions) != 2 {
		t.Errorf("a rule whose only peer was dropped: %+v", from)
	}
	to := host.Spec.Egress[0].To
	if len(to) != 2 || !reflect.DeepEqual(to[0].IPBlock, &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"192.0.2.0/24", "10.0.0.0/8", "198.18.0.0/15"}}) ||
		!reflect.DeepEqual(to[1].IPBlock, &networkingv1.IPBlock{CIDR: "198.18.0.5/32"}) {
		t.Errorf("egress peers: %+v %+v", to[0].IPBlock, to)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "spec.ingress[1].from[0].ipBlock 10.1.2.3/32 was dropped: it lies in 10.0.0.0/8") ||
		!strings.Contains(notes[1], "spec.egress[0].to[2].ipBlock 198.18.0.1/32 was dropped: it lies in 198.18.0.0/15, which this virtual cluster's pods may not reach (isolation.networkPolicy.egress.blockedCIDRs)") {
		t.Errorf("notes %q", notes)
	}
	if !reflect.DeepEqual(host.Spec.PolicyTypes, virtual.Spec.PolicyTypes) {
		t.Errorf("policy types %v", host.Spec.PolicyTypes)
	}

	// Without a resolver a namespace selector cannot be confined.
	if _, _, err := NetworkPolicy(virtual, NetworkPolicyOptions{Target: testTarget}); err == nil || !strings.Contains(err.Error(), "namespaceSelector") {
		t.Errorf("without a resolver: %v", err)
	}
}
