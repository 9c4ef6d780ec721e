package lifecycle

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// driver runs the control plane of one virtual cluster: as a local `kubicle
// control-plane` process that the CLI (or the operator) supervises
// ([processDriver], driver "process"), or as the StatefulSet that deploy
// renders on the host ([podDriver], driver "pod"). Create, Delete, Connect,
// Describe, List and the operator's steps call a driver and never ask which
// one it is; [driverFor] is the one place that tells them apart.
//
// A driver is bound to one virtual cluster on one host (see [driverEnv]).
// The host objects that every virtual cluster has (namespace, RBAC,
// guardrails, config Secret, the record) are the caller's; a driver adds
// what differs.
type driver interface {
	// name is the spec.controlPlane.driver value that selects the driver.
	name() v1alpha1.ControlPlaneDriver
	// defaultReason explains, as a suffix of Create's first line, why
	// Create chose this driver for a config that names none; "" when the
	// choice needs no explanation.
	defaultReason() string
	// found reports whether this driver's control plane of the virtual
	// cluster exists, from its traces alone (no record or spec needed):
	// local state for a process, the StatefulSet for a pod.
	found(ctx context.Context) (bool, error)

	// adopt checks, before any change, that Create may run this driver's
	// control plane given rec, the record of the existing virtual cluster
	// (nil for a new one), and takes over an existing one's state.
	adopt(rec *record) error
	// prepare runs the driver's checks that come before any change on the
	// host and puts what the driver needs into the render options (the
	// shared PKI of a pod-driven control plane).
	prepare(ctx context.Context, o *deploy.RenderOptions) error
	// location says where the control plane runs, as the annotations
	// [AnnotationMachine] and [AnnotationStateDir] for the record or the
	// VirtualCluster object; nil when it runs on the host, whose objects
	// say so.
	location() map[string]string

	// start makes the control plane run once its host objects are applied:
	// it starts (or restarts, when what it starts with changed) a process;
	// a pod-driven one was started by applying its StatefulSet. It reports
	// whether it started one.
	start(ctx context.Context) (started bool, err error)
	// wait waits up to timeout until the control plane serves, says so on
	// progress, and returns where it serves. With noWait a driver whose
	// control plane runs without kubicle returns nil at once.
	wait(ctx context.Context, timeout time.Duration, noWait bool) (*serving, error)
	// export writes the kubeconfig Secret of spec.exportKubeConfig for a
	// control plane that serves at endpoint, or deletes one written before
	// when the export is off, when kubicle writes it (a pod-driven control
	// plane writes its own).
	export(ctx context.Context, endpoint string) error
	// readyKubeconfig returns the kubeconfig that Create adds to the
	// user's under context name once the control plane serves, waiting up
	// to timeout for its credentials; nil, having said why on progress,
	// when this machine gets none.
	readyKubeconfig(ctx context.Context, name string, timeout time.Duration) (*clientcmdapi.Config, error)
	// connect returns a kubeconfig of the virtual cluster for this machine
	// under context name, for Connect, and the local port forward it works
	// through while Connect runs (nil when it needs none). portForward asks
	// for a forward where the driver can make one.
	connect(ctx context.Context, name string, portForward bool) (*clientcmdapi.Config, *forward, error)

	// check observes the control plane once, without waiting, for the
	// operator ([Check]).
	check(ctx context.Context) Readiness
	// status observes the control plane for List and Describe: one of the
	// Status values, why it is not Running, and the pid of a process on
	// this machine.
	status(ctx context.Context) (status, reason string, pid int)
	// localKubeconfig is the admin kubeconfig file of a control plane that
	// runs on this machine; "" when none does. List prefers its own
	// observation of such a control plane to the operator's, and Describe
	// counts the virtual cluster's objects through it.
	localKubeconfig() string
	// describe writes the driver's lines of Describe with field; in is
	// what status and the record said.
	describe(field func(key, format string, args ...any), in Info)

	// stop stops the control plane and keeps everything it needs to start
	// again: its store, its host objects, its local state.
	stop(ctx context.Context) error
	// delete stops the control plane for good before its host objects are
	// deleted: what the driver runs outside of them (a process) goes; the
	// local state stays for the caller to remove.
	delete(ctx context.Context) error
}

// serving is where a ready control plane serves.
type serving struct {
	// endpoint is the virtual API server's URL.
	endpoint string
	// version is the Kubernetes version it reports, or the one the spec
	// names when kubicle cannot ask.
	version string
}

// driverEnv is what a driver works with besides the virtual cluster.
type driverEnv struct {
	// h is the host.
	h *Host
	// p receives progress.
	p *progress
	// paths is the virtual cluster's local state on this machine.
	paths Paths
	// executable is the kubicle binary that runs a process-driven control
	// plane. Default: this one.
	executable string
	// machine is the machine that the record names as running a
	// process-driven control plane; "" when unknown.
	machine string
}

// recordedEnv is the driverEnv of the virtual cluster that rec records: its
// local state where [localPaths] finds it, and the machine rec names.
func recordedEnv(h *Host, rec *record, p *progress) driverEnv {
	return driverEnv{h: h, p: p, paths: localPaths(h, rec), machine: rec.Machine}
}

// driverFor returns the driver that runs the control plane of vc (defaulted
// and valid), as spec.controlPlane.driver names it. It is the only place
// that tells the drivers apart.
func driverFor(env driverEnv, vc *v1alpha1.VirtualCluster) driver {
	r := deploy.RefOf(vc)
	switch vc.Spec.ControlPlane.Driver {
	case v1alpha1.DriverProcess:
		return &processDriver{env: env, r: r, vc: vc}
	default:
		return &podDriver{env: env, r: r, vc: vc}
	}
}

// drivers returns every driver for virtual cluster r, without its spec, in
// the order [runningDriver] looks for their traces: local state first, as
// it is on this machine and costs no request.
func drivers(env driverEnv, r deploy.Ref) []driver {
	return []driver{&processDriver{env: env, r: r}, &podDriver{env: env, r: r}}
}

// runningDriver returns the driver whose control plane of virtual cluster r
// exists now, found by its traces ([driver.found]); nil when none does. A
// driver found this way knows r, the host and the local state, not the
// spec: it can stop or delete its control plane, not start one.
func runningDriver(ctx context.Context, env driverEnv, r deploy.Ref) (driver, error) {
	for _, d := range drivers(env, r) {
		ok, err := d.found(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			return d, nil
		}
	}
	return nil, nil
}

// simulatedNodeLabel marks the nodes of kubicle's embedded host
// (hostsim.SimulatedLabel; hostsim links the control plane, so it is not
// imported here).
const simulatedNodeLabel = "node.kubicle.dev/simulated"

// defaultDriver is the driver of a virtual cluster whose config and flags
// name none: "process" on kubicle's embedded host with simulated nodes only
// (they run no containers), "pod" on any other host.
func defaultDriver(ctx context.Context, h *Host) v1alpha1.ControlPlaneDriver {
	if embeddedHost(ctx, h) {
		return v1alpha1.DriverProcess
	}
	return v1alpha1.DriverPod
}

// embeddedHost reports whether h is kubicle's embedded host with simulated nodes
// only: every node carries simulatedNodeLabel, so no node runs a container and a
// control plane pod could not start. With real nodes (`host up --real-nodes`) the
// pod driver runs there as on any cluster.
func embeddedHost(ctx context.Context, h *Host) bool {
	nodes, err := h.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		return false
	}
	for _, n := range nodes.Items {
		if n.Labels[simulatedNodeLabel] != "true" {
			return false
		}
	}
	return true
}
