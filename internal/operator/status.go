package operator

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Reasons of the conditions the operator writes (CamelCase, as
// metav1.Condition asks).
const (
	// ReasonInvalidConfig: the spec fails validation; the message lists
	// every problem with its field path. Nothing is applied to the host.
	ReasonInvalidConfig = "InvalidConfig"
	// ReasonValid: the spec passed validation.
	ReasonValid = "Valid"
	// ReasonManagedByCLI: `kubicle create` made this virtual cluster (its
	// record ConfigMap exists); the operator leaves it alone.
	ReasonManagedByCLI = "ManagedByCLI"
	// ReasonApplyFailed: the host objects could not be applied or the
	// control plane could not be started; the message says why, and the
	// operator retries with backoff.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonStarting: the control plane runs and is not ready yet.
	ReasonStarting = "Starting"
	// ReasonControlPlaneStopped: the control plane process exited; the
	// message quotes its log, and the operator starts it again with
	// backoff.
	ReasonControlPlaneStopped = "ControlPlaneStopped"
	// ReasonRunning: the virtual API server is ready.
	ReasonRunning = "Running"
	// ReasonDeleting: the resource is being deleted and the operator is
	// removing its control plane and host objects.
	ReasonDeleting = "Deleting"
)

// maxMessage bounds a condition message (the API allows 32768 bytes); log
// excerpts are the long ones.
const maxMessage = 4096

// outcome is what one reconcile found, from which the status follows.
type outcome struct {
	// phase is the status phase.
	phase v1alpha1.VirtualClusterPhase
	// reason and message go into the Ready condition, and into the
	// condition of the step that failed.
	reason, message string
	// endpoint and version are the control plane's, when known.
	endpoint, version string
}

// nextStatus returns the status that outcome o of generation gen gives a
// virtual cluster whose status was old. Conditions keep their
// lastTransitionTime when their status does not change; now stamps the
// ones that do.
func nextStatus(old v1alpha1.VirtualClusterStatus, gen int64, o outcome, now metav1.Time) v1alpha1.VirtualClusterStatus {
	st := *old.DeepCopy()
	st.Phase = o.phase
	st.ObservedGeneration = gen
	if o.endpoint != "" {
		st.Endpoint = o.endpoint
	}
	if o.version != "" {
		st.KubernetesVersion = o.version
	}
	msg := o.message
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	set := func(typ string, status metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: message,
			ObservedGeneration: gen, LastTransitionTime: now,
		})
	}

	if o.reason == ReasonInvalidConfig {
		set(v1alpha1.ConditionValid, metav1.ConditionFalse, ReasonInvalidConfig, msg)
	} else if o.reason != ReasonDeleting {
		set(v1alpha1.ConditionValid, metav1.ConditionTrue, ReasonValid, "the spec passed validation")
	}

	switch o.reason {
	case ReasonRunning:
		set(v1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, ReasonRunning, msg)
	case ReasonStarting, ReasonControlPlaneStopped, ReasonApplyFailed, ReasonDeleting:
		set(v1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, o.reason, msg)
	}

	ready := metav1.ConditionFalse
	if o.phase == v1alpha1.PhaseRunning {
		ready = metav1.ConditionTrue
	}
	set(v1alpha1.ConditionReady, ready, o.reason, msg)
	return st
}
