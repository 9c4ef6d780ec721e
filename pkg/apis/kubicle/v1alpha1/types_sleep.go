package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sleep puts an idle virtual cluster to sleep and wakes it again. A sleeping
// virtual cluster's control plane is scaled to zero and its synced pods are
// removed from the host; its objects are kept, and its pods come back on wake.
//
// Not supported yet: validation refuses afterInactivity, schedule and
// wakeOnRequest false.
type Sleep struct {
	// AfterInactivity puts the virtual cluster to sleep once no user request
	// has reached its API server for this long. Requests from the virtual
	// cluster's own controllers and syncer do not count. At least 1m.
	// Default: unset; the virtual cluster never sleeps for inactivity.
	AfterInactivity *metav1.Duration `json:"afterInactivity,omitempty"`

	// WakeOnRequest wakes a sleeping virtual cluster when a user sends it a
	// request; the request waits until the API server answers. False leaves
	// waking to schedule.wakeAt and `kubicle wake`.
	// Default: true.
	// +kubicle:default=true
	WakeOnRequest *bool `json:"wakeOnRequest,omitempty"`

	// Schedule puts the virtual cluster to sleep and wakes it at fixed times.
	// Default: none.
	Schedule *SleepSchedule `json:"schedule,omitempty"`
}

// SleepSchedule puts a virtual cluster to sleep and wakes it at fixed times,
// written as cron expressions: five fields (minute, hour, day of month, month,
// day of week) or a macro such as "@daily".
type SleepSchedule struct {
	// SleepAt is when the virtual cluster goes to sleep, such as
	// "0 20 * * 1-5" (8 pm on weekdays).
	// Default: none.
	SleepAt string `json:"sleepAt,omitempty"`

	// WakeAt is when the virtual cluster wakes, such as "0 7 * * 1-5".
	// Default: none.
	WakeAt string `json:"wakeAt,omitempty"`

	// TimeZone is the IANA time zone of sleepAt and wakeAt, such as
	// "Europe/Berlin".
	// Default: UTC, so that the schedule does not depend on the time zone of
	// the machine that runs kubicle.
	TimeZone string `json:"timeZone,omitempty"`
}

// KubeConfigSecretKey is the key of the exported kubeconfig in its Secret.
const KubeConfigSecretKey = "kubeconfig"

// ExportKubeConfig writes a kubeconfig for the virtual cluster to a Secret in
// the host namespace. The Secret lives in the host namespace and nowhere else:
// the control plane may touch only its own namespace.
type ExportKubeConfig struct {
	// Enabled writes the kubeconfig Secret. Anyone who can read Secrets in the
	// host namespace can then act as the virtual cluster's administrator.
	// Default: true.
	// +kubicle:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// SecretName is the name of the Secret; the kubeconfig is under the key
	// "kubeconfig".
	// Default: <name>-kubeconfig.
	SecretName string `json:"secretName,omitempty"`

	// Server is the API server URL written into the kubeconfig, an https URL.
	// Default: empty, meaning derived from controlPlane.expose once the address
	// is known.
	Server string `json:"server,omitempty"`

	// Context is the name of the kubeconfig's context, cluster and user.
	// Default: kubicle-<name> when the namespace is the default vc-<name>,
	// otherwise kubicle-<name>.<namespace>, so that contexts of different
	// virtual clusters never collide in a merged kubeconfig.
	Context string `json:"context,omitempty"`
}
