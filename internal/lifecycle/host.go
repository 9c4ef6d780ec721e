package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubicle.dev/kubicle/internal/kubeconfig"
)

// contextPrefix starts the kubeconfig context of every virtual cluster.
const contextPrefix = "kubicle_"

// hostCheckTimeout bounds the first request to the host. A reachable API
// server answers /version in milliseconds; ten seconds leaves room for a
// slow VPN without letting a dead one hang the CLI.
const hostCheckTimeout = 10 * time.Second

// ContextName returns the kubeconfig context of virtual cluster name in host
// namespace hostNamespace of the host reached through context hostContext:
// "kubicle_NAME_HOSTNS_HOSTCONTEXT". Neither a virtual cluster's name nor a
// namespace can contain "_", so [ParseContextName] recovers all three parts
// whatever the host context is called.
func ContextName(name, hostNamespace, hostContext string) string {
	return contextPrefix + name + "_" + hostNamespace + "_" + hostContext
}

// ContextRef is what a virtual cluster's context name says.
type ContextRef struct {
	// Name is the virtual cluster's name.
	Name string
	// HostNamespace is its host namespace.
	HostNamespace string
	// HostContext is the kubeconfig context of its host.
	HostContext string
}

// ParseContextName splits a context name made by [ContextName]; ok is false
// for any other context.
func ParseContextName(context string) (ref ContextRef, ok bool) {
	rest, found := strings.CutPrefix(context, contextPrefix)
	if !found {
		return ContextRef{}, false
	}
	parts := strings.SplitN(rest, "_", 3)
	if len(parts) != 3 || parts[2] == "" ||
		len(validation.IsDNS1123Label(parts[0])) > 0 || len(validation.IsDNS1123Label(parts[1])) > 0 {
		return ContextRef{}, false
	}
	return ContextRef{Name: parts[0], HostNamespace: parts[1], HostContext: parts[2]}, true
}

// HostOptions say which host cluster a command works on, as kubectl's flags
// do.
type HostOptions struct {
	// Kubeconfig is the kubeconfig file to read the host from and to write
	// virtual cluster contexts to. Default: $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// Context is the host's context. Default: the current context, or its host
	// when the current context is a virtual cluster's.
	Context string
}

// AddFlags binds the options to fs as --kubeconfig and --context.
func (o *HostOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Kubeconfig of the host cluster, and where virtual cluster contexts are written (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.Context, "context", o.Context, "Context of the host cluster (default: the current context, or its host when it is a virtual cluster's)")
}

// Host is a host cluster as the user's kubeconfig describes it.
type Host struct {
	// Context is the host's context name; it is part of every virtual
	// cluster's context name and local state path.
	Context string
	// Server is the host API server's URL.
	Server string
	// Config is the client config of the host.
	Config *rest.Config
	// UserKubeconfig is the file kubicle adds virtual cluster contexts to.
	UserKubeconfig string
	// Via is the virtual cluster whose context led to the host, when the
	// selected context was one.
	Via *ContextRef

	// Client and Dynamic are clients of the host, set by [Host.Check].
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
}

// ResolveHost finds the host cluster in the user's kubeconfig without
// contacting it; see the package documentation.
func ResolveHost(o HostOptions) (*Host, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	userFile := kubeconfig.DefaultPath()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
		userFile = o.Kubeconfig
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	where := strings.Join(rules.GetLoadingPrecedence(), string(rulesSeparator))
	if o.Kubeconfig != "" {
		where = o.Kubeconfig
	}
	name := o.Context
	if name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		return nil, fmt.Errorf("no host cluster: kubeconfig %s has no current context; pass --context, or start the embedded host with `kubicle host up`", where)
	}
	h := &Host{UserKubeconfig: userFile}
	if ref, ok := ParseContextName(name); ok {
		h.Via = &ref
		if _, found := raw.Contexts[ref.HostContext]; !found {
			return nil, fmt.Errorf("context %q is virtual cluster %q's, but its host context %q is not in kubeconfig %s; pass --context", name, ref.Name, ref.HostContext, where)
		}
		name = ref.HostContext
	}
	if _, found := raw.Contexts[name]; !found {
		return nil, fmt.Errorf("context %q not found in kubeconfig %s", name, where)
	}
	h.Context = name
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("host context %q: %w", name, err)
	}
	// Deleting a virtual cluster lists and deletes kind by kind; client-go's
	// default of 5 requests per second would make that take seconds.
	cfg.QPS, cfg.Burst = 50, 100
	// kubicle lists every kind a virtual cluster may own, deprecated ones
	// (v1 Endpoints) included; the host's deprecation warnings about that
	// would only confuse the user.
	cfg.WarningHandler = rest.NoWarnings{}
	h.Config, h.Server = cfg, cfg.Host
	return h, nil
}

// rulesSeparator joins kubeconfig paths in messages, as $KUBECONFIG does.
const rulesSeparator = ':'

// Check contacts the host and sets its clients. An unreachable host gives an
// error that names the server and the cause.
func (h *Host) Check(ctx context.Context) error {
	cfg := rest.CopyConfig(h.Config)
	cfg.Timeout = hostCheckTimeout
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("host cluster %s (context %q): %w", h.Server, h.Context, err)
	}
	if _, err := dc.ServerVersion(); err != nil {
		return fmt.Errorf("host cluster %s (context %q) is unreachable: %w", h.Server, h.Context, cause(err))
	}
	if h.Client, err = kubernetes.NewForConfig(h.Config); err != nil {
		return fmt.Errorf("host client: %w", err)
	}
	if h.Dynamic, err = dynamic.NewForConfig(h.Config); err != nil {
		return fmt.Errorf("host client: %w", err)
	}
	return nil
}

// ConnectHost resolves the host and checks that it answers.
func ConnectHost(ctx context.Context, o HostOptions) (*Host, error) {
	h, err := ResolveHost(o)
	if err != nil {
		return nil, err
	}
	if err := h.Check(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// cause strips the request URL from a client error, whose message repeats
// the server that the caller names already.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// hostKubeconfig returns a kubeconfig for the host that authenticates with
// token, keeping the server and how it is trusted from the user's config.
func (h *Host) hostKubeconfig(token string) (*clientcmdapi.Config, error) {
	ca := h.Config.CAData
	if len(ca) == 0 && h.Config.CAFile != "" {
		var err error
		if ca, err = readFile(h.Config.CAFile); err != nil {
			return nil, fmt.Errorf("reading the host's CA: %w", err)
		}
	}
	const name = "host"
	cfg := kubeconfig.New(name, kubeconfig.Credentials{Server: h.Server, CAData: ca, Token: token})
	cfg.Clusters[name].TLSServerName = h.Config.ServerName
	cfg.Clusters[name].InsecureSkipTLSVerify = h.Config.Insecure
	return cfg, nil
}
