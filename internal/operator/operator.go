package operator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/lifecycle"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// LeaderElectionID names the Lease that replicas of the operator elect a
// leader with.
const LeaderElectionID = "kubicle-operator.kubicle.dev"

// InClusterHost is the name the operator gives the host it runs in
// ([lifecycle.NewHost]) when it reaches it with its pod's ServiceAccount.
const InClusterHost = "in-cluster"

// serviceAccountNamespaceFile holds the namespace of a pod's ServiceAccount.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Options configure the operator: the flags of `kubicle operator`.
type Options struct {
	// Kubeconfig is the kubeconfig of the host cluster. Default: in a pod,
	// its ServiceAccount; else $KUBECONFIG or ~/.kube/config, as kubectl
	// does.
	Kubeconfig string
	// Context is the host's context in the kubeconfig. Default: its current
	// context. It names the host in the local state of process-driven
	// control planes, so it must stay the same across restarts.
	Context string
	// WatchNamespace limits the operator to the VirtualCluster objects of
	// one namespace. Default: all namespaces.
	WatchNamespace string
	// LeaderElect makes replicas elect one leader through a Lease, so that
	// only one reconciles. Default: off: the operator runs once, and with
	// driver "process" the control planes are processes of the machine that
	// started them, which a second replica elsewhere could not see.
	LeaderElect bool
	// LeaderElectionNamespace holds the Lease. Default: $POD_NAMESPACE, else
	// the namespace of the pod's ServiceAccount.
	LeaderElectionNamespace string
	// MetricsAddr serves controller-runtime's Prometheus metrics; "0"
	// turns them off. Default: "0".
	MetricsAddr string
	// HealthAddr serves /healthz and /readyz; "0" turns them off.
	// Default: "0".
	HealthAddr string
	// ControlPlaneImage is the control plane image of driver "pod" when
	// spec.controlPlane.image names none. Default: deploy.DefaultImage.
	ControlPlaneImage string
	// Workers is how many virtual clusters are reconciled at once.
	// Default: 4.
	Workers int
	// CheckInterval is how often a ready virtual cluster is checked.
	// Default: DefaultCheckInterval.
	CheckInterval time.Duration
	// ReapplyInterval is how often an unchanged virtual cluster's host
	// objects are applied again. Default: DefaultReapplyInterval.
	ReapplyInterval time.Duration
}

// NewOptions returns the default options.
func NewOptions() *Options {
	return &Options{
		MetricsAddr:       "0",
		HealthAddr:        "0",
		ControlPlaneImage: deploy.DefaultImage,
		Workers:           4,
		CheckInterval:     DefaultCheckInterval,
		ReapplyInterval:   DefaultReapplyInterval,
	}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Kubeconfig of the host cluster (default: the pod's ServiceAccount in a pod, else $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.Context, "context", o.Context, "Context of the host cluster in the kubeconfig (default: its current context)")
	fs.StringVar(&o.WatchNamespace, "watch-namespace", o.WatchNamespace, "Reconcile the VirtualCluster objects of this namespace only (default: all namespaces)")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect one active replica through a Lease (for several replicas with driver pod; a process-driven control plane runs on the machine of the replica that started it)")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader election Lease (default: $POD_NAMESPACE, else the pod's namespace)")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, `Address of the Prometheus metrics endpoint, such as ":8080"; "0" turns it off`)
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", o.HealthAddr, `Address of /healthz and /readyz, such as ":8081"; "0" turns them off`)
	fs.StringVar(&o.ControlPlaneImage, "control-plane-image", o.ControlPlaneImage, "Image of pod-driven control planes whose spec.controlPlane.image names none")
	fs.IntVar(&o.Workers, "workers", o.Workers, "How many virtual clusters are reconciled at once")
	fs.DurationVar(&o.CheckInterval, "check-interval", o.CheckInterval, "How often a ready virtual cluster's control plane is checked")
	fs.DurationVar(&o.ReapplyInterval, "reapply-interval", o.ReapplyInterval, "How often an unchanged virtual cluster's host objects are applied again (drift repair)")
}

// Validate reports options that cannot work, every one at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers %d: must be at least 1", o.Workers))
	}
	if o.CheckInterval < time.Second {
		errs = append(errs, fmt.Errorf("--check-interval %s: must be at least 1s", o.CheckInterval))
	}
	if o.ReapplyInterval < time.Second {
		errs = append(errs, fmt.Errorf("--reapply-interval %s: must be at least 1s", o.ReapplyInterval))
	}
	if strings.ContainsAny(o.ControlPlaneImage, " \t\n") || o.ControlPlaneImage == "" {
		errs = append(errs, fmt.Errorf("--control-plane-image %q: must be an image reference", o.ControlPlaneImage))
	}
	return errors.Join(errs...)
}

