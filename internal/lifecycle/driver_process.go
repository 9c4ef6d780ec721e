package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// processDriver runs a control plane as a local `kubicle control-plane`
// process, started in a session of its own so that it outlives the command
// that started it, with its state in env.paths (see the package
// documentation). It reaches the host with a token of the ServiceAccount
// that deploy renders, and listens on this machine's loopback interface
// only: the virtual cluster is reachable from this machine alone.
type processDriver struct {
	env driverEnv
	r   deploy.Ref
	// vc is the defaulted VirtualCluster; nil for a driver found by its
	// traces ([runningDriver]), which only stops its process.
	vc *v1alpha1.VirtualCluster

	// dsn is the database's DSN, read by prepare (backing store
	// "database").
	dsn string
	// exited reports the exit of the process that start started; nil when
	// start kept the one running. logOffset is where its output starts in
	// the log.
	exited    <-chan error
	logOffset int64
}

func (d *processDriver) name() v1alpha1.ControlPlaneDriver { return v1alpha1.DriverProcess }

func (d *processDriver) defaultReason() string {
	return " (chosen because the host is kubicle's embedded host, whose simulated nodes run no containers; --driver chooses)"
}

// found reports whether the local state exists on this machine.
func (d *processDriver) found(context.Context) (bool, error) { return d.env.paths.Exists(), nil }

// adopt refuses to start a new virtual cluster over local state the host
// no longer knows, and to upgrade one whose process runs on another
// machine; for one that runs here it takes over the local state where the
// record says it is (it may be under another host context name).
func (d *processDriver) adopt(rec *record) error {
	r := d.r
	if rec == nil {
		if paths := d.env.paths; paths.Exists() {
			return fmt.Errorf("the host has no virtual cluster %s, but local state for it exists in %s (left from a host that was reset?); run `kubicle delete %s -n %s` to remove it first",
				r, paths.Dir(), r.Name, r.Namespace)
		}
		return nil
	}
	if rec.Machine != "" && rec.Machine != machineName() {
		return fmt.Errorf("virtual cluster %s runs as a process on machine %q, with its store there; upgrade it from that machine", r, rec.Machine)
	}
	d.env.paths = localPaths(d.env.h, rec)
	if !d.env.paths.Exists() {
		d.env.p.warn("No local state for %s in %s: its control plane starts again with an empty store", r, d.env.paths.Dir())
	}
	return nil
}

// prepare reads the DSN of a database store and checks that the database
// answers: the process gets the DSN on its command line.
func (d *processDriver) prepare(ctx context.Context, _ *deploy.RenderOptions) error {
	var err error
	d.dsn, err = readDSN(ctx, d.env.h, d.vc)
	return err
}

func (d *processDriver) location() map[string]string { return LocationAnnotations(d.env.paths) }

// start starts the control plane process, or restarts it when what it would
// start with changed (or its host token is due for renewal).
func (d *processDriver) start(ctx context.Context) (bool, error) {
	exited, offset, err := d.ensureProcess(ctx)
	if err != nil {
		return false, err
	}
	d.exited, d.logOffset = exited, offset
	return exited != nil, nil
}

// ensureProcess starts the control plane process, or restarts it when what
// it would start with changed (or its host token is due for renewal). It
// returns the channel that reports the exit of a process it started (nil
// when the running one is kept) and where its output starts in the log.
func (d *processDriver) ensureProcess(ctx context.Context) (exited <-chan error, logOffset int64, err error) {
	p, paths, r := d.env.p, d.env.paths, d.r
	for _, dir := range []string{paths.Dir(), paths.Data()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, 0, fmt.Errorf("state directory: %w", err)
		}
	}
	cfg, err := deploy.ConfigFile(d.vc)
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
	hash := configHash(cfg, args, d.dsn)
	if d.dsn != "" {
		args = append(args, "--datastore-endpoint="+d.dsn)
	}
	info, _ := readInfo(paths)
	if info == nil {
		info = &localInfo{Name: r.Name, Namespace: r.Namespace, Created: time.Now().UTC().Truncate(time.Second)}
	}
	info.HostContext, info.HostServer = d.env.h.Context, d.env.h.Server
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
	expires, err := writeHostKubeconfig(ctx, d.env.h, r, paths.HostKubeconfig())
	if err != nil {
		return nil, 0, err
	}
	info.ConfigHash, info.TokenExpires = hash, expires
	if err := writeInfo(paths, info); err != nil {
		return nil, 0, err
	}
	exe := d.env.executable
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

// wait waits until the virtual API server answers /readyz and returns its
// URL and version. A process is always waited for: noWait does not apply.
func (d *processDriver) wait(ctx context.Context, timeout time.Duration, _ bool) (*serving, error) {
	start := time.Now()
	if err := d.waitProcess(ctx, timeout); err != nil {
		return nil, err
	}
	endpoint, version, err := virtualInfo(ctx, d.env.paths.AdminKubeconfig())
	if err != nil {
		return nil, err
	}
	d.env.p.done("Virtual API server ready at %s (%s)", endpoint, time.Since(start).Round(100*time.Millisecond))
	return &serving{endpoint: endpoint, version: version}, nil
}

