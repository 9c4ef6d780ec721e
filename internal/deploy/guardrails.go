package deploy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Pod Security Admission namespace labels (k8s.io/pod-security-admission/api;
// a test checks that they agree).
const (
	psaEnforce = "pod-security.kubernetes.io/enforce"
	psaAudit   = "pod-security.kubernetes.io/audit"
	psaWarn    = "pod-security.kubernetes.io/warn"
)

// PodSecurityLabels returns the Pod Security Admission labels of the host
// namespace: enforce, audit and warn, each at spec.isolation.
// podSecurityStandard, at the host's latest policy version. A caller that
// finds the namespace already there merges these onto it (and none of the
// other labels of [Render]'s Namespace, so that it is never deleted with the
// virtual cluster).
func PodSecurityLabels(vc *v1alpha1.VirtualCluster) map[string]string {
	level := string(vc.Spec.Isolation.PodSecurityStandard)
	return map[string]string{psaEnforce: level, psaAudit: level, psaWarn: level}
}

// namespace returns the host namespace as kubicle creates it.
func namespace(vc *v1alpha1.VirtualCluster, r Ref) *corev1.Namespace {
	m := clusterMeta(r, r.Namespace, ComponentNamespace)
	m.Labels[LabelCreatedNamespace] = "true"
	for k, v := range PodSecurityLabels(vc) {
		m.Labels[k] = v
	}
	return &corev1.Namespace{TypeMeta: typeMeta(kindNamespace), ObjectMeta: m}
}

// resourceQuota returns the host namespace's ResourceQuota, or nil when
// spec.isolation.resourceQuota is empty. It counts every pod of the
// namespace, the control plane's included.
func resourceQuota(vc *v1alpha1.VirtualCluster, r Ref) *corev1.ResourceQuota {
	q := vc.Spec.Isolation.ResourceQuota
	if len(q) == 0 {
		return nil
	}
	return &corev1.ResourceQuota{
		TypeMeta:   typeMeta(kindResourceQuota),
		ObjectMeta: objectMeta(r, r.ResourceQuotaName(), ComponentGuardrails),
		Spec:       corev1.ResourceQuotaSpec{Hard: q.DeepCopy()},
	}
}

// limitRange returns the host namespace's container LimitRange, or nil when
// spec.isolation.limitRange is empty.
func limitRange(vc *v1alpha1.VirtualCluster, r Ref) *corev1.LimitRange {
	lr := &vc.Spec.Isolation.LimitRange
	if len(lr.Default)+len(lr.DefaultRequest)+len(lr.Max)+len(lr.Min) == 0 {
		return nil
	}
	return &corev1.LimitRange{
		TypeMeta:   typeMeta(kindLimitRange),
		ObjectMeta: objectMeta(r, r.LimitRangeName(), ComponentGuardrails),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Default:        lr.Default.DeepCopy(),
			DefaultRequest: lr.DefaultRequest.DeepCopy(),
			Max:            lr.Max.DeepCopy(),
			Min:            lr.Min.DeepCopy(),
		}}},
	}
}

