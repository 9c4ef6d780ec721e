package translate

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceSelector translates a virtual Service's selector in namespace of
// virtual cluster vc: the tenant's keys escaped ([EscapeKey]) plus the
// [KeyVCluster] and [KeyNamespace] markers, so the host Service selects only
// this virtual cluster's pods of that namespace, whatever the tenant wrote.
// An empty selector (a Service whose endpoints are managed by hand) stays
// nil: adding markers would turn it into "every pod of the namespace".
func ServiceSelector(vc, namespace string, virtual map[string]string) map[string]string {
	if len(virtual) == 0 {
		return nil
	}
	return merge(escapeKeys(virtual, nil), confine(vc, namespace))
}

// LabelSelector translates a pod label selector written in namespace of
// virtual cluster vc (a topology spread constraint, a PodDisruptionBudget,
// a workload's selector): keys in matchLabels and matchExpressions are
// escaped and the [KeyVCluster] and [KeyNamespace] markers are required.
// Pass namespace "" to confine to the virtual cluster only (for selectors
// that span namespaces). A nil selector, which matches nothing, stays nil;
// an empty one, which matches everything, becomes "every pod of this
// virtual cluster in namespace".
func LabelSelector(vc, namespace string, virtual *metav1.LabelSelector) *metav1.LabelSelector {
	if virtual == nil {
		return nil
	}
	out := escapeSelector(virtual)
	out.MatchLabels = merge(out.MatchLabels, confine(vc, namespace))
	return out
}

// NamespaceResolver lists the virtual namespaces whose labels match a
// selector. The syncer implements it with its cache of virtual namespaces;
// [Pod] and [PodAffinityTerm] call it to confine a namespaceSelector.
type NamespaceResolver func(selector labels.Selector) ([]string, error)

// PodAffinityTerm translates a pod (anti-)affinity term of a pod in
// namespace of virtual cluster vc. All tenant pods of a virtual cluster live
// in one host namespace, so the term's namespaces and namespaceSelector are
// turned into a requirement on the [KeyNamespace] label inside the host
// namespace, and [KeyVCluster] is always required:
//
//   - neither set: the pod's own namespace (KeyNamespace = namespace);
//   - an empty namespaceSelector ({}): every namespace of the virtual
//     cluster (no namespace requirement);
//   - otherwise: KeyNamespace in (namespaces ∪ resolve(namespaceSelector)),
//     or a requirement that matches nothing when that set is empty.
//
// A non-empty namespaceSelector needs resolve; the set is computed once, so
// namespaces labelled later are not picked up (pod affinity is immutable on
// the host too). A nil labelSelector matches nothing and stays nil. Keys in
// labelSelector, matchLabelKeys and mismatchLabelKeys are escaped.
func PodAffinityTerm(vc, namespace string, term *corev1.PodAffinityTerm, resolve NamespaceResolver) (*corev1.PodAffinityTerm, error) {
	out, errs := podAffinityTerm(vc, namespace, term, resolve, nil)
	return out, errs.ToAggregate()
}

// Affinity translates a pod's affinity in namespace of virtual cluster vc:
// node affinity is kept (virtual nodes are host nodes), every pod affinity
// and anti-affinity term goes through [PodAffinityTerm].
func Affinity(vc, namespace string, a *corev1.Affinity, resolve NamespaceResolver) (*corev1.Affinity, error) {
	out, errs := affinity(vc, namespace, a, resolve, nil)
	return out, errs.ToAggregate()
}

func affinity(vc, namespace string, a *corev1.Affinity, resolve NamespaceResolver, path *field.Path) (*corev1.Affinity, field.ErrorList) {
	if a == nil {
		return nil, nil
	}
	out := a.DeepCopy()
	var errs field.ErrorList
	terms := func(ts []corev1.PodAffinityTerm, p *field.Path) {
		for i := range ts {
			t, e := podAffinityTerm(vc, namespace, &ts[i], resolve, p.Index(i))
			errs = append(errs, e...)
			if t != nil {
				ts[i] = *t
			}
		}
	}
	weighted := func(ts []corev1.WeightedPodAffinityTerm, p *field.Path) {
		for i := range ts {
			ip := p.Index(i).Child("podAffinityTerm")
			t, e := podAffinityTerm(vc, namespace, &ts[i].PodAffinityTerm, resolve, ip)
			errs = append(errs, e...)
			if t != nil {
				ts[i].PodAffinityTerm = *t
			}
		}
	}
	if pa := out.PodAffinity; pa != nil {
		p := path.Child("podAffinity")
		terms(pa.RequiredDuringSchedulingIgnoredDuringExecution, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))
		weighted(pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("preferredDuringSchedulingIgnoredDuringExecution"))
	}
	if pa := out.PodAntiAffinity; pa != nil {
		p := path.Child("podAntiAffinity")
		terms(pa.RequiredDuringSchedulingIgnoredDuringExecution, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))
		weighted(pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("preferredDuringSchedulingIgnoredDuringExecution"))
	}
	return out, errs
}

