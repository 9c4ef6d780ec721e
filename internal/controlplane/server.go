package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"

	"kubicle.dev/kubicle/internal/controlplane/pki"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// readyTimeout bounds the wait for the API server's /readyz after start. A cold start
// on SQLite takes 2–3 s on a 2-core machine; a remote database can take much longer,
// but a minute without readiness means something is wrong that the user must see.
const readyTimeout = 2 * time.Minute

// stopTimeout bounds how long each component may take to return after cancellation.
const stopTimeout = 20 * time.Second

// Server is one running (or runnable) control plane.
type Server struct {
	opts       *CompletedOptions
	ready      chan struct{}
	admin      *rest.Config
	serviceIPs *serviceIPAdmission
	usable     *usableCheck
	// hostService is what Run found of the host Service in front of this API
	// server (see lookupHostService), when it syncs to a host.
	hostService struct {
		clusterIP string
		err       error
	}
}

// New returns a Server for completed options. Nothing starts until Run.
func New(opts *CompletedOptions) *Server {
	s := &Server{opts: opts, ready: make(chan struct{}), usable: &usableCheck{}}
	if opts.syncsToHost() {
		s.serviceIPs = newServiceIPAdmission()
	}
	return s
}

// Ready is closed once the API server answers /readyz and the admin kubeconfig is
// written.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// AdminConfig is a client config with cluster-admin rights; valid after Ready.
func (s *Server) AdminConfig() *rest.Config { return rest.CopyConfig(s.admin) }

// Options returns the completed options the server runs with.
func (s *Server) Options() *CompletedOptions { return s.opts }