// networkPolicies returns the NetworkPolicies of the host namespace, or nil
// when spec.isolation.networkPolicy is off. Policies are additive:
//
//   - "<name>-workloads" selects the tenant's synced pods (marker labels
//     kubicle.dev/vcluster and kubicle.dev/name, which only the syncer sets)
//     and admits traffic from pods of the host namespace alone: the tenant's
//     other pods and the control plane. Connections from other namespaces,
//     other tenants' pods among them, are refused.
//   - "<name>-workloads-egress" selects them too and lets them reach their
//     own namespace and spec.isolation.networkPolicy.egress ([egressRules]):
//     by default the internet, and not the host's nodes, its API server,
//     other namespaces or cloud metadata.
//   - Both leave out a pod that one of the tenant's own NetworkPolicies
//     selects for that direction (label kubicle.dev/isolated-ingress or
//     -egress "true", set by the syncer): such a pod gets what the tenant's
//     translated, confined policies allow, as on a cluster of one's own.
//   - "<name>-workloads-control-plane" (driver "pod") keeps every tenant pod
//     and the control plane's pods in touch both ways, whatever the tenant's
//     policies say: pods reach their API server and DNS, and the API server
//     reaches their webhooks.
//   - "<name>-control-plane" (driver "pod") selects the control plane's pods
//     and admits the API server port from anywhere, because the API server
//     is the virtual cluster's front door (tenant pods, `kubicle connect`,
//     the operator, NodePort and LoadBalancer clients) and authenticates
//     every request; every other port (embedded etcd) only from the control
//     plane's own pods. Tenant pods thus never reach the store directly.
//
// The control plane's egress is not restricted: it must reach the host API
// server. Host components in other namespaces that must reach
// tenant pods, such as an ingress controller serving synced Ingresses or
// load balancer health checks, need a policy of the platform's own next to
// these; kubicle cannot know their namespaces.
func networkPolicies(vc *v1alpha1.VirtualCluster, r Ref) []*networkingv1.NetworkPolicy {
	if !isTrue(vc.Spec.Isolation.NetworkPolicy.Enabled) {
		return nil
	}
	ingressOnly := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	// The tenant's synced pods; those that one of the tenant's own policies
	// isolates for a direction (a label the syncer sets) are left to them.
	tenantPods := func(isolatedKey string) metav1.LabelSelector {
		sel := metav1.LabelSelector{
			MatchLabels: map[string]string{translate.KeyVCluster: translate.LabelValue(r.Name)},
			MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: translate.KeyName, Operator: metav1.LabelSelectorOpExists},
			},
		}
		if isolatedKey != "" {
			sel.MatchExpressions = append(sel.MatchExpressions,
				metav1.LabelSelectorRequirement{Key: isolatedKey, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"}})
		}
		return sel
	}
	workloads := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(kindNetworkPolicy),
		ObjectMeta: objectMeta(r, r.WorkloadsNetworkPolicyName(), ComponentGuardrails),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: tenantPods(translate.KeyIsolatedIngress),
			PolicyTypes: ingressOnly,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				// An empty pod selector without a namespace selector: every
				// pod of this namespace.
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}},
			}},
		},
	}
	egress := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(kindNetworkPolicy),
		ObjectMeta: objectMeta(r, r.WorkloadsEgressNetworkPolicyName(), ComponentGuardrails),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: tenantPods(translate.KeyIsolatedEgress),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      egressRules(&vc.Spec.Isolation.NetworkPolicy.Egress),
		},
	}
	policies := []*networkingv1.NetworkPolicy{workloads, egress}
	if !runsInPods(vc) {
		return policies
	}
	controlPlanePods := &metav1.LabelSelector{MatchLabels: r.podSelector()}
	policies = append(policies, &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(kindNetworkPolicy),
		ObjectMeta: objectMeta(r, r.WorkloadsControlPlaneNetworkPolicyName(), ComponentGuardrails),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: tenantPods(""),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: controlPlanePods}}}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: controlPlanePods.DeepCopy()}}}},
		},
	})
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	controlPlane := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(kindNetworkPolicy),
		ObjectMeta: objectMeta(r, r.ControlPlaneNetworkPolicyName(), ComponentGuardrails),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: r.podSelector()},
			PolicyTypes: ingressOnly,
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: new(intstr.FromInt32(APIServerPort))}}},
				// The virtual cluster's DNS, asked by the tenant's pods in this namespace.
				{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: new(intstr.FromInt32(DNSPort))}, {Protocol: &tcp, Port: new(intstr.FromInt32(DNSPort))}},
				},
				{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: r.podSelector()}}}},
			},
		},
	}
	return append(policies, controlPlane)
}

// egressRules returns where the tenant's pods may connect: the pods of their
// own host namespace (each other; with driver pod, the API server and DNS),
// every address outside the blocked ranges, the allowed ranges, and the pods
// of the allowed namespaces. Peers are matched after Service addresses are
// translated to endpoints, so a host Service is reachable exactly when its
// endpoints are.
func egressRules(e *v1alpha1.NetworkEgress) []networkingv1.NetworkPolicyEgressRule {
	peers := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	var except4, except6 []string
	open4 := true
	for _, c := range e.BlockedCIDRs {
		pr, err := netip.ParsePrefix(c)
		switch {
		case err != nil: // validation reports it
		case pr.Bits() == 0 && pr.Addr().Is4():
			open4 = false
		case pr.Addr().Is4():
			except4 = append(except4, c)
		case pr.Bits() > 0:
			except6 = append(except6, c)
		}
	}
	if open4 {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: except4}})
	}
	if len(except6) > 0 {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: except6}})
	}
	for _, c := range e.AllowedCIDRs {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	if len(e.AllowedNamespaces) > 0 {
		peers = append(peers, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: slices.Clone(e.AllowedNamespaces),
			}},
		}})
	}
	return []networkingv1.NetworkPolicyEgressRule{{To: peers}}
}

// controlPlaneResources returns the resources of the control plane
// container: spec.controlPlane.resources, plus a limit of zero for each
// extended resource (such as nvidia.com/gpu) that the LimitRange caps
// without a default. LimitRanger refuses a container that states no limit
// for a resource with a maximum, and the control plane uses no devices, so
// zero is the truth and lets it into a namespace that caps GPUs per
// container.
func controlPlaneResources(vc *v1alpha1.VirtualCluster) corev1.ResourceRequirements {
	res := *vc.Spec.ControlPlane.Resources.DeepCopy()
	lr := &vc.Spec.Isolation.LimitRange
	for _, name := range sortedKeys(lr.Max) {
		_, limited := res.Limits[name]
		_, defaulted := lr.Default[name]
		if limited || defaulted || !isExtendedResource(name) {
			continue
		}
		if res.Limits == nil {
			res.Limits = corev1.ResourceList{}
		}
		res.Limits[name] = *resource.NewQuantity(0, resource.DecimalSI)
	}
	return res
}

