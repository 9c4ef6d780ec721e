package lifecycle

import (
	"context"
	"errors"
	"io"
	"strings"

	"k8s.io/client-go/rest"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// The functions in this file are the steps of `kubicle create` and `kubicle
// delete` for a caller that holds a VirtualCluster object and no terminal:
// `kubicle operator`. None of them waits for a control plane; each returns
// what it found so that a controller can requeue instead. They record
// nothing on the host (the VirtualCluster object is the record) and touch no
// user kubeconfig.

// NewHost returns the host that cfg reaches, with its clients, after
// checking that it answers. name stands for the host where the CLI uses a
// kubeconfig context name: in the local state paths of process-driven
// control planes (see [PathsFor]). The operator passes its kubeconfig
// context, or "in-cluster".
func NewHost(ctx context.Context, cfg *rest.Config, name string) (*Host, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	cfg.WarningHandler = rest.NoWarnings{}
	h := &Host{Context: name, Server: cfg.Host, Config: cfg}
	if err := h.Check(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// ApplyOptions are the inputs of [Apply] besides the VirtualCluster.
type ApplyOptions struct {
	// Executable is the kubicle binary that runs a process-driven control
	// plane. Default: this one.
	Executable string
	// Image is the control plane image of driver "pod" when
	// spec.controlPlane.image names none. Default: deploy.DefaultImage.
	Image string
	// Log receives one line per step, as the CLI prints them. Default:
	// nowhere.
	Log io.Writer
}

// Applied says what [Apply] did.
type Applied struct {
	// Started is true when Apply started the control plane, or restarted it
	// because what it starts with changed (driver "process"); false when it
	// kept the one running, or when applying the host objects is what
	// starts it (driver "pod").
	Started bool
	// Location holds the annotations that say where the control plane runs
	// ([LocationAnnotations]), for the VirtualCluster object; nil when it
	// runs on the host (driver "pod"), whose objects say so.
	Location map[string]string
}

// Apply brings the host objects of vc up to date and makes sure that its
// control plane runs, the way `kubicle create --upgrade` does, without
// waiting for the control plane to be ready (see [Check]): it checks the
// host namespace, the database of a database store and the ownership of
// every object it would write; applies the objects of deploy.Render with
// server-side apply; and for driver "process" starts the local control
// plane process, or restarts it when its config, arguments or DSN changed
// or its host token is due for renewal. vc must be valid; it is defaulted
// on a copy.
func Apply(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster, o ApplyOptions) (*Applied, error) {
	vc = defaulted(vc)
	if err := validate(vc); err != nil {
		return nil, err
	}
	r := deploy.RefOf(vc)
	p := newProgress(o.Log)
	paths := PathsFor(StateDir(), h.Context, r.Namespace, r.Name)
	unlock, err := paths.lock(p)
	if err != nil {
		return nil, err
	}
	defer unlock()

	d := driverFor(driverEnv{h: h, p: p, paths: paths, executable: o.Executable}, vc)
	c := &creation{h: h, p: p, vc: vc, r: r, d: d, paths: paths, image: o.Image}
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	if err := c.applyObjects(ctx); err != nil {
		return nil, err
	}
	started, err := d.start(ctx)
	if err != nil {
		return nil, err
	}
	return &Applied{Started: started, Location: d.location()}, nil
}

// Readiness is what [Check] observed of a control plane.
type Readiness struct {
	// Ready is true when the virtual API server answers /readyz (driver
	// "process") or every replica of the StatefulSet is ready (driver
	// "pod").
	Ready bool
	// Stopped is true when a process-driven control plane does not run at
	// all: waiting will not make it ready, [Apply] must start it.
	Stopped bool
	// Reason says why the control plane is not ready.
	Reason string
	// Endpoint is the virtual API server's URL.
	Endpoint string
	// KubernetesVersion is the version the virtual API server reports
	// (driver "process"), or spec.controlPlane.version (driver "pod").
	KubernetesVersion string
	// PID is the process id of a process-driven control plane.
	PID int
	// Where says where the control plane runs, for a status message
	// ("process 1234 on laptop"); "" when it runs on the host.
	Where string
	// Watched is true when the host reports every change of the control
	// plane (its StatefulSet, driver "pod"), so that a controller that
	// watches it needs to look again only as a backstop; false when only
	// looking again notices a change (a process).
	Watched bool
}

// Check observes the control plane of vc once, without waiting: the local
// process and its /readyz for driver "process", the StatefulSet for driver
// "pod". A process that does not run is reported with the last lines of its
// log, database passwords hidden.
func Check(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) Readiness {
	vc = defaulted(vc)
	r := deploy.RefOf(vc)
	paths := PathsFor(StateDir(), h.Context, r.Namespace, r.Name)
	return driverFor(driverEnv{h: h, p: newProgress(nil), paths: paths}, vc).check(ctx)
}

// Export writes the kubeconfig Secret of spec.exportKubeConfig for a
// process-driven control plane that [Check] found ready at endpoint, or
// deletes one written before when the export is off. A pod-driven control
// plane writes its Secret itself; Export does nothing for it.
func Export(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster, endpoint string, log io.Writer) error {
	vc = defaulted(vc)
	r := deploy.RefOf(vc)
	paths := PathsFor(StateDir(), h.Context, r.Namespace, r.Name)
	return driverFor(driverEnv{h: h, p: newProgress(log), paths: paths}, vc).export(ctx, endpoint)
}

// TeardownOptions are the inputs of [Teardown].
type TeardownOptions struct {
	// StateDir is the local state of a process-driven control plane, when
	// it is not where [PathsFor] puts it (a state directory recorded by an
	// earlier run). Default: PathsFor(StateDir(), …).
	StateDir string
	// Log receives one line per step. Default: nowhere.
	Log io.Writer
}

// Teardown removes virtual cluster r the way `kubicle delete` does, without
// waiting: it stops the control plane that runs (a local process; see
// [RunningDriver]), asks the host to delete every host object labelled for
// r in deploy.DeletionOrder (the namespace only when kubicle created it),
// and returns the objects that are still there. Once none is left it
// removes kubicle's labels from a namespace it did not create and the local
// state, and returns none. Call it again until it returns none.
func Teardown(ctx context.Context, h *Host, r deploy.Ref, o TeardownOptions) (left []string, err error) {
	p := newProgress(o.Log)
	paths := PathsFor(StateDir(), h.Context, r.Namespace, r.Name)
	if o.StateDir != "" {
		paths = Paths{o.StateDir}
	}
	unlock, err := paths.lock(p)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if err := stopRunning(ctx, driverEnv{h: h, p: p, paths: paths}, r); err != nil {
		return nil, err
	}
	owned, err := listOwned(ctx, h.Dynamic, r)
	if err != nil {
		return nil, err
	}
	ownNamespace := false
	for _, o := range owned {
		ownNamespace = ownNamespace || o.Kind.Kind == "Namespace"
	}
	nsDeleted, err := deleteObjects(ctx, h.Dynamic, r, ownNamespace, p)
	if err != nil {
		return nil, err
	}
	if left, err = remaining(ctx, h.Dynamic, r, nsDeleted); err != nil || len(left) > 0 {
		return left, err
	}
	if err := releaseNamespace(ctx, h, r.Namespace); err != nil {
		return nil, err
	}
	if paths.Exists() {
		if err := paths.remove(); err != nil {
			return nil, err
		}
		p.done("Removed local state %s", paths.Dir())
	}
	return nil, nil
}

// defaulted returns a defaulted copy of vc.
func defaulted(vc *v1alpha1.VirtualCluster) *v1alpha1.VirtualCluster {
	vc = vc.DeepCopy()
	v1alpha1.Default(vc)
	return vc
}

// validate returns v1alpha1.Validate's problems as one error, each with its
// field path.
func validate(vc *v1alpha1.VirtualCluster) error {
	errs := v1alpha1.Validate(vc)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New("invalid VirtualCluster: " + strings.Join(msgs, "; "))
}

// RunningDriver reports which driver runs virtual cluster r's control plane
// now: "process" when its local state exists (in stateDir when given, else
// where [PathsFor] puts it), "pod" when its StatefulSet exists, "" when
// neither does. The driver of a virtual cluster cannot change in place (the
// store would stay behind with the old control plane), so a caller refuses a
// spec that names another one, as `kubicle create --upgrade` does.
func RunningDriver(ctx context.Context, h *Host, r deploy.Ref, stateDir string) (v1alpha1.ControlPlaneDriver, error) {
	paths := PathsFor(StateDir(), h.Context, r.Namespace, r.Name)
	if stateDir != "" {
		paths = Paths{stateDir}
	}
	d, err := runningDriver(ctx, driverEnv{h: h, p: newProgress(nil), paths: paths}, r)
	if err != nil || d == nil {
		return "", err
	}
	return d.name(), nil
}