// Run starts the store, the API server, the controller manager and (optionally) the
// scheduler, and serves until ctx is cancelled or a component fails. It stops the
// components in reverse order: controllers first, then the API server, then the store.
func (s *Server) Run(ctx context.Context) (err error) {
	o := s.opts
	logger := klog.FromContext(ctx)
	if err := prepareDataDir(o.DataDir); err != nil {
		return err
	}
	unlock, err := lockDataDir(o.DataDir)
	if err != nil {
		return err
	}
	defer unlock()

	if o.PKIDir != "" {
		if err := copyPKI(o.PKIDir, o.path("pki")); err != nil {
			return err
		}
	}
	hosts := append([]string{o.Host, o.clientHost()}, o.ExtraSANs...)
	if o.HostNamespace != "" {
		// An error is the syncer's to report when it starts.
		s.hostService.clusterIP, s.hostService.err = s.lookupHostService(ctx)
		if ip := s.hostService.clusterIP; ip != "" {
			hosts = append(hosts, ip)
		}
	}
	bundle, err := pki.EnsureBundle(o.path("pki"), pki.BundleOptions{Hosts: hosts, ServiceIP: o.ServiceIP})
	if err != nil {
		return fmt.Errorf("preparing certificates: %w", err)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("listening on %s: %w", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), rootCause(err))
	}
	o.Port = ln.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(o.path("listen-address"), []byte(net.JoinHostPort(o.Host, strconv.Itoa(o.Port))+"\n"), 0o600); err != nil {
		_ = ln.Close()
		return fmt.Errorf("recording listen address: %w", err)
	}
	server := "https://" + net.JoinHostPort(o.clientHost(), strconv.Itoa(o.Port))
	kubeconfigs, err := writeKubeconfigs(o, bundle, server)
	if err != nil {
		_ = ln.Close()
		return err
	}
	s.admin, err = clientcmd.NewDefaultClientConfig(*kubeconfigs.admin, nil).ClientConfig()
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("admin client config: %w", err)
	}
	if err := s.usable.setClient(s.admin); err != nil {
		_ = ln.Close()
		return fmt.Errorf("workloads readiness check: %w", err)
	}

	if err := o.fetchEtcdTLS(ctx); err != nil {
		_ = ln.Close()
		return err
	}
	// The store gets its own context: an API server whose store goes away first keeps
	// retrying and does not return (NOTES.md, "Shutdown order").
	storeCtx, stopStore := context.WithCancel(klog.NewContext(context.Background(), logger))
	store, err := startStore(storeCtx, o)
	if err != nil {
		stopStore()
		_ = ln.Close()
		return err
	}
	defer func() {
		stopStore()
		store.wait()
	}()

	apiCtx, stopAPI := context.WithCancel(klog.NewContext(context.Background(), logger))
	defer stopAPI()
	apiDone := make(chan error, 1)
	go func() {
		apiDone <- runAPIServer(apiCtx, apiServerArgs(o, bundle, store.flags), ln, o.Port, s.admissionPlugins(), s.usable)
	}()
	stopAPIServer := func() error {
		stopAPI()
		select {
		case err := <-apiDone:
			return err
		case <-time.After(stopTimeout):
			return fmt.Errorf("kube-apiserver did not stop within %s", stopTimeout)
		}
	}

	if err := s.waitReady(ctx, apiDone); err != nil {
		stopErr := stopAPIServer()
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return stopErr
		}
		return err
	}
	logger.Info("API server ready", "server", server)

	compCtx, stopComponents := context.WithCancel(ctx)
	defer stopComponents()
	type result struct {
		name string
		err  error
	}
	compDone := make(chan result, 4)
	components := 1
	identity := LeaderIdentity()
	// elected runs a component on the leader only, when replicas elect one.
	elected := func(lease string, run func(context.Context) error) func(context.Context) error {
		if !o.LeaderElect {
			return run
		}
		return func(ctx context.Context) error { return runElected(ctx, s.admin, lease, identity, run) }
	}
	controllerManager := elected(ControllerManagerLease, func(ctx context.Context) error {
		return runControllerManager(ctx, controllerManagerArgs(o, bundle, kubeconfigs.controllerManager))
	})
	go func() { compDone <- result{"kube-controller-manager", controllerManager(compCtx)} }()
	if o.Scheduler {
		components++
		scheduler := elected(SchedulerLease, func(ctx context.Context) error {
			return runScheduler(ctx, schedulerArgs(kubeconfigs.scheduler))
		})
		go func() { compDone <- result{"kube-scheduler", scheduler(compCtx)} }()
	}
	if o.syncsToHost() {
		run, err := s.startSyncer(compCtx, bundle, identity)
		if err != nil {
			stopComponents()
			for ; components > 0; components-- {
				<-compDone
			}
			_ = stopAPIServer()
			return err
		}
		for _, r := range run {
			components++
			go func() { compDone <- result{r.name, r.run(compCtx)} }()
		}
	}
	if o.MetricsListen != "" {
		components++
		go func() { compDone <- result{"metrics server", serveMetrics(compCtx, o.MetricsListen)} }()
	}
	close(s.ready)
	go s.exportKubeConfig(compCtx, bundle)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-apiDone:
		apiDone <- err // let stopAPIServer see it
		runErr = fmt.Errorf("kube-apiserver stopped: %w", orUnexpected(err))
	case r := <-compDone:
		components--
		runErr = fmt.Errorf("%s stopped: %w", r.name, orUnexpected(r.err))
	case err := <-store.failed:
		runErr = fmt.Errorf("store failed: %w", err)
	}
	logger.Info("Stopping control plane")
	stopComponents()
	deadline := time.After(stopTimeout)
	for ; components > 0; components-- {
		select {
		case <-compDone:
		case <-deadline:
			logger.Info("Controllers did not stop in time; stopping the API server anyway")
			components = 0
		}
	}
	if err := stopAPIServer(); err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
		runErr = err
	}
	return runErr
}

func orUnexpected(err error) error {
	if err == nil {
		return errors.New("exited unexpectedly")
	}
	return err
}

