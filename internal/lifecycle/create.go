package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/internal/config"
	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// DefaultTimeout is how long create waits for a control plane to be ready.
// A process-driven one is ready in 5–10 s; a pod may first pull an image.
const DefaultTimeout = 3 * time.Minute

// hostTokenLifetime is how long the control plane's host token (driver
// "process") is valid. `kubicle create --upgrade` renews it once less than
// tokenRenewBefore is left.
const (
	hostTokenLifetime = 365 * 24 * time.Hour
	tokenRenewBefore  = 30 * 24 * time.Hour
)

// simulatedNodeLabel marks the nodes of kubicle's embedded host
// (hostsim.SimulatedLabel; hostsim links the control plane, so it is not
// imported here).
const simulatedNodeLabel = "node.kubicle.dev/simulated"

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
	if paths, err = checkExisting(h, o, r, vc, existing, paths, p); err != nil {
		return err
	}
	driver := vc.Spec.ControlPlane.Driver
	fresh := existing == nil
	verb := "Creating"
	if !fresh {
		verb = "Upgrading"
	}
	p.line("%s virtual cluster %q in host namespace %q on %s (context %q), driver %s%s", verb, r.Name, r.Namespace, h.Server, h.Context, driver, driverNote)

	c := &creation{h: h, o: o, p: p, vc: vc, r: r, paths: paths}
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
		if vc.Spec.ControlPlane.Driver == v1alpha1.DriverProcess {
			return vc, " (chosen because the host is kubicle's embedded host, whose simulated nodes run no containers; --driver chooses)", nil
		}
		return vc, "", nil
	}
	if existing.VC.Spec.ControlPlane.Driver == vc.Spec.ControlPlane.Driver {
		return vc, "", nil
	}
	o.Driver = string(existing.VC.Spec.ControlPlane.Driver)
	vc, _, err := buildVirtualCluster(ctx, h, o)
	return vc, "", err
}

// checkExisting refuses what Create must not do given what exists: create a
// cluster twice, change its driver, upgrade a process that runs elsewhere,
// or start over local state the host no longer knows. It returns where the
// local state is (an existing cluster's may be under another context name).
func checkExisting(h *Host, o CreateOptions, r deploy.Ref, vc *v1alpha1.VirtualCluster, existing *record, paths Paths, p *progress) (Paths, error) {
	driver := vc.Spec.ControlPlane.Driver
	switch {
	case existing != nil && !o.Upgrade:
		return paths, fmt.Errorf("virtual cluster %q already exists in host namespace %q (context %q); use --upgrade to apply a changed config, or `kubicle delete %s -n %s` first",
			r.Name, r.Namespace, h.Context, r.Name, r.Namespace)
	case existing != nil && existing.VC.Spec.ControlPlane.Driver != driver:
		return paths, fmt.Errorf("spec.controlPlane.driver: virtual cluster %s runs with driver %q; changing it to %q needs `kubicle delete` and a new `kubicle create`",
			r, existing.VC.Spec.ControlPlane.Driver, driver)
	case existing == nil && driver == v1alpha1.DriverProcess && paths.Exists():
		return paths, fmt.Errorf("the host has no virtual cluster %s, but local state for it exists in %s (left from a host that was reset?); run `kubicle delete %s -n %s` to remove it first",
			r, paths.Dir(), r.Name, r.Namespace)
	case existing == nil || driver != v1alpha1.DriverProcess:
		return paths, nil
	case existing.Machine != "" && existing.Machine != machineName():
		return paths, fmt.Errorf("virtual cluster %s runs as a process on machine %q, with its store there; upgrade it from that machine", r, existing.Machine)
	}
	paths = localPaths(h, existing)
	if !paths.Exists() {
		p.warn("No local state for %s in %s: its control plane starts again with an empty store", r, paths.Dir())
	}
	return paths, nil
}

// creation is one run of Create (or of the operator's [Apply]) after its
// checks.
type creation struct {
	h     *Host
	o     CreateOptions
	p     *progress
	vc    *v1alpha1.VirtualCluster
	r     deploy.Ref
	paths Paths
	// image is the control plane image for driver "pod" when the config
	// names none (deploy.RenderOptions.Image).
	image string

	// Set by prepare.
	dsn  string
	ns   nsPlan
	objs []deploy.Object
}

// prepare runs the checks that come before any change on the host, and
// renders the host objects: the host namespace may hold the virtual
// cluster, the database answers, and no object kubicle would write belongs
// to someone else.
func (c *creation) prepare(ctx context.Context) error {
	var err error
	if c.ns, err = planNamespace(ctx, c.h, c.r); err != nil {
		return err
	}
	if c.dsn, err = readDSN(ctx, c.h, c.vc); err != nil {
		return err
	}
	var pkiFiles map[string][]byte
	if c.vc.Spec.ControlPlane.Driver == v1alpha1.DriverPod {
		if pkiFiles, err = podPKI(ctx, c.h, c.vc); err != nil {
			return err
		}
	}
	if c.objs, err = deploy.Render(c.vc, deploy.RenderOptions{PKI: pkiFiles, Image: c.image}); err != nil {
		return err
	}
	return checkOwnership(ctx, c.h.Dynamic, c.r, c.objs[1:])
}

