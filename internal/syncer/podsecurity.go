package syncer

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// podSecurity is the evaluator of the Pod Security Standards, the upstream code
// that the API server's PodSecurity admission runs, made once.
var podSecurity = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// checkPodSecurity evaluates the host pod of a virtual pod against the tenant's
// spec.isolation.podSecurityStandard, as the host's Pod Security Admission would,
// and returns why it is refused, or "". The syncer judges it itself, so that the
// tenant hears the standard's own words as a Warning event rather than the host's
// error, and so that a host namespace labelled more leniently, or a host without
// Pod Security Admission, does not let more through than the tenant's standard.
func (s *Syncer) checkPodSecurity(host *corev1.Pod) (string, error) {
	return PodSecurityViolation(s.vc.Spec.Isolation.PodSecurityStandard, host)
}

// PodSecurityViolation evaluates pod against the Pod Security Standard named by
// standard (privileged, baseline, restricted) at the latest policy version with
// the upstream checks, and returns why it is refused, in the standard's words, or
// "" when it is allowed.
func PodSecurityViolation(standard v1alpha1.PodSecurityStandard, pod *corev1.Pod) (string, error) {
	level, err := psapi.ParseLevel(string(standard))
	if err != nil {
		return "", fmt.Errorf("spec.isolation.podSecurityStandard: %w", err)
	}
	if level == psapi.LevelPrivileged {
		return "", nil
	}
	evaluator, err := podSecurity()
	if err != nil {
		return "", err
	}
	result := policy.AggregateCheckResults(evaluator.EvaluatePod(
		psapi.LevelVersion{Level: level, Version: psapi.LatestVersion()}, &pod.ObjectMeta, &pod.Spec))
	if result.Allowed {
		return "", nil
	}
	return fmt.Sprintf("violates PodSecurity %q (spec.isolation.podSecurityStandard): %s", level, result.ForbiddenDetail()), nil
}