// waitReady polls /readyz until it answers ok, the API server returns, or time runs out.
func (s *Server) waitReady(ctx context.Context, apiDone chan error) error {
	client, err := kubernetes.NewForConfig(s.admin)
	if err != nil {
		return err
	}
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-apiDone:
			apiDone <- err
			return fmt.Errorf("kube-apiserver failed to start: %w", orUnexpected(err))
		case <-deadline.C:
			return fmt.Errorf("kube-apiserver not ready after %s: %s", readyTimeout, last)
		case <-tick.C:
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			// Without the workloads check, which waits for the controller
			// manager that starts only after this.
			body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").Param("exclude", usableCheckName).DoRaw(rctx)
			cancel()
			if err == nil {
				return nil
			}
			last = strings.TrimSpace(string(body))
			if last == "" {
				last = err.Error()
			}
		}
	}
}

// prepareDataDir creates dir and proves it writable, so that a bad path fails with
// one clear line before anything starts.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, unwrapPath(err))
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, unwrapPath(err))
	}
	return os.Remove(probe)
}

// rootCause returns the system error under err (e.g. "address already in use"), or err.
func rootCause(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lockDataDir takes an exclusive lock on dir, so two control planes never share one
// store. The lock is released when the process dies, even by kill -9.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		_ = f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another control plane (pid %s)", dir, strings.TrimSpace(string(pid)))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { _ = f.Close() }, nil
}

type componentKubeconfigs struct {
	admin                        *clientcmdapi.Config
	controllerManager, scheduler string
}

// writeKubeconfigs writes the admin kubeconfig (DATA_DIR/kubeconfig) and the
// components' kubeconfigs (DATA_DIR/pki/*.kubeconfig).
func writeKubeconfigs(o *CompletedOptions, b *pki.Bundle, server string) (*componentKubeconfigs, error) {
	ca := b.CA.CertPEM()
	write := func(name string, pair pki.Pair, path string) (*clientcmdapi.Config, error) {
		cert, key, err := pair.Read()
		if err != nil {
			return nil, fmt.Errorf("reading %s credentials: %w", name, err)
		}
		cfg := kubeconfig.New(name, kubeconfig.Credentials{Server: server, CAData: ca, CertData: cert, KeyData: key})
		return cfg, kubeconfig.WriteFile(path, cfg)
	}
	out := &componentKubeconfigs{
		controllerManager: o.path("pki", "controller-manager.kubeconfig"),
		scheduler:         o.path("pki", "scheduler.kubeconfig"),
	}
	var err error
	if out.admin, err = write(o.ContextName, b.Admin, o.KubeconfigPath()); err != nil {
		return nil, err
	}
	if _, err = write("kube-controller-manager", b.ControllerManager, out.controllerManager); err != nil {
		return nil, err
	}
	if _, err = write("kube-scheduler", b.Scheduler, out.scheduler); err != nil {
		return nil, err
	}
	return out, nil
}

// admissionPlugins are kubicle's admission plugins of this control plane when it
// syncs to a host (only then do its pods run): the host Service addresses, and the
// tenant's Pod Security Standard (the config's, else the default, baseline) unless
// it is privileged, and the nodes its pods may use.
func (s *Server) admissionPlugins() []plugin {
	if s.serviceIPs == nil {
		return nil
	}
	plugins := []plugin{{hostServiceIPPlugin, s.serviceIPs}}
	vc := &v1alpha1.VirtualCluster{}
	if s.opts.VirtualCluster != nil {
		vc = s.opts.VirtualCluster.DeepCopy()
	}
	v1alpha1.Default(vc)
	if standard := vc.Spec.Isolation.PodSecurityStandard; standard != v1alpha1.PodSecurityPrivileged {
		plugins = append(plugins, plugin{podSecurityPlugin, &podSecurityAdmission{
			Handler:  admission.NewHandler(admission.Create, admission.Update),
			standard: standard,
		}})
	}
	iso := &vc.Spec.Isolation
	plugins = append(plugins, plugin{podPlacementPlugin, &podPlacementAdmission{
		Handler: admission.NewHandler(admission.Create, admission.Update),
		policy:  translate.PlacementPolicy{NodeSelector: iso.NodeSelector, Tolerations: iso.Tolerations, AllowedTolerations: iso.AllowedTolerations},
	}})
	return plugins
}