// run applies the host objects, records the virtual cluster and starts its
// control plane.
func (c *creation) run(ctx context.Context) error {
	if err := c.applyObjects(ctx); err != nil {
		return err
	}
	c.vc.Status = v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseStarting}
	if err := c.writeRecord(ctx); err != nil {
		return err
	}
	switch c.vc.Spec.ControlPlane.Driver {
	case v1alpha1.DriverProcess:
		return c.runProcess(ctx)
	default:
		return c.runPod(ctx)
	}
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
// status.
func (c *creation) writeRecord(ctx context.Context) error {
	machine, stateDir := "", ""
	if c.vc.Spec.ControlPlane.Driver == v1alpha1.DriverProcess {
		machine, stateDir = machineName(), c.paths.Dir()
	}
	cm, err := recordObject(c.vc, machine, stateDir)
	if err != nil {
		return err
	}
	return apply(ctx, c.h.Dynamic, cm, true)
}

// runProcess (re)starts the local control plane when needed, waits for it,
// and publishes its kubeconfig.
func (c *creation) runProcess(ctx context.Context) error {
	p, paths, r := c.p, c.paths, c.r
	exited, offset, err := c.ensureProcess(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.waitProcess(ctx, exited, offset); err != nil {
		return err
	}
	endpoint, version, err := virtualInfo(ctx, paths.AdminKubeconfig())
	if err != nil {
		return err
	}
	p.done("Virtual API server ready at %s (%s)", endpoint, time.Since(start).Round(100*time.Millisecond))

	if err := c.exportKubeconfig(ctx, endpoint); err != nil {
		return err
	}
	c.vc.Status = v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseRunning, Endpoint: endpoint, KubernetesVersion: version}
	if err := c.writeRecord(ctx); err != nil {
		return err
	}
	ctxName := ContextName(r.Name, r.Namespace, c.h.Context)
	userCfg, err := clusterKubeconfig(paths.AdminKubeconfig(), ctxName, "")
	if err != nil {
		return err
	}
	return c.publishContext(userCfg, ctxName)
}

// ensureProcess starts the control plane process, or restarts it when what
// it would start with changed (or its host token is due for renewal). It
// returns the channel that reports the exit of a process it started (nil
// when the running one is kept) and where its output starts in the log.
func (c *creation) ensureProcess(ctx context.Context) (exited <-chan error, logOffset int64, err error) {
	p, paths, r := c.p, c.paths, c.r
	for _, d := range []string{paths.Dir(), paths.Data()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, 0, fmt.Errorf("state directory: %w", err)
		}
	}
	cfg, err := deploy.ConfigFile(c.vc)
	if err != nil {
		return nil, 0, err
	}
	args := []string{
		"control-plane",
		"--data-dir=" + paths.Data(),
		"--config=" + paths.Config(),
		"--name=" + r.Name,
		"--host-kubeconfig=" + paths.HostKubeconfig(),
		"--host-namespace=" + r.Namespace,
	}
	hash := configHash(cfg, args, c.dsn)
	if c.dsn != "" {
		args = append(args, "--datastore-endpoint="+c.dsn)
	}
	info, _ := readInfo(paths)
	if info == nil {
		info = &localInfo{Name: r.Name, Namespace: r.Namespace, Created: time.Now().UTC().Truncate(time.Second)}
	}
	info.HostContext, info.HostServer = c.h.Context, c.h.Server
	pid := runningPID(paths)
	if pid != 0 && info.ConfigHash == hash && time.Until(info.TokenExpires) > tokenRenewBefore {
		p.done("Control plane unchanged and running (pid %d)", pid)
		return nil, 0, nil
	}
	if pid != 0 {
		if err := stopProcess(paths, p); err != nil {
			return nil, 0, err
		}
	}
	if err := writeFileAtomic(paths.Config(), cfg, 0o600); err != nil {
		return nil, 0, err
	}
	expires, err := c.writeHostKubeconfig(ctx)
	if err != nil {
		return nil, 0, err
	}
	info.ConfigHash, info.TokenExpires = hash, expires
	if err := writeInfo(paths, info); err != nil {
		return nil, 0, err
	}
	exe := c.o.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, 0, fmt.Errorf("finding the kubicle binary: %w", err)
		}
	}
	if pid, exited, logOffset, err = startProcess(paths, exe, args); err != nil {
		return nil, 0, err
	}
	p.step("Started the control plane (pid %d); log: %s", pid, paths.Log())
	return exited, logOffset, nil
}