// checkControlPlaneAdmitted reports why the host namespace's own LimitRange
// or ResourceQuota would refuse the control plane's pods, which live in the
// same namespace as the tenant's. It mirrors the API server: defaults apply
// first (a request defaults to its limit, then LimitRange defaults fill what
// is missing), then the LimitRange's bounds, the quota's demand for
// requests and limits of the compute resources it tracks, and the quota's
// room for every replica. Without this check the StatefulSet would exist
// but its pods never would, with the reason only in its events.
func checkControlPlaneAdmitted(vc *v1alpha1.VirtualCluster, res corev1.ResourceRequirements) []error {
	lr := &vc.Spec.Isolation.LimitRange
	requests, limits := res.Requests.DeepCopy(), res.Limits.DeepCopy()
	if requests == nil {
		requests = corev1.ResourceList{}
	}
	if limits == nil {
		limits = corev1.ResourceList{}
	}
	for name, q := range limits {
		if _, ok := requests[name]; !ok {
			requests[name] = q.DeepCopy()
		}
	}
	for name, q := range lr.DefaultRequest {
		if _, ok := requests[name]; !ok {
			requests[name] = q.DeepCopy()
		}
	}
	for name, q := range lr.Default {
		if _, ok := limits[name]; !ok {
			limits[name] = q.DeepCopy()
		}
	}

	const (
		resPath = "spec.controlPlane.resources"
		lrPath  = "spec.isolation.limitRange"
		rqPath  = "spec.isolation.resourceQuota"
	)
	var errs []error
	for _, name := range sortedKeys(requests) {
		req := requests[name]
		if lim, ok := limits[name]; ok && req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("the control plane's %s request %s exceeds its limit %s (%s or %s.default[%s])",
				name, req.String(), lim.String(), resPath, lrPath, name))
		}
	}
	for _, name := range sortedKeys(lr.Max) {
		most := lr.Max[name]
		lim, ok := limits[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s.max[%s] needs a %s limit on every container, the control plane's too; set %s.limits[%s] or %s.default[%s]",
				lrPath, name, name, resPath, name, lrPath, name))
		case lim.Cmp(most) > 0:
			errs = append(errs, fmt.Errorf("the control plane's %s limit %s exceeds %s.max[%s] %s", name, qs(lim), lrPath, name, qs(most)))
		}
	}
	for _, name := range sortedKeys(lr.Min) {
		least := lr.Min[name]
		req, ok := requests[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s.min[%s] needs a %s request on every container, the control plane's too; set %s.requests[%s] or %s.defaultRequest[%s]",
				lrPath, name, name, resPath, name, lrPath, name))
		case req.Cmp(least) < 0:
			errs = append(errs, fmt.Errorf("the control plane's %s request %s is below %s.min[%s] %s", name, qs(req), lrPath, name, qs(least)))
		}
	}

	replicas := int64(1)
	if r := vc.Spec.ControlPlane.Replicas; r != nil {
		replicas = int64(*r)
	}
	hard := vc.Spec.Isolation.ResourceQuota
	for _, key := range sortedKeys(hard) {
		var list corev1.ResourceList
		var name corev1.ResourceName
		var what string
		switch key {
		case corev1.ResourcePods:
			if q := hard[key]; q.CmpInt64(replicas) < 0 {
				errs = append(errs, fmt.Errorf("%s[pods] %s leaves no room for the control plane's %d pods", rqPath, qs(q), replicas))
			}
			continue
		case corev1.ResourceCPU, corev1.ResourceRequestsCPU:
			list, name, what = requests, corev1.ResourceCPU, "request"
		case corev1.ResourceMemory, corev1.ResourceRequestsMemory:
			list, name, what = requests, corev1.ResourceMemory, "request"
		case corev1.ResourceLimitsCPU:
			list, name, what = limits, corev1.ResourceCPU, "limit"
		case corev1.ResourceLimitsMemory:
			list, name, what = limits, corev1.ResourceMemory, "limit"
		default:
			continue
		}
		q, ok := list[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s[%s] needs a %s %s on every container, the control plane's too; set %s.%ss[%s]",
				rqPath, key, name, what, resPath, what, name))
			continue
		}
		total := q.DeepCopy()
		total.Mul(replicas)
		if total.Cmp(hard[key]) > 0 {
			errs = append(errs, fmt.Errorf("%s[%s] %s is less than the control plane's %d × %s %s; the control plane counts against the tenant's quota",
				rqPath, key, qs(hard[key]), replicas, qs(q), what))
		}
	}
	return errs
}

// isExtendedResource reports whether name is a resource that a device plugin
// or DRA driver advertises, such as nvidia.com/gpu: domain-qualified outside
// kubernetes.io.
func isExtendedResource(name corev1.ResourceName) bool {
	prefix, _, ok := strings.Cut(string(name), "/")
	return ok && !strings.HasSuffix(prefix, "kubernetes.io") && !strings.HasPrefix(string(name), "requests.")
}

func qs(q resource.Quantity) string { return q.String() }
