package translate

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NodeConditionTaintKeys are the taints that Kubernetes itself puts on nodes
// to say how they are (not ready, unreachable, under pressure, cordoned). A
// tenant's pods may always tolerate them: the virtual API server adds
// not-ready and unreachable tolerations to every pod, and DaemonSets add the
// others. They reserve a node for no one.
var NodeConditionTaintKeys = []string{
	corev1.TaintNodeNotReady,
	corev1.TaintNodeUnreachable,
	corev1.TaintNodeUnschedulable,
	corev1.TaintNodeMemoryPressure,
	corev1.TaintNodeDiskPressure,
	corev1.TaintNodeNetworkUnavailable,
	corev1.TaintNodePIDPressure,
}

// PlacementPolicy is which host nodes a virtual cluster's pods may use: the
// nodes its config's node selector selects (all of them when empty) whose
// taints its pods may tolerate.
type PlacementPolicy struct {
	// NodeSelector confines every pod to the nodes it selects (a dedicated
	// pool, isolation.nodeSelector). Default none: any node.
	NodeSelector map[string]string
	// Tolerations are the pool's (isolation.tolerations): the syncer adds
	// them to every host pod, so tenant pods may carry them too.
	Tolerations []corev1.Toleration
	// AllowedTolerations are the tolerations the platform grants the
	// tenant (isolation.allowedTolerations): a tenant toleration passes when
	// one of these, or of Tolerations, tolerates every taint it tolerates.
	AllowedTolerations []corev1.Toleration
}

// CheckPlacement returns why pod may not be placed as it asks under p, one
// error per field: a toleration that lets it onto nodes the platform reserves
// (one not covered by p.Tolerations or p.AllowedTolerations, and not of a
// node-condition taint, nor of effect PreferNoSchedule, which keeps no pod
// away), and a nodeSelector entry that contradicts p.NodeSelector. Required
// node affinity needs no check: the scheduler ANDs it with the node selector
// that the syncer sets, so it can only narrow the pool. spec.nodeName is
// judged against the named node by [NodeAdmits].
func CheckPlacement(pod *corev1.Pod, p PlacementPolicy) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	for i, t := range pod.Spec.Tolerations {
		if p.allows(t) {
			continue
		}
		errs = append(errs, field.Forbidden(sp.Child("tolerations").Index(i), fmt.Sprintf(
			"%s is not granted to this virtual cluster: nodes with that taint are reserved by the platform (isolation.allowedTolerations lists the tolerations its pods may carry)",
			DescribeToleration(t))))
	}
	keys := make([]string, 0, len(pod.Spec.NodeSelector))
	for k := range pod.Spec.NodeSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want, ok := p.NodeSelector[k]; ok && pod.Spec.NodeSelector[k] != want {
			errs = append(errs, field.Forbidden(sp.Child("nodeSelector").Key(k), fmt.Sprintf(
				"this virtual cluster's pods run only on nodes with %s=%s (isolation.nodeSelector)", k, want)))
		}
	}
	return errs
}

// allows reports whether a tenant toleration t is within the policy.
func (p PlacementPolicy) allows(t corev1.Toleration) bool {
	if t.Effect == corev1.TaintEffectPreferNoSchedule {
		return true
	}
	if t.Key != "" && slices.Contains(NodeConditionTaintKeys, t.Key) {
		return true
	}
	for _, grants := range [][]corev1.Toleration{p.Tolerations, p.AllowedTolerations} {
		for _, g := range grants {
			if covers(g, t) {
				return true
			}
		}
	}
	return false
}

// covers reports whether granted tolerates every taint that t tolerates.
func covers(granted, t corev1.Toleration) bool {
	if granted.Effect != "" && granted.Effect != t.Effect {
		return false // t tolerates an effect (or all of them, when empty) that granted does not
	}
	if granted.Key == "" {
		return granted.Operator == corev1.TolerationOpExists // every key and value
	}
	if granted.Key != t.Key {
		return false
	}
	if granted.Operator == corev1.TolerationOpExists {
		return true
	}
	op := func(o corev1.TolerationOperator) corev1.TolerationOperator {
		if o == "" {
			return corev1.TolerationOpEqual
		}
		return o
	}
	return op(granted.Operator) == op(t.Operator) && granted.Value == t.Value
}

// DescribeToleration says which taints t tolerates, for messages: "toleration
// of nvidia.com/gpu (any value, any effect)".
func DescribeToleration(t corev1.Toleration) string {
	key := t.Key
	if key == "" {
		key = "every taint"
	}
	value := "any value"
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
		if t.Key != "" {
			value = "value " + strconv.Quote(t.Value)
		}
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		value = fmt.Sprintf("value %s %s", t.Operator, t.Value)
	}
	effect := "any effect"
	if t.Effect != "" {
		effect = "effect " + string(t.Effect)
	}
	return fmt.Sprintf("toleration of %s (%s, %s)", key, value, effect)
}

// NodeAdmits returns why node cannot run a pod with these tolerations on a
// host where the virtual cluster is confined to selector, or nil. It is the
// check for a pod that names its node (spec.nodeName, kept when the virtual
// cluster runs its own scheduler): such a pod skips the host scheduler, and so
// its node selector and every NoSchedule taint, which this check stands in
// for.
func NodeAdmits(node *corev1.Node, tolerations []corev1.Toleration, selector map[string]string) error {
	if len(selector) > 0 && !labels.SelectorFromSet(selector).Matches(labels.Set(node.Labels)) {
		return fmt.Errorf("node %s is outside this virtual cluster's nodes (isolation.nodeSelector %s)", node.Name, labels.Set(selector))
	}
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(tolerations, func(t corev1.Toleration) bool { return tolerates(t, taint) }) {
			return fmt.Errorf("node %s has taint %s, which the pod does not tolerate", node.Name, taint.ToString())
		}
	}
	return nil
}

// tolerates reports whether t tolerates taint, as the scheduler decides it
// (corev1.Toleration.ToleratesTaint, with the numeric operators Lt and Gt).
func tolerates(t corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpEqual, "":
		return t.Value == taint.Value
	case corev1.TolerationOpLt, corev1.TolerationOpGt:
		tv, err1 := strconv.ParseInt(t.Value, 10, 64)
		nv, err2 := strconv.ParseInt(taint.Value, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if t.Operator == corev1.TolerationOpLt {
			return nv < tv
		}
		return nv > tv
	}
	return false
}