// configHash covers everything a control plane process starts with. The
// DSN enters as its own hash, so that cluster.json holds nothing secret.
func configHash(cfg []byte, args []string, dsn string) string {
	h := sha256.New()
	h.Write(cfg)
	for _, a := range args {
		h.Write([]byte{0})
		h.Write([]byte(a))
	}
	dsnSum := sha256.Sum256([]byte(dsn))
	h.Write(dsnSum[:])
	return hex.EncodeToString(h.Sum(nil))
}

// writeHostKubeconfig writes the kubeconfig the control plane reaches the
// host with: a token of its ServiceAccount, so it has exactly the rights
// deploy renders for it. It returns when the token expires.
func (c *creation) writeHostKubeconfig(ctx context.Context) (time.Time, error) {
	seconds := int64(hostTokenLifetime / time.Second)
	tr, err := c.h.Client.CoreV1().ServiceAccounts(c.r.Namespace).CreateToken(ctx, c.r.ServiceAccountName(),
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("issuing a host token for ServiceAccount %s/%s: %w", c.r.Namespace, c.r.ServiceAccountName(), err)
	}
	cfg, err := c.h.hostKubeconfig(tr.Status.Token)
	if err != nil {
		return time.Time{}, err
	}
	if err := kubeconfig.WriteFile(c.paths.HostKubeconfig(), cfg); err != nil {
		return time.Time{}, err
	}
	return tr.Status.ExpirationTimestamp.Time, nil
}

// waitProcess waits until the virtual API server answers /readyz, the
// process exits, or the timeout passes.
func (c *creation) waitProcess(ctx context.Context, exited <-chan error, offset int64) error {
	paths := c.paths
	secrets := dsnSecrets(c.dsn)
	w := c.p.waiter("the virtual API server")
	deadline := time.Now().Add(c.o.Timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the control plane exited during start (%v); last lines of %s:\n%s",
				err, paths.Log(), tailFile(paths.Log(), offset, 20, secrets...))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		err := readyz(ctx, paths.AdminKubeconfig())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the virtual API server was not ready after %s (%v); last lines of %s:\n%s",
				c.o.Timeout, err, paths.Log(), tailFile(paths.Log(), offset, 20, secrets...))
		}
		if w.due() {
			reason := err.Error()
			if line := lastLine(paths.Log(), offset, secrets...); line != "" {
				reason += "; last log line: " + line
			}
			w.still(reason)
		}
	}
}

// virtualInfo returns the server URL and the version of the virtual API
// server of kubeconfig.
func virtualInfo(ctx context.Context, kubeconfigPath string) (endpoint, version string, err error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return "", "", fmt.Errorf("reading %s: %w", kubeconfigPath, err)
	}
	cfg.Timeout = readyzTimeout
	vc, err := newClient(cfg)
	if err != nil {
		return "", "", err
	}
	v, err := vc.Discovery().ServerVersion()
	if err != nil {
		return cfg.Host, "", nil
	}
	return cfg.Host, v.GitVersion, nil
}

// exportKubeconfig writes the Secret of spec.exportKubeConfig, or deletes
// one written before when the export is now off.
func (c *creation) exportKubeconfig(ctx context.Context, endpoint string) error {
	e := &c.vc.Spec.ExportKubeConfig
	if e.Enabled == nil || !*e.Enabled {
		sel := fmt.Sprintf("%s,%s=%s", c.r.Selector(), deploy.LabelComponent, deploy.ComponentKubeConfig)
		err := c.h.Client.CoreV1().Secrets(c.r.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the exported kubeconfig: %w", err)
		}
		return nil
	}
	server := e.Server
	if server == "" {
		server = endpoint
	}
	cfg, err := clusterKubeconfig(c.paths.AdminKubeconfig(), e.Context, server)
	if err != nil {
		return err
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding the exported kubeconfig: %w", err)
	}
	secret := deploy.KubeConfigSecret(c.vc, data)
	if secret == nil {
		return nil
	}
	if err := checkOwnership(ctx, c.h.Dynamic, c.r, []deploy.Object{secret}); err != nil {
		return err
	}
	if err := apply(ctx, c.h.Dynamic, secret, true); err != nil {
		return err
	}
	c.p.done("Wrote the kubeconfig to Secret %s/%s (context %q, server %s)", c.r.Namespace, secret.Name, e.Context, server)
	return nil
}