// Operator is a configured operator; [Operator.Run] runs it.
type Operator struct {
	mgr  ctrl.Manager
	host *lifecycle.Host
}

// New connects to the host, checks that the VirtualCluster CRD is
// installed, and builds the controller manager.
func New(ctx context.Context, o Options) (*Operator, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	logger := klog.NewKlogr().WithName("operator")
	ctrllog.SetLogger(logger)

	cfg, name, err := o.hostConfig()
	if err != nil {
		return nil, err
	}
	host, err := lifecycle.NewHost(ctx, cfg, name)
	if err != nil {
		return nil, err
	}
	if err := checkCRD(host); err != nil {
		return nil, err
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mo := ctrl.Options{
		Scheme:                        scheme,
		Logger:                        logger,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.HealthAddr,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			// Only the control planes' StatefulSets, not every one on the host.
			&appsv1.StatefulSet{}: {Label: labels.SelectorFromSet(labels.Set{
				translate.LabelManagedBy: translate.ManagedBy,
				deploy.LabelComponent:    deploy.ComponentControlPlane,
			})},
		}},
	}
	if o.WatchNamespace != "" {
		mo.Cache.DefaultNamespaces = map[string]cache.Config{o.WatchNamespace: {}}
	}
	if o.LeaderElect {
		if mo.LeaderElectionNamespace, err = o.leaseNamespace(); err != nil {
			return nil, err
		}
	}
	mgr, err := ctrl.NewManager(host.Config, mo)
	if err != nil {
		return nil, fmt.Errorf("building the controller manager: %w", err)
	}
	if o.HealthAddr != "0" && o.HealthAddr != "" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
	}
	r := &Reconciler{
		Client:          mgr.GetClient(),
		Host:            host,
		Apply:           lifecycle.ApplyOptions{Image: o.ControlPlaneImage},
		CheckInterval:   o.CheckInterval,
		ReapplyInterval: o.ReapplyInterval,
		Workers:         o.Workers,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the VirtualCluster controller: %w", err)
	}
	logger.Info("Host", "server", host.Server, "name", host.Context, "watchNamespace", o.WatchNamespace,
		"leaderElection", o.LeaderElect, "stateDir", lifecycle.StateDir())
	return &Operator{mgr: mgr, host: host}, nil
}

// Run reconciles until ctx is cancelled. Control plane processes it started
// keep running after it stops; the next run finds them again.
func (op *Operator) Run(ctx context.Context) error {
	if err := op.mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the operator: %w", err)
	}
	return nil
}

// hostConfig finds the host: the pod's ServiceAccount when the operator
// runs in a pod and no kubeconfig is named, else the kubeconfig as kubectl
// finds it.
func (o *Options) hostConfig() (*rest.Config, string, error) {
	if o.Kubeconfig == "" && o.Context == "" && os.Getenv("KUBECONFIG") == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, InClusterHost, nil
		}
	}
	h, err := lifecycle.ResolveHost(lifecycle.HostOptions{Kubeconfig: o.Kubeconfig, Context: o.Context})
	if err != nil {
		return nil, "", err
	}
	return h.Config, h.Context, nil
}

// leaseNamespace is the namespace of the leader election Lease.
func (o *Options) leaseNamespace() (string, error) {
	if o.LeaderElectionNamespace != "" {
		return o.LeaderElectionNamespace, nil
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	if data, err := os.ReadFile(serviceAccountNamespaceFile); err == nil && strings.TrimSpace(string(data)) != "" {
		return strings.TrimSpace(string(data)), nil
	}
	return "", errors.New("--leader-elect needs --leader-election-namespace outside a pod")
}

// checkCRD fails with what to do when the host does not serve
// VirtualCluster objects.
func checkCRD(h *lifecycle.Host) error {
	gv := v1alpha1.SchemeGroupVersion.String()
	list, err := h.Client.Discovery().ServerResourcesForGroupVersion(gv)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("asking host %s for %s: %w", h.Server, gv, err)
	}
	if list != nil {
		for _, r := range list.APIResources {
			if r.Name == v1alpha1.VirtualClusterResource {
				return nil
			}
		}
	}
	return fmt.Errorf("host %s does not serve %s %s: install the CRD first (kubectl apply -f charts/kubicle/crds/, or the Helm chart charts/kubicle)",
		h.Server, gv, v1alpha1.VirtualClusterKind)
}