// waitProcess waits until the virtual API server answers /readyz, the
// process exits, or the timeout passes.
func (d *processDriver) waitProcess(ctx context.Context, timeout time.Duration) error {
	paths, exited, offset := d.env.paths, d.exited, d.logOffset
	secrets := dsnSecrets(d.dsn)
	w := d.env.p.waiter("the virtual API server")
	deadline := time.Now().Add(timeout)
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
				timeout, err, paths.Log(), tailFile(paths.Log(), offset, 20, secrets...))
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

// export writes the kubeconfig Secret of spec.exportKubeConfig from the
// admin kubeconfig the process wrote: the control plane runs outside the
// host and does not write it.
func (d *processDriver) export(ctx context.Context, endpoint string) error {
	return exportKubeconfig(ctx, d.env.h, d.vc, d.env.paths.AdminKubeconfig(), endpoint, d.env.p)
}

func (d *processDriver) readyKubeconfig(_ context.Context, name string, _ time.Duration) (*clientcmdapi.Config, error) {
	return clusterKubeconfig(d.env.paths.AdminKubeconfig(), name, "")
}

// connect returns the admin kubeconfig of a control plane whose local state
// is on this machine, with a warning when its process does not run.
func (d *processDriver) connect(_ context.Context, name string, portForward bool) (*clientcmdapi.Config, *forward, error) {
	paths, r := d.env.paths, d.r
	if portForward {
		return nil, nil, fmt.Errorf("--port-forward: virtual cluster %s runs as a process (driver process), not in a pod of the host; connect without it", r)
	}
	if !paths.Exists() {
		return nil, nil, fmt.Errorf("virtual cluster %s runs as a process on machine %q and listens on its loopback interface only; connect from that machine", r, d.env.machine)
	}
	cfg, err := clusterKubeconfig(paths.AdminKubeconfig(), name, "")
	if err != nil {
		return nil, nil, err
	}
	if runningPID(paths) == 0 {
		d.env.p.warn("The control plane of %s is not running (`kubicle create %s -n %s --upgrade` starts it again)", r, r.Name, r.Namespace)
	}
	return cfg, nil, nil
}

// checkLogLines is how many lines of a stopped control plane's log Check
// quotes.
const checkLogLines = 10

// check looks at the local process and its /readyz. A process that does not
// run is reported with the last lines of its log, database passwords
// hidden.
func (d *processDriver) check(ctx context.Context) Readiness {
	paths := d.env.paths
	dsn, _ := secretDSN(ctx, d.env.h, d.vc)
	secrets := dsnSecrets(dsn)
	pid := runningPID(paths)
	if pid == 0 {
		reason := "the control plane process is not running"
		if tail := strings.TrimSpace(tailFile(paths.Log(), 0, checkLogLines, secrets...)); tail != "" {
			reason += "; last lines of " + paths.Log() + ":\n" + tail
		}
		return Readiness{Stopped: true, Reason: reason}
	}
	where := fmt.Sprintf("process %d on %s", pid, machineName())
	if err := readyz(ctx, paths.AdminKubeconfig()); err != nil {
		reason := err.Error()
		if line := lastLine(paths.Log(), 0, secrets...); line != "" {
			reason += "; last log line: " + line
		}
		return Readiness{Reason: reason, PID: pid, Where: where}
	}
	endpoint, version, err := virtualInfo(ctx, paths.AdminKubeconfig())
	if err != nil {
		return Readiness{Reason: err.Error(), PID: pid, Where: where}
	}
	return Readiness{Ready: true, Endpoint: endpoint, KubernetesVersion: version, PID: pid, Where: where}
}

// status is Running when the process runs and its API server answers
// /readyz, Starting when only the former, Failed when the process is gone,
// Unknown on another machine.
func (d *processDriver) status(ctx context.Context) (status, reason string, pid int) {
	paths := d.env.paths
	if !paths.Exists() {
		return StatusUnknown, fmt.Sprintf("the control plane runs on machine %q", d.env.machine), 0
	}
	pid = runningPID(paths)
	if pid == 0 {
		return StatusFailed, "the control plane process is not running; see " + paths.Log() + " (`kubicle create --upgrade` starts it again)", 0
	}
	if err := readyz(ctx, paths.AdminKubeconfig()); err != nil {
		return StatusStarting, err.Error(), pid
	}
	return StatusRunning, "", pid
}

func (d *processDriver) localKubeconfig() string {
	if !d.env.paths.Exists() {
		return ""
	}
	return d.env.paths.AdminKubeconfig()
}

// describe says where the process runs and, on its machine, its pid, state
// directory, log and host token.
func (d *processDriver) describe(field func(key, format string, args ...any), in Info) {
	paths := d.env.paths
	if !paths.Exists() {
		field("Driver", "process (on machine %s)", orDash(d.env.machine))
		return
	}
	pid := "not running"
	if in.PID != 0 {
		pid = fmt.Sprintf("pid %d", in.PID)
	}
	field("Driver", "process (%s on %s)", pid, orDash(d.env.machine))
	field("State directory", "%s", paths.Dir())
	field("Log", "%s", paths.Log())
	if li, err := readInfo(paths); err == nil && !li.TokenExpires.IsZero() {
		field("Host token expires", "%s", li.TokenExpires.Format(time.RFC3339))
	}
}

// stop sends the process SIGTERM and waits for it to exit (SIGKILL after
// stopTimeout); its local state stays.
func (d *processDriver) stop(context.Context) error { return stopProcess(d.env.paths, d.env.p) }

// delete stops the process: it is all the driver runs outside the host
// objects.
func (d *processDriver) delete(ctx context.Context) error { return d.stop(ctx) }