// cleanup removes what a failed create made: the process, every host object
// of the virtual cluster, the namespace when kubicle created it (kubicle's
// labels on it otherwise), and the local state. It runs even when ctx was
// cancelled (Ctrl-C), with a bounded context of its own.
func (c *creation) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	c.p.step("Cleaning up what this command created")
	if err := stopProcess(c.paths, c.p); err != nil {
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
	if c.vc.Spec.ControlPlane.Driver == v1alpha1.DriverProcess {
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
		cp["driver"] = string(v1alpha1.DriverPod)
		if embeddedHost(ctx, h) {
			cp["driver"] = string(v1alpha1.DriverProcess)
		}
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

// nsPlan is what Create found about the host namespace.
type nsPlan struct {
	// exists is true when the namespace was there before.
	exists bool
	// ours is true when kubicle created it for this virtual cluster.
	ours bool
}

// planNamespace checks that the host namespace may hold virtual cluster r:
// it is missing, or kubicle created it for r, or it holds nothing of another
// virtual cluster.
func planNamespace(ctx context.Context, h *Host, r deploy.Ref) (nsPlan, error) {
	ns, err := h.Client.CoreV1().Namespaces().Get(ctx, r.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nsPlan{}, nil
	}
	if err != nil {
		return nsPlan{}, fmt.Errorf("reading host namespace %s: %w", r.Namespace, err)
	}
	if ns.DeletionTimestamp != nil {
		return nsPlan{}, fmt.Errorf("host namespace %s is being deleted; try again once it is gone", r.Namespace)
	}
	l := ns.Labels
	if owner := l[translate.KeyVCluster]; owner != "" && l[translate.LabelManagedBy] == translate.ManagedBy && !belongsTo(l, r, false) {
		return nsPlan{}, fmt.Errorf("host namespace %s belongs to virtual cluster %q; choose another namespace with -n", r.Namespace, owner)
	}
	foreign, err := foreignObjects(ctx, h.Dynamic, r.Namespace, r.Name, 3)
	if err != nil {
		return nsPlan{}, err
	}
	if len(foreign) > 0 {
		return nsPlan{}, fmt.Errorf("host namespace %s holds objects of another virtual cluster (%s); a namespace holds one virtual cluster: choose another with -n",
			r.Namespace, strings.Join(foreign, ", "))
	}
	return nsPlan{exists: true, ours: belongsTo(l, r, false) && l[deploy.LabelCreatedNamespace] == "true"}, nil
}

// applyPodSecurityLabels puts the Pod Security labels of vc on a namespace
// that existed before, and nothing else, so that it is never deleted with
// the virtual cluster. It does not take labels over from another manager: a
// namespace whose Pod Security level someone else chose is an error to
// resolve, not to overwrite.
func applyPodSecurityLabels(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) error {
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: vc.Namespace, Labels: deploy.PodSecurityLabels(vc)},
	}
	err := apply(ctx, h.Dynamic, ns, false)
	if apierrors.IsConflict(err) {
		return fmt.Errorf("host namespace %s has Pod Security labels set by someone else that differ from spec.isolation.podSecurityStandard %q: %w",
			vc.Namespace, vc.Spec.Isolation.PodSecurityStandard, err)
	}
	return err
}

// releaseNamespace removes the labels kubicle applied to a namespace it did
// not create, or that it keeps (--keep-namespace): an apply with no labels
// drops the fields kubicle's field manager alone owns. A namespace that is
// gone or going is left alone (an apply would create it again).
func releaseNamespace(ctx context.Context, h *Host, name string) error {
	got, err := h.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && got.DeletionTimestamp != nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}
	if err := apply(ctx, h.Dynamic, ns, false); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing kubicle's labels from namespace %s: %w", name, err)
	}
	return nil
}

// podPKI returns the shared PKI that a pod-driven control plane needs when
// its replicas share a store (replicas > 1, or a store outside the pod): the
// one already on the host, else a new one. Nil when the control plane may
// generate its own.
func podPKI(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) (map[string][]byte, error) {
	cp := &vc.Spec.ControlPlane
	bs := cp.BackingStore.Type
	if (cp.Replicas == nil || *cp.Replicas <= 1) && bs != v1alpha1.BackingStoreDatabase && bs != v1alpha1.BackingStoreExternalEtcd {
		return nil, nil
	}
	r := deploy.RefOf(vc)
	s, err := h.Client.CoreV1().Secrets(r.Namespace).Get(ctx, r.PKISecretName(), metav1.GetOptions{})
	switch {
	case err == nil && belongsTo(s.Labels, r, true):
		return s.Data, nil
	case err == nil:
		return nil, fmt.Errorf("Secret %s/%s exists and does not belong to virtual cluster %s", r.Namespace, r.PKISecretName(), r)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading Secret %s/%s: %w", r.Namespace, r.PKISecretName(), err)
	}
	dir, err := os.MkdirTemp("", "kubicle-pki-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := generatePKI(dir); err != nil {
		return nil, fmt.Errorf("generating the control plane's PKI: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range []string{"ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("generating the control plane's PKI: %w", err)
		}
		files[f] = data
	}
	return files, nil
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
