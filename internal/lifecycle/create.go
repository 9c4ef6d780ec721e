package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/internal/config"
	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// DefaultTimeout is how long create waits for a control plane to be ready.
// A process-driven one is ready in 5–10 s; a pod may first pull an image.
const DefaultTimeout = 3 * time.Minute

// CreateOptions are the inputs of [Create].
type CreateOptions struct {
	// Name is the virtual cluster's name; it must match the file's
	// metadata.name when both are given.
	Name string
	// Namespace is the host namespace. Default: the file's, else vc-NAME.
	Namespace string
	// File is a VirtualCluster document, "-" for standard input.
	File string
	// In is read when File is "-".
	In io.Reader
	// Driver overrides spec.controlPlane.driver. Default: the file's, else
	// "process" on kubicle's embedded host (its simulated nodes run no
	// containers) and "pod" on any other host.
	Driver string
	// Connect makes the new context the current one.
	Connect bool
	// Upgrade applies the config to an existing virtual cluster (and creates
	// it when missing) instead of refusing.
	Upgrade bool
	// NoWait returns once the host objects are applied, without waiting for
	// the control plane (driver "pod" only).
	NoWait bool
	// Timeout bounds the wait for the control plane. Default: DefaultTimeout.
	Timeout time.Duration
	// Executable is the kubicle binary that runs a process-driven control
	// plane. Default: this one.
	Executable string
	// ErrOut receives progress.
	ErrOut io.Writer
}

// Create creates virtual cluster o.Name on host h, or with o.Upgrade brings
// an existing one up to date; see the package documentation. When a new
// virtual cluster fails to start, everything created for it is removed again.
func Create(ctx context.Context, h *Host, o CreateOptions) error {
	p := newProgress(o.ErrOut)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	vc, autoDriver, err := buildVirtualCluster(ctx, h, o)
	if err != nil {
		return err
	}
	r := deploy.RefOf(vc)
	paths := PathsFor(StateDir(), h.Context, r.Namespace, r.Name)
	unlock, err := paths.lock(p)
	if err != nil {
		return err
	}
	defer unlock()

	existing, err := getRecord(ctx, h, r)
	if err != nil {
		return err
	}
	if existing != nil && existing.Operator {
		return managedByOperatorError(r, "change")
	}
	vc, driverNote, err := keepDriver(ctx, h, o, vc, autoDriver, existing)
	if err != nil {
		return err
	}
	c := &creation{h: h, o: o, p: p, vc: vc, r: r, paths: paths, hadState: paths.Exists()}
	c.d = driverFor(driverEnv{h: h, p: p, paths: paths, executable: o.Executable}, vc)
	if err := c.checkExisting(existing); err != nil {
		return err
	}
	fresh := existing == nil
	verb := "Creating"
	if !fresh {
		verb = "Upgrading"
	}
	p.line("%s virtual cluster %q in host namespace %q on %s (context %q), driver %s%s", verb, r.Name, r.Namespace, h.Server, h.Context, vc.Spec.ControlPlane.Driver, driverNote)

	if err := c.prepare(ctx); err != nil {
		return err
	}
	if err := c.run(ctx); err != nil {
		if fresh {
			c.cleanup(ctx)
		}
		return err
	}
	return nil
}

// keepDriver makes an upgrade that names no driver keep the driver the
// virtual cluster has, and explains a driver chosen for a new one.
func keepDriver(ctx context.Context, h *Host, o CreateOptions, vc *v1alpha1.VirtualCluster, auto bool, existing *record) (*v1alpha1.VirtualCluster, string, error) {
	if !auto {
		return vc, "", nil
	}
	if existing == nil {
		return vc, driverFor(driverEnv{h: h}, vc).defaultReason(), nil
	}
	if existing.VC.Spec.ControlPlane.Driver == vc.Spec.ControlPlane.Driver {
		return vc, "", nil
	}
	o.Driver = string(existing.VC.Spec.ControlPlane.Driver)
	vc, _, err := buildVirtualCluster(ctx, h, o)
	return vc, "", err
}

// checkExisting refuses what Create must not do given what exists: create a
// cluster twice, or change its driver; and asks the driver what it refuses
// (a process that runs elsewhere, local state the host no longer knows).
func (c *creation) checkExisting(existing *record) error {
	h, o, r, driver := c.h, c.o, c.r, c.vc.Spec.ControlPlane.Driver
	switch {
	case existing != nil && !o.Upgrade:
		return fmt.Errorf("virtual cluster %q already exists in host namespace %q (context %q); use --upgrade to apply a changed config, or `kubicle delete %s -n %s` first",
			r.Name, r.Namespace, h.Context, r.Name, r.Namespace)
	case existing != nil && existing.VC.Spec.ControlPlane.Driver != driver:
		return fmt.Errorf("spec.controlPlane.driver: virtual cluster %s runs with driver %q; changing it to %q needs `kubicle delete` and a new `kubicle create`",
			r, existing.VC.Spec.ControlPlane.Driver, driver)
	}
	return c.d.adopt(existing)
}

