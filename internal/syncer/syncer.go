// Package syncer copies a virtual cluster's workloads to its host namespace and the
// truth about them back: pod specs and what they reference go down (translated by
// package translate), status, node placement and service addresses come up. It is
// level-based: every reconcile compares the virtual object with its host copy and
// makes the host match, so a restart, a host object edited or deleted behind its
// back, or a virtual object deleted while the syncer was down all converge.
//
// It runs two caches: the virtual cluster's (every namespace) and the host's (the
// host namespace only, and only objects carrying this virtual cluster's markers),
// so it cannot see, let alone touch, anything that is not its own.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// FieldOwner is the field manager of every write the syncer makes.
const FieldOwner = client.FieldOwner("kubicle-syncer")

// Config is what the syncer needs from the control plane that runs it.
type Config struct {
	// Name is the virtual cluster's name.
	Name string
	// HostNamespace holds the synced objects on the host.
	HostNamespace string
	// Virtual is an admin client config of the virtual API server.
	Virtual *rest.Config
	// Host is a client config of the host cluster, limited to HostNamespace (plus
	// read access to nodes) by its RBAC.
	Host *rest.Config
	// VirtualCluster is the declarative config; nil means all defaults.
	VirtualCluster *v1alpha1.VirtualCluster
	// APIServerHost and APIServerPort are where host pods reach the virtual API server.
	APIServerHost string
	// APIServerPort is the port at APIServerHost.
	APIServerPort int32
	// DNSServer is the IP of the virtual cluster's DNS server, given to synced pods
	// as their nameserver. Resolvers ask port 53 there: with driver pod that is the
	// control plane's host Service, which forwards it to the DNS listener (package
	// dns); with driver process, the listener's own address.
	DNSServer string
	// KubeletIP and KubeletPort are the address virtual nodes advertise for their
	// kubelet API (served by the control plane, see package kubelet).
	KubeletIP string
	// KubeletPort is the kubelet API's port.
	KubeletPort int32
	// Metrics receives the syncer's own metrics; nil means none.
	Metrics prometheus.Registerer
	// LeaderElection, when set, runs the controllers only while this syncer holds
	// the Lease it names in the virtual cluster; the caches (and so VirtualReader,
	// EnsureHostService and CheckService) serve on every replica. Nil: no election.
	LeaderElection *LeaderElection
}

// LeaderElection names the Lease that the syncers of a control plane's replicas
// elect their leader with, and its timing.
type LeaderElection struct {
	// Namespace is the Lease's namespace in the virtual cluster.
	Namespace string
	// Name is the Lease's name.
	Name string
	// Identity is this replica's holder identity.
	Identity string
	// LeaseDuration is how long followers wait after the last renewal.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader tries to renew before it gives up.
	RenewDeadline time.Duration
	// RetryPeriod is how often candidates try and the leader renews.
	RetryPeriod time.Duration
}

// Syncer is a running syncer.
type Syncer struct {
	cfg      Config
	vc       *v1alpha1.VirtualCluster
	target   translate.Target
	mgr      manager.Manager
	host     cluster.Cluster
	hostAPI  client.Client // uncached host client, for reads that must not lag
	metrics  *metrics
	recorder record.EventRecorder
	ready    atomic.Bool
	log      logr.Logger
	// pseudoToHost maps made-up node names to host node names (pseudo mode).
	pseudoToHost sync.Map
}

