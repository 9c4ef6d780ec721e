package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers/generic"
	"github.com/k3s-io/kine/pkg/endpoint"
	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	"kubicle.dev/kubicle/internal/controlplane/pki"
)

// virtualDisabledControllers are the controllers a virtual cluster does not run, each
// because the host does that work for the pods the syncer puts there.
var virtualDisabledControllers = []string{
	"node-ipam-controller",                      // pod CIDRs belong to host nodes
	"node-lifecycle-controller",                 // virtual nodes mirror host nodes; the host evicts
	"taint-eviction-controller",                 // likewise
	"device-taint-eviction-controller",          // devices are the host's
	"persistentvolume-binder-controller",        // the host binds volumes; the syncer copies status
	"persistentvolume-attach-detach-controller", // attach/detach happens on host nodes
	"persistentvolume-expander-controller",      // expansion is done by the host's CSI drivers
	"pod-garbage-collector-controller",          // would delete synced pods on nodes it has not seen
	"ttl-controller",                            // annotates nodes the syncer owns
}

type store struct {
	endpoints []string
	wg        *sync.WaitGroup
}

func (s *store) wait() {
	if s.wg != nil {
		s.wg.Wait()
	}
}

// startStore starts kine in-process on a unix socket and returns its etcd endpoint.
func startStore(ctx context.Context, o *CompletedOptions) (*store, error) {
	dsn := o.StoreEndpoint
	what := "database " + redactDSN(dsn)
	if dsn == "" {
		db := o.path("db", "state.db")
		if err := prepareDataDir(filepath.Dir(db)); err != nil {
			return nil, err
		}
		if err := checkSQLite(db); err != nil {
			return nil, fmt.Errorf("starting store (SQLite database %s): %w", db, err)
		}
		// The parameters kine uses for its own default SQLite database.
		dsn = "sqlite://" + db + "?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate"
		what = "SQLite database " + db
	}
	wg := &sync.WaitGroup{}
	cfg := endpoint.Config{
		WaitGroup: wg,
		Listener:  "unix://" + socketPath(o.path("kine.sock")),
		Endpoint:  dsn,
		// kine's own CLI defaults; a zero Config is refused (NOTES.md).
		NotifyInterval:      5 * time.Second,
		EmulatedETCDVersion: "3.6.11",
		CompactInterval:     5 * time.Minute,
		CompactTimeout:      5 * time.Second,
		CompactMinRetain:    1000,
		CompactBatchSize:    1000,
		PollBatchSize:       500,
		PollInterval:        time.Second,
		ConnectionPoolConfig: generic.ConnectionPoolConfig{
			MaxIdle:     20,
			MaxIdleTime: 2 * time.Minute,
		},
	}
	etcd, err := endpoint.Listen(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting store (%s): %w", what, err)
	}
	return &store{endpoints: etcd.Endpoints, wg: wg}, nil
}

// socketPath keeps a unix socket path under the kernel's 108-byte limit: deep data
// directories (test temp dirs) get a short name in the temp directory instead.
func socketPath(want string) string {
	if len(want) < 100 {
		return want
	}
	return filepath.Join("/tmp", fmt.Sprintf("kubicle-%x.sock", hash32(want)))
}

func hash32(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// redactDSN hides a database password in messages, as kine does.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return strings.SplitN(dsn, "?", 2)[0]
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	u.RawQuery = ""
	return u.String()
}

func apiServerArgs(o *CompletedOptions, b *pki.Bundle, etcd []string) []string {
	args := []string{
		"--etcd-servers=" + strings.Join(etcd, ","),
		"--bind-address=" + o.Host,
		"--secure-port=" + strconv.Itoa(o.Port),
		"--tls-cert-file=" + b.Serving.CertFile,
		"--tls-private-key-file=" + b.Serving.KeyFile,
		"--client-ca-file=" + b.CA.CertFile,
		"--service-account-key-file=" + b.ServiceAccount.CertFile,
		"--service-account-signing-key-file=" + b.ServiceAccount.KeyFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=" + o.ServiceCIDR,
		"--allow-privileged=true",
		// The kubernetes Service's endpoints would name this process's address, which
		// for a local control plane is loopback and invalid in an Endpoints object; the
		// syncer points tenants at the control plane instead.
		"--endpoint-reconciler-type=none",
		"--requestheader-client-ca-file=" + b.FrontProxyCA.CertFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-username-headers=X-Remote-User",
		"--proxy-client-cert-file=" + b.FrontProxyClient.CertFile,
		"--proxy-client-key-file=" + b.FrontProxyClient.KeyFile,
		"--kubelet-client-certificate=" + b.APIServerKubeletClient.CertFile,
		"--kubelet-client-key=" + b.APIServerKubeletClient.KeyFile,
		"--kubelet-certificate-authority=" + b.CA.CertFile,
		// Simulated and local nodes have no resolvable host names.
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--profiling=false",
	}
	if ip := net.ParseIP(o.Host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		args = append(args, "--advertise-address="+o.Host)
	}
	return append(args, prefixFlags(o.APIServerArgs)...)
}