// creation is one run of Create (or of the operator's [Apply]) after its
// checks.
type creation struct {
	h  *Host
	o  CreateOptions
	p  *progress
	vc *v1alpha1.VirtualCluster
	r  deploy.Ref
	d  driver
	// paths is the local state that the command holds the lock of, and
	// hadState whether it existed before the command: cleanup removes only
	// local state that the command created.
	paths    Paths
	hadState bool
	// image is the control plane image for driver "pod" when the config
	// names none (deploy.RenderOptions.Image).
	image string

	// Set by prepare.
	ns   nsPlan
	objs []deploy.Object
}

// prepare runs the checks that come before any change on the host, and
// renders the host objects: the host namespace may hold the virtual
// cluster, the driver's checks pass (a database answers), and no object
// kubicle would write belongs to someone else.
func (c *creation) prepare(ctx context.Context) error {
	var err error
	if c.ns, err = planNamespace(ctx, c.h, c.r); err != nil {
		return err
	}
	opts := deploy.RenderOptions{Image: c.image}
	if err := c.d.prepare(ctx, &opts); err != nil {
		return err
	}
	if c.objs, err = deploy.Render(c.vc, opts); err != nil {
		return err
	}
	return checkOwnership(ctx, c.h.Dynamic, c.r, c.objs[1:])
}

// run applies the host objects, records the virtual cluster, starts its
// control plane, waits for it and gives the user its context.
func (c *creation) run(ctx context.Context) error {
	if err := c.applyObjects(ctx); err != nil {
		return err
	}
	c.vc.Status = v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseStarting}
	if err := c.writeRecord(ctx); err != nil {
		return err
	}
	if _, err := c.d.start(ctx); err != nil {
		return err
	}
	ready, err := c.d.wait(ctx, c.o.Timeout, c.o.NoWait)
	if err != nil || ready == nil {
		return err
	}
	if err := c.d.export(ctx, ready.endpoint); err != nil {
		return err
	}
	c.vc.Status = v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseRunning, Endpoint: ready.endpoint, KubernetesVersion: ready.version}
	if err := c.writeRecord(ctx); err != nil {
		return err
	}
	ctxName := ContextName(c.r.Name, c.r.Namespace, c.h.Context)
	userCfg, err := c.d.readyKubeconfig(ctx, ctxName, c.o.Timeout)
	if err != nil || userCfg == nil {
		return err
	}
	return c.publishContext(userCfg, ctxName)
}

// applyObjects applies the rendered objects: the namespace first, as
// planned, then the rest.
func (c *creation) applyObjects(ctx context.Context) error {
	h, p, vc, r, objs := c.h, c.p, c.vc, c.r, c.objs
	switch {
	case !c.ns.exists:
		if err := apply(ctx, h.Dynamic, objs[0], true); err != nil {
			return err
		}
		p.done("Created host namespace %s", r.Namespace)
	case c.ns.ours:
		if err := apply(ctx, h.Dynamic, objs[0], true); err != nil {
			return err
		}
	default:
		if err := applyPodSecurityLabels(ctx, h, vc); err != nil {
			return err
		}
		p.done("Using existing host namespace %s (it stays when the virtual cluster is deleted)", r.Namespace)
	}
	var names []string
	for _, obj := range objs[1:] {
		if err := apply(ctx, h.Dynamic, obj, true); err != nil {
			return err
		}
		names = append(names, obj.GetObjectKind().GroupVersionKind().Kind+" "+obj.GetName())
	}
	p.done("Applied %d host objects: %s", len(names), strings.Join(names, ", "))
	return nil
}

// writeRecord applies the record of the virtual cluster with its current
// status, and where its control plane runs.
func (c *creation) writeRecord(ctx context.Context) error {
	loc := c.d.location()
	cm, err := recordObject(c.vc, loc[AnnotationMachine], loc[AnnotationStateDir])
	if err != nil {
		return err
	}
	return apply(ctx, c.h.Dynamic, cm, true)
}

