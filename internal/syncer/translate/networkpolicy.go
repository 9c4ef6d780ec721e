package translate

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The host labels that say a tenant pod is selected by one of its virtual
// cluster's NetworkPolicies, per direction: "true" or "false". The host's
// guardrail policies, which admit a tenant's pods to one another and let them
// out to the internet, select only pods whose label is not "true", so that a
// pod the tenant isolates gets what the tenant's (translated, confined)
// policies allow and no more, as on a cluster of one's own.
const (
	KeyIsolatedIngress = "kubicle.dev/isolated-ingress"
	KeyIsolatedEgress  = "kubicle.dev/isolated-egress"
)

// NetworkPolicyOptions are the inputs of [NetworkPolicy] beyond the policy.
type NetworkPolicyOptions struct {
	// Target names the virtual cluster and its host namespace. Required.
	Target
	// ResolveNamespaces lists the virtual namespaces a namespaceSelector
	// selects. Default nil: a peer with a non-empty namespaceSelector is
	// refused.
	ResolveNamespaces NamespaceResolver
	// BlockedCIDRs are the ranges the tenant's pods may not reach
	// (isolation.networkPolicy.egress.blockedCIDRs): an ipBlock peer never
	// opens them. Default none.
	BlockedCIDRs []string
	// AllowedCIDRs are the ranges the platform opened inside them
	// (isolation.networkPolicy.egress.allowedCIDRs): an ipBlock peer within
	// one is kept as written. Default none.
	AllowedCIDRs []string
}

// NetworkPolicy returns the host NetworkPolicy of a tenant's NetworkPolicy, and
// notes on peers it had to narrow, for the tenant's events. The host policy lives
// in the host namespace, under the host name of the virtual one, and selects the
// host pods of the virtual pods the virtual policy selects ([LabelSelector]). Its
// peers are confined to the tenant:
//
//   - a pod selector selects the virtual cluster's pods of the policy's
//     namespace; with a namespace selector, of the virtual namespaces it selects
//     now ([NamespaceResolver]; the syncer translates again when namespaces
//     change). A peer never selects pods of another host namespace;
//   - an ipBlock gets the blocked ranges it contains as exceptions, and is
//     dropped (with a note) when it lies inside a blocked range, unless it lies
//     inside an allowed range, so that a tenant policy never opens the host's
//     nodes, its API server or other tenants' pods by address.
//
// Ports and policy types are kept.
func NetworkPolicy(virtual *networkingv1.NetworkPolicy, opts NetworkPolicyOptions) (*networkingv1.NetworkPolicy, []string, error) {
	if virtual == nil {
		return nil, nil, errors.New("translating networkpolicy: nil policy")
	}
	if err := opts.Target.Validate(); err != nil {
		return nil, nil, fmt.Errorf("translating networkpolicy %s/%s: options: %w", virtual.Namespace, virtual.Name, err)
	}
	if err := opts.Target.check("networkpolicy", virtual); err != nil {
		return nil, nil, err
	}
	blocked, err := prefixes(opts.BlockedCIDRs)
	if err != nil {
		return nil, nil, fmt.Errorf("translating networkpolicy: blockedCIDRs: %w", err)
	}
	allowed, err := prefixes(opts.AllowedCIDRs)
	if err != nil {
		return nil, nil, fmt.Errorf("translating networkpolicy: allowedCIDRs: %w", err)
	}
	t := &policyTranslator{opts: opts, ns: virtual.Namespace, blocked: blocked, allowed: allowed}
	host := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: opts.Target.hostMeta(virtual, DNSSubdomain),
	}
	spec := virtual.Spec.DeepCopy()
	spec.PodSelector = *LabelSelector(opts.VCluster, virtual.Namespace, &spec.PodSelector)
	sp := field.NewPath("spec")
	for i := range spec.Ingress {
		p := sp.Child("ingress").Index(i).Child("from")
		spec.Ingress[i].From = t.peers(spec.Ingress[i].From, p)
		if len(virtual.Spec.Ingress[i].From) > 0 && len(spec.Ingress[i].From) == 0 {
			// Every peer was dropped: the rule admits no one (an empty list
			// would admit everyone).
			spec.Ingress[i].From = []networkingv1.NetworkPolicyPeer{nothing()}
		}
	}
	for i := range spec.Egress {
		p := sp.Child("egress").Index(i).Child("to")
		spec.Egress[i].To = t.peers(spec.Egress[i].To, p)
		if len(virtual.Spec.Egress[i].To) > 0 && len(spec.Egress[i].To) == 0 {
			spec.Egress[i].To = []networkingv1.NetworkPolicyPeer{nothing()}
		}
	}
	if len(t.errs) > 0 {
		return nil, nil, fmt.Errorf("translating networkpolicy %s/%s: %w", virtual.Namespace, virtual.Name, t.errs.ToAggregate())
	}
	host.Spec = *spec
	return host, t.notes, nil
}