func prefixFlags(extra []string) []string {
	out := make([]string, 0, len(extra))
	for _, a := range extra {
		out = append(out, "--"+strings.TrimPrefix(a, "--"))
	}
	return out
}

// runAPIServer runs kube-apiserver on a pre-bound listener until ctx is cancelled.
func runAPIServer(ctx context.Context, args []string, ln net.Listener, port int, serviceIPs *serviceIPAdmission) error {
	s := apiserveroptions.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		_ = ln.Close()
		return fmt.Errorf("kube-apiserver flags: %w", err)
	}
	s.SecureServing.Listener = ln
	s.SecureServing.BindPort = port
	if serviceIPs != nil {
		if err := serviceIPs.register(s); err != nil {
			_ = ln.Close()
			return err
		}
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		_ = ln.Close()
		return err
	}
	// Loopback clients of the API server should not log the server's own warnings.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	completed, err := s.Complete(ctx)
	if err != nil {
		_ = ln.Close()
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		_ = ln.Close()
		return utilerrors.NewAggregate(errs)
	}
	return apiserverapp.Run(ctx, completed)
}

func controllerManagerArgs(o *CompletedOptions, b *pki.Bundle, kubeconfigPath string) []string {
	controllers := "*"
	if o.Profile == ProfileVirtual {
		controllers += ",-" + strings.Join(virtualDisabledControllers, ",-")
	}
	args := []string{
		"--kubeconfig=" + kubeconfigPath,
		"--secure-port=0",
		"--leader-elect=false",
		"--controllers=" + controllers,
		// Each controller acts as its own service account, so RBAC gives each only
		// what it needs (as kubeadm sets it).
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + b.ServiceAccount.KeyFile,
		"--root-ca-file=" + b.CA.CertFile,
		"--cluster-signing-cert-file=" + b.CA.CertFile,
		"--cluster-signing-key-file=" + b.CA.KeyFile,
		"--service-cluster-ip-range=" + o.ServiceCIDR,
		"--profiling=false",
	}
	return append(args, prefixFlags(o.ControllerManagerArgs)...)
}

// runControllerManager runs kube-controller-manager until ctx is cancelled.
func runControllerManager(ctx context.Context, args []string) error {
	s, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	known, disabled, aliases := cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases()
	named := s.Flags(known, disabled, aliases)
	s.ParsedFlags = &named
	fs := pflag.NewFlagSet("kube-controller-manager", pflag.ContinueOnError)
	for _, f := range named.FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("kube-controller-manager flags: %w", err)
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	c, err := s.Config(ctx, known, disabled, aliases)
	if err != nil {
		return err
	}
	return cmapp.Run(ctx, c.Complete())
}

func schedulerArgs(kubeconfigPath string) []string {
	return []string{"--kubeconfig=" + kubeconfigPath, "--leader-elect=false", "--secure-port=0", "--profiling=false"}
}

// runScheduler runs kube-scheduler until ctx is cancelled.
func runScheduler(ctx context.Context, args []string) error {
	o := schedoptions.NewOptions()
	fs := pflag.NewFlagSet("kube-scheduler", pflag.ContinueOnError)
	for _, f := range o.Flags.FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("kube-scheduler flags: %w", err)
	}
	if err := o.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	cc, sched, err := schedapp.Setup(ctx, o)
	if err != nil {
		return err
	}
	err = schedapp.Run(ctx, cc, sched)
	if ctx.Err() != nil {
		return nil // stopped as asked
	}
	return err
}
