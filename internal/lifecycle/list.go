package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Status values of [Info.Status]: the phases of v1alpha1 that the CLI can
// observe, and Unknown for a process-driven control plane on another
// machine, whose process this machine cannot see.
const (
	StatusRunning  = string(v1alpha1.PhaseRunning)
	StatusStarting = string(v1alpha1.PhaseStarting)
	StatusSleeping = string(v1alpha1.PhaseSleeping)
	StatusFailed   = string(v1alpha1.PhaseFailed)
	StatusUnknown  = "Unknown"
)

// Info describes one virtual cluster, as `kubicle list` shows it.
type Info struct {
	// Name is the virtual cluster's name.
	Name string `json:"name"`
	// HostNamespace is its host namespace.
	HostNamespace string `json:"hostNamespace"`
	// Status is Running, Starting, Sleeping, Failed or Unknown.
	Status string `json:"status"`
	// Reason says why the status is not Running.
	Reason string `json:"reason,omitempty"`
	// Driver is "process" or "pod".
	Driver string `json:"driver"`
	// BackingStore is the backing store's type.
	BackingStore string `json:"backingStore"`
	// KubernetesVersion is the version the virtual API server reports.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Created is when the virtual cluster was created.
	Created time.Time `json:"created"`
	// Context is its context in the user's kubeconfig.
	Context string `json:"context"`
	// Endpoint is the virtual API server's URL.
	Endpoint string `json:"endpoint,omitempty"`
	// Machine runs a process-driven control plane.
	Machine string `json:"machine,omitempty"`
	// PID is the process id of a control plane that runs on this machine.
	PID int `json:"pid,omitempty"`
	// ManagedBy is "kubicle" for a virtual cluster created by `kubicle
	// create`, "operator" for one that `kubicle operator` manages from a
	// VirtualCluster object.
	ManagedBy string `json:"managedBy"`
}

// List returns the virtual clusters on host h, in namespace when it is not
// empty, sorted by namespace and name. Records that cannot be read are
// reported on warn.
func List(ctx context.Context, h *Host, namespace string, warn io.Writer) ([]Info, error) {
	recs, err := listRecords(ctx, h, namespace, "", func(err error) {
		if warn != nil {
			fmt.Fprintf(warn, "Warning: %v\n", err)
		}
	})
	if err != nil {
		return nil, err
	}
	infos := make([]Info, 0, len(recs))
	for _, rec := range recs {
		infos = append(infos, info(ctx, h, rec, driverFor(recordedEnv(h, rec, newProgress(nil)), rec.VC)))
	}
	slices.SortFunc(infos, func(a, b Info) int {
		return strings.Compare(a.HostNamespace+"/"+a.Name, b.HostNamespace+"/"+b.Name)
	})
	return infos, nil
}

// info observes the state of one recorded virtual cluster, whose control
// plane d runs.
func info(ctx context.Context, h *Host, rec *record, d driver) Info {
	vc := rec.VC
	in := Info{
		Name:              vc.Name,
		HostNamespace:     vc.Namespace,
		Driver:            string(vc.Spec.ControlPlane.Driver),
		BackingStore:      string(vc.Spec.ControlPlane.BackingStore.Type),
		KubernetesVersion: vc.Status.KubernetesVersion,
		Created:           rec.Created.UTC(),
		Context:           ContextName(vc.Name, vc.Namespace, h.Context),
		Endpoint:          vc.Status.Endpoint,
		Machine:           rec.Machine,
		ManagedBy:         rec.managedBy(),
	}
	if in.KubernetesVersion == "" {
		in.KubernetesVersion = vc.Spec.ControlPlane.Version
	}
	if vc.Status.Phase == v1alpha1.PhaseSleeping {
		in.Status = StatusSleeping
		return in
	}
	if rec.Operator && d.localKubeconfig() == "" {
		// What the operator observed: it sees the control plane, this
		// machine may not, and a spec it refused has no host objects to
		// look at. A process on this machine is seen better from here.
		in.Status, in.Reason = operatorStatus(vc)
		return in
	}
	in.Status, in.Reason, in.PID = d.status(ctx)
	return in
}

// operatorStatus is the status of an operator-managed virtual cluster as
// its VirtualCluster object's status says: the phase, and the message of
// the Ready condition when it is not Running.
func operatorStatus(vc *v1alpha1.VirtualCluster) (status, reason string) {
	phase := vc.Status.Phase
	if phase == "" {
		return string(v1alpha1.PhasePending), "kubicle operator has not reconciled it yet (is the operator running?)"
	}
	if phase == v1alpha1.PhaseRunning {
		return StatusRunning, ""
	}
	if c := meta.FindStatusCondition(vc.Status.Conditions, v1alpha1.ConditionReady); c != nil {
		reason = c.Reason + ": " + c.Message
	}
	return string(phase), reason
}

// Output formats of [PrintList].
const (
	OutputTable = "table"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
)

// PrintList writes infos to w as a table, JSON or YAML (a list of Info).
// An empty table is only a note on errOut, as with kubectl.
func PrintList(w, errOut io.Writer, infos []Info, format string, now time.Time) error {
	if infos == nil {
		infos = []Info{}
	}
	switch format {
	case "", OutputTable:
		if len(infos) == 0 {
			_, err := fmt.Fprintln(errOut, "No virtual clusters found")
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "NAME\tHOST NAMESPACE\tSTATUS\tDRIVER\tBACKING STORE\tKUBERNETES VERSION\tMANAGED BY\tAGE\tCREATED")
		for _, in := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.HostNamespace, in.Status, in.Driver, in.BackingStore,
				orDash(in.KubernetesVersion), orDash(in.ManagedBy), duration.HumanDuration(now.Sub(in.Created)), in.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	case OutputYAML:
		data, err := yaml.Marshal(infos)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("-o %q: must be table, json or yaml", format)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