func podAffinityTerm(vc, namespace string, term *corev1.PodAffinityTerm, resolve NamespaceResolver, path *field.Path) (*corev1.PodAffinityTerm, field.ErrorList) {
	if term == nil {
		return nil, nil
	}
	out := term.DeepCopy()
	out.Namespaces = nil
	out.NamespaceSelector = nil
	out.MatchLabelKeys = escapeKeyList(term.MatchLabelKeys)
	out.MismatchLabelKeys = escapeKeyList(term.MismatchLabelKeys)
	if term.LabelSelector == nil {
		return out, nil
	}
	sel := escapeSelector(term.LabelSelector)
	sel.MatchLabels = merge(sel.MatchLabels, map[string]string{KeyVCluster: LabelValue(vc)})
	out.LabelSelector = sel

	nsSel := term.NamespaceSelector
	switch {
	case len(term.Namespaces) == 0 && nsSel == nil:
		sel.MatchLabels[KeyNamespace] = LabelValue(namespace)
		return out, nil
	case nsSel != nil && len(nsSel.MatchLabels) == 0 && len(nsSel.MatchExpressions) == 0:
		return out, nil // every namespace of the virtual cluster
	}

	names := slices.Clone(term.Namespaces)
	if nsSel != nil {
		p := path.Child("namespaceSelector")
		s, err := metav1.LabelSelectorAsSelector(nsSel)
		if err != nil {
			return nil, field.ErrorList{field.Invalid(p, nsSel, err.Error())}
		}
		if resolve == nil {
			return nil, field.ErrorList{field.Invalid(p, s.String(), "a namespace selector needs a namespace resolver")}
		}
		matched, err := resolve(s)
		if err != nil {
			return nil, field.ErrorList{field.InternalError(p, err)}
		}
		names = append(names, matched...)
	}
	values := make([]string, 0, len(names))
	for _, n := range names {
		values = append(values, LabelValue(n))
	}
	slices.Sort(values)
	values = slices.Compact(values)
	if len(values) == 0 {
		// No namespace matches: a requirement no pod can meet.
		sel.MatchExpressions = append(sel.MatchExpressions,
			metav1.LabelSelectorRequirement{Key: KeyNamespace, Operator: metav1.LabelSelectorOpExists},
			metav1.LabelSelectorRequirement{Key: KeyNamespace, Operator: metav1.LabelSelectorOpDoesNotExist})
		return out, nil
	}
	sel.MatchExpressions = append(sel.MatchExpressions,
		metav1.LabelSelectorRequirement{Key: KeyNamespace, Operator: metav1.LabelSelectorOpIn, Values: values})
	return out, nil
}

// confine returns the marker labels that pin a selector to a virtual
// cluster and, when namespace is not "", to one of its namespaces.
func confine(vc, namespace string) map[string]string {
	m := map[string]string{KeyVCluster: LabelValue(vc)}
	if namespace != "" {
		m[KeyNamespace] = LabelValue(namespace)
	}
	return m
}

// escapeSelector copies a selector with every key escaped; MatchLabels is
// never nil in the result.
func escapeSelector(s *metav1.LabelSelector) *metav1.LabelSelector {
	out := &metav1.LabelSelector{MatchLabels: escapeKeys(s.MatchLabels, nil)}
	if out.MatchLabels == nil {
		out.MatchLabels = map[string]string{}
	}
	for _, r := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key:      EscapeKey(r.Key),
			Operator: r.Operator,
			Values:   slices.Clone(r.Values),
		})
	}
	return out
}
