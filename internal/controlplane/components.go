package controlplane

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/rest"
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

// apiServerArgs returns kube-apiserver's flags: storeFlags (from startStore) first,
// the user's extra flags last.
func apiServerArgs(o *CompletedOptions, b *pki.Bundle, storeFlags []string) []string {
	args := []string{
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
	args = append(append([]string{}, storeFlags...), args...)
	if ip := net.ParseIP(o.Host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		args = append(args, "--advertise-address="+o.Host)
	}
	return mergeFlags(args, o.APIServerArgs)
}

// mergeFlags returns defaults with the user's extra flags (name=value, with or
// without leading dashes) after them; an extra flag replaces every default of the same
// name, as k3s's and kubeadm's extra arguments do. Appending alone would not let a
// user change a list flag: pflag adds a repeated list flag's values to the earlier
// ones (--authorization-mode=Node,RBAC then AlwaysAllow would mean all three). A user
// who names a flag several times passes all those values.
func mergeFlags(defaults, extra []string) []string {
	name := func(flag string) string {
		n, _, _ := strings.Cut(strings.TrimLeft(flag, "-"), "=")
		return n
	}
	replaced := map[string]bool{}
	for _, a := range extra {
		replaced[name(a)] = true
	}
	out := make([]string, 0, len(defaults)+len(extra))
	for _, d := range defaults {
		if !replaced[name(d)] {
			out = append(out, d)
		}
	}
	for _, a := range extra {
		out = append(out, "--"+strings.TrimLeft(a, "-"))
	}
	return out
}

// runAPIServer runs kube-apiserver on a pre-bound listener until ctx is cancelled.
func runAPIServer(ctx context.Context, args []string, ln net.Listener, port int, plugins []plugin, readyz ...healthz.HealthChecker) error {
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
	if err := registerPlugins(s, plugins); err != nil {
		_ = ln.Close()
		return err
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
	return runKubeAPIServer(ctx, completed, readyz...)
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
	return mergeFlags(args, o.ControllerManagerArgs)
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