// cleanup removes what a failed create made: the control plane, every host
// object of the virtual cluster, the namespace when kubicle created it
// (kubicle's labels on it otherwise), and the local state. It runs even
// when ctx was cancelled (Ctrl-C), with a bounded context of its own.
func (c *creation) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	c.p.step("Cleaning up what this command created")
	if err := c.d.delete(ctx); err != nil {
		c.p.warn("%v", err)
	}
	ownNamespace := !c.ns.exists || c.ns.ours
	if err := deleteOwned(ctx, c.h.Dynamic, c.r, ownNamespace, time.Minute, c.p); err != nil {
		c.p.warn("%v", err)
	}
	if !ownNamespace {
		if err := releaseNamespace(ctx, c.h, c.r.Namespace); err != nil {
			c.p.warn("%v", err)
		}
	}
	if !c.hadState && c.paths.Exists() {
		if err := c.paths.remove(); err != nil {
			c.p.warn("%v", err)
		}
	}
}

// buildVirtualCluster loads the VirtualCluster from o.File or from the
// flags, with the name, namespace and driver of the flags put in, and
// defaults and validates it with the loader `kubicle control-plane --config`
// uses, so that every problem is reported with its field path.
func buildVirtualCluster(ctx context.Context, h *Host, o CreateOptions) (vc *v1alpha1.VirtualCluster, autoDriver bool, err error) {
	var doc map[string]any
	source := "flags"
	if o.File != "" {
		var data []byte
		if o.File == "-" {
			source = "standard input"
			if o.In == nil {
				return nil, false, errors.New("-f -: no standard input")
			}
			data, err = io.ReadAll(o.In)
		} else {
			source = o.File
			data, err = os.ReadFile(o.File)
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading %s: %w", source, err)
		}
		j, err := yaml.YAMLToJSONStrict(data)
		if err == nil {
			err = json.Unmarshal(j, &doc)
		}
		if err != nil || doc == nil {
			// Not an object: the loader says precisely what is wrong.
			_, lerr := config.Load(data)
			if lerr == nil {
				lerr = err
			}
			return nil, false, fmt.Errorf("loading %s: %w", source, lerr)
		}
	} else {
		doc = map[string]any{"apiVersion": v1alpha1.SchemeGroupVersion.String(), "kind": v1alpha1.VirtualClusterKind}
	}

	meta := object(doc, "metadata")
	if o.Name != "" {
		if got, ok := meta["name"].(string); ok && got != "" && got != o.Name {
			return nil, false, fmt.Errorf("the name %q does not match metadata.name %q in %s", o.Name, got, source)
		}
		meta["name"] = o.Name
	}
	if o.Namespace != "" {
		if got, ok := meta["namespace"].(string); ok && got != "" && got != o.Namespace {
			return nil, false, fmt.Errorf("-n %q does not match metadata.namespace %q in %s", o.Namespace, got, source)
		}
		meta["namespace"] = o.Namespace
	}
	cp := object(object(doc, "spec"), "controlPlane")
	switch {
	case o.Driver != "":
		cp["driver"] = o.Driver
	case cp["driver"] == nil || cp["driver"] == "":
		autoDriver = true
		cp["driver"] = string(defaultDriver(ctx, h))
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, false, err
	}
	if vc, err = config.Load(data); err != nil {
		if o.File == "" {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("loading %s: %w", source, err)
	}
	return vc, autoDriver, nil
}

// object returns m[key] as an object, putting an empty one there when it is
// missing or not an object (the loader then reports nothing wrong with a
// field the flags set, and the file's other problems as they are).
func object(m map[string]any, key string) map[string]any {
	if o, ok := m[key].(map[string]any); ok {
		return o
	}
	if m[key] != nil {
		// A wrong type: leave it for the loader to report.
		return map[string]any{}
	}
	o := map[string]any{}
	m[key] = o
	return o
}

// publishContext adds the virtual cluster's context to the user's kubeconfig (made
// current with --connect) and tells the user how to use it.
func (c *creation) publishContext(userCfg *clientcmdapi.Config, ctxName string) error {
	p, r := c.p, c.r
	if err := kubeconfig.Merge(c.h.UserKubeconfig, userCfg, ctxName, c.o.Connect); err != nil {
		return err
	}
	if c.o.Connect {
		p.done("Added context %q to %s and made it current", ctxName, c.h.UserKubeconfig)
		p.line("Virtual cluster %q is ready. Try:\n  kubectl get namespaces", r.Name)
	} else {
		p.done("Added context %q to %s", ctxName, c.h.UserKubeconfig)
		p.line("Virtual cluster %q is ready. Try:\n  kubectl --context %s get namespaces", r.Name, ctxName)
	}
	return nil
}