// nothing is a peer that selects no pod: a requirement no label set meets.
func nothing() networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: KeyNamespace, Operator: metav1.LabelSelectorOpExists},
		{Key: KeyNamespace, Operator: metav1.LabelSelectorOpDoesNotExist},
	}}}
}

func prefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// policyTranslator carries one policy's translation.
type policyTranslator struct {
	opts             NetworkPolicyOptions
	ns               string
	blocked, allowed []netip.Prefix
	notes            []string
	errs             field.ErrorList
}

func (t *policyTranslator) peers(peers []networkingv1.NetworkPolicyPeer, p *field.Path) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for i, peer := range peers {
		pp := p.Index(i)
		if peer.IPBlock != nil {
			if b, ok := t.ipBlock(peer.IPBlock, pp.Child("ipBlock")); ok {
				out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: b})
			}
			continue
		}
		pods := peer.PodSelector
		if pods == nil {
			pods = &metav1.LabelSelector{} // a namespace selector alone: every pod there
		}
		if peer.NamespaceSelector == nil {
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: LabelSelector(t.opts.VCluster, t.ns, pods)})
			continue
		}
		term, errs := podAffinityTerm(t.opts.VCluster, t.ns,
			&corev1.PodAffinityTerm{LabelSelector: pods, NamespaceSelector: peer.NamespaceSelector}, t.opts.ResolveNamespaces, pp)
		if len(errs) > 0 {
			t.errs = append(t.errs, errs...)
			continue
		}
		out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: term.LabelSelector})
	}
	return out
}

// ipBlock confines one ipBlock peer; false drops it.
func (t *policyTranslator) ipBlock(b *networkingv1.IPBlock, p *field.Path) (*networkingv1.IPBlock, bool) {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		t.errs = append(t.errs, field.Invalid(p.Child("cidr"), b.CIDR, err.Error()))
		return nil, false
	}
	cidr = cidr.Masked()
	within := func(outer, inner netip.Prefix) bool {
		return outer.Addr().Is4() == inner.Addr().Is4() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
	}
	if slices.ContainsFunc(t.allowed, func(a netip.Prefix) bool { return within(a, cidr) }) {
		return b.DeepCopy(), true
	}
	out := b.DeepCopy()
	for _, bl := range t.blocked {
		switch {
		case within(bl, cidr):
			t.notes = append(t.notes, fmt.Sprintf("%s %s was dropped: it lies in %s, which this virtual cluster's pods may not reach (isolation.networkPolicy.egress.blockedCIDRs)",
				p, b.CIDR, bl))
			return nil, false
		case within(cidr, bl):
			if !slices.ContainsFunc(out.Except, func(e string) bool {
				ep, err := netip.ParsePrefix(e)
				return err == nil && within(ep.Masked(), bl)
			}) {
				out.Except = append(out.Except, bl.String())
			}
		}
	}
	return out, true
}