// New builds a syncer; nothing runs until Start.
func New(cfg Config, log logr.Logger) (*Syncer, error) {
	if cfg.Name == "" || cfg.HostNamespace == "" || cfg.Virtual == nil || cfg.Host == nil {
		return nil, errors.New("syncer: name, host namespace and both client configs are required")
	}
	vc := cfg.VirtualCluster
	if vc == nil {
		vc = &v1alpha1.VirtualCluster{}
		vc.Name, vc.Namespace = cfg.Name, cfg.HostNamespace
	}
	vc = vc.DeepCopy()
	v1alpha1.Default(vc)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mo := manager.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}
	if le := cfg.LeaderElection; le != nil {
		mo.LeaderElection = true
		mo.LeaderElectionResourceLock = "leases"
		mo.LeaderElectionNamespace, mo.LeaderElectionID = le.Namespace, le.Name
		mo.LeaseDuration, mo.RenewDeadline, mo.RetryPeriod = &le.LeaseDuration, &le.RenewDeadline, &le.RetryPeriod
		// A syncer that stops cleanly hands over at once rather than after
		// LeaseDuration.
		mo.LeaderElectionReleaseOnCancel = true
		// The control plane's identity, the one its controller manager's Lease
		// names too.
		coord, err := coordinationv1client.NewForConfig(cfg.Virtual)
		if err != nil {
			return nil, fmt.Errorf("syncer: leader election client: %w", err)
		}
		mo.LeaderElectionResourceLockInterface = &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: le.Namespace, Name: le.Name},
			Client:     coord,
			LockConfig: resourcelock.ResourceLockConfig{Identity: le.Identity},
		}
	}
	mgr, err := manager.New(cfg.Virtual, mo)
	if err != nil {
		return nil, fmt.Errorf("syncer: virtual cluster client: %w", err)
	}
	managed := translate.ManagedSelector(cfg.Name)
	classes, err := hostClassCache(vc)
	if err != nil {
		return nil, fmt.Errorf("syncer: %w", err)
	}
	host, err := cluster.New(cfg.Host, func(o *cluster.Options) {
		o.Scheme = scheme
		o.Logger = log.WithName("host")
		o.Cache.DefaultNamespaces = map[string]cache.Config{cfg.HostNamespace: {}}
		o.Cache.ByObject = map[client.Object]cache.ByObject{
			&corev1.Pod{}:                   {Label: managed},
			&corev1.Service{}:               {Label: managed},
			&corev1.ConfigMap{}:             {Label: managed},
			&corev1.Secret{}:                {Label: managed},
			&corev1.PersistentVolumeClaim{}: {Label: managed},
			&networkingv1.Ingress{}:         {Label: managed},
			&discoveryv1.EndpointSlice{}:    {Label: managed},
			&networkingv1.NetworkPolicy{}:   {Label: managed},
			&corev1.Node{}:                  {Label: labels.Everything()},
		}
		for obj, by := range classes {
			o.Cache.ByObject[obj] = by
		}
	})
	if err != nil {
		return nil, fmt.Errorf("syncer: host cluster client: %w", err)
	}
	if err := mgr.Add(host); err != nil {
		return nil, err
	}
	hostAPI, err := client.New(cfg.Host, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("syncer: host cluster client: %w", err)
	}
	s := &Syncer{
		cfg: cfg, vc: vc, mgr: mgr, host: host, hostAPI: hostAPI, log: log,
		target:  translate.Target{VCluster: cfg.Name, HostNamespace: cfg.HostNamespace},
		metrics: newMetrics(cfg.Metrics),
	}
	if err := s.setup(); err != nil {
		return nil, err
	}
	// The virtual cluster's DNS server reads these through VirtualReader; an
	// informer registered now starts with the cache, not on the first query.
	for _, obj := range []client.Object{&discoveryv1.EndpointSlice{}, &corev1.Namespace{}} {
		if _, err := mgr.GetCache().GetInformer(context.Background(), obj); err != nil {
			return nil, fmt.Errorf("syncer: informer for %T: %w", obj, err)
		}
	}
	return s, nil
}

// VirtualReader reads the virtual cluster from the syncer's cache: Services, Pods,
// EndpointSlices and Namespaces of every namespace, kept current by informers that
// run while Start does. Reads fail until Start has started the cache and wait until
// it has synced. The virtual cluster's DNS server answers from it.
func (s *Syncer) VirtualReader() client.Reader { return s.mgr.GetCache() }

// Start runs the controllers until ctx is cancelled.
func (s *Syncer) Start(ctx context.Context) error {
	go func() {
		if s.mgr.GetCache().WaitForCacheSync(ctx) && s.host.GetCache().WaitForCacheSync(ctx) {
			s.ready.Store(true)
			s.log.Info("Syncer caches synced", "hostNamespace", s.cfg.HostNamespace)
		}
	}()
	return s.mgr.Start(klog.NewContext(ctx, s.log))
}

// Ready reports whether both caches have synced.
func (s *Syncer) Ready() bool { return s.ready.Load() }

func (s *Syncer) podOptions() translate.PodOptions {
	iso := s.vc.Spec.Isolation
	opts := translate.PodOptions{
		Target:            s.target,
		APIServerHost:     s.cfg.APIServerHost,
		APIServerPort:     s.cfg.APIServerPort,
		DNSServer:         s.cfg.DNSServer,
		NodeSelector:      iso.NodeSelector,
		Tolerations:       iso.Tolerations,
		ResolveNamespaces: s.resolveNamespaces,
		HostNodeName: func(v string) string {
			if h, err := s.hostNodeName(context.Background(), v); err == nil && h != "" {
				return h
			}
			return v // no such node: the syncer's node check says so
		},
		// Only the host classes the platform offers; the syncer refuses a pod
		// that names another class (see createHostPod).
		PriorityClassName: func(n string) string {
			if s.offeredPriorityClass(n) {
				return n
			}
			return ""
		},
	}
	if s.vc.Spec.ControlPlane.Scheduler.Enabled != nil {
		opts.VirtualScheduler = *s.vc.Spec.ControlPlane.Scheduler.Enabled
	}
	return opts
}

// kubeletAddress is the host:port virtual nodes advertise.
func (s *Syncer) kubeletAddress() string {
	return net.JoinHostPort(s.cfg.KubeletIP, strconv.Itoa(int(s.cfg.KubeletPort)))
}
