// Package controlplane runs one Kubernetes control plane in one process: an embedded
// kube-apiserver 1.37, kube-controller-manager, an optional kube-scheduler and the
// backing store (kine on SQLite by default). It serves both a tenant's virtual cluster
// and the embedded host cluster; the two differ only in their Profile.
//
// The shape follows Kubernetes' own servers: Options → Complete → Validate → New →
// Run(ctx). Nothing here exits the process; failures come back from Run.
package controlplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Profile selects the controllers a control plane runs.
type Profile string

const (
	// ProfileVirtual is a tenant's virtual cluster: no controllers that belong to the
	// nodes and volumes of the host (node lifecycle, node IPAM, volume binding and
	// attach/detach, taint eviction), because the host does that work for synced pods.
	ProfileVirtual Profile = "virtual"
	// ProfileHost is a complete cluster that owns its nodes: every default controller.
	ProfileHost Profile = "host"
)

// Options are what a user can set for one control plane. The zero value is not
// usable; start from NewOptions.
type Options struct {
	// DataDir holds all state: PKI, the SQLite database, kubeconfigs, the lock.
	DataDir string
	// Listen is the address the API server serves on. Port 0 picks a free port the
	// first time and reuses it on every later start from the same data directory.
	Listen string
	// ExtraSANs are more DNS names or IPs for the serving certificate.
	ExtraSANs []string
	// Scheduler runs kube-scheduler in the process.
	Scheduler bool
	// LeaderElect makes the controller manager, the scheduler and the syncer's
	// controllers run only while this replica holds their Leases in the virtual
	// cluster, for several replicas that share one store (driver pod with
	// spec.controlPlane.replicas > 1, which turns it on). The API server, DNS and
	// the kubelet endpoint serve on every replica.
	LeaderElect bool
	// Profile picks the controller set; see ProfileVirtual and ProfileHost.
	Profile Profile
	// ServiceCIDR is the range Service ClusterIPs come from.
	ServiceCIDR string
	// Store names the backing store: StoreSQLite, StoreEmbeddedEtcd, StoreExternalEtcd
	// or StoreDatabase. Empty infers it: an external etcd when EtcdServers are given, a
	// database when StoreEndpoint is, else SQLite in DataDir/db/state.db.
	Store StoreType
	// StoreEndpoint is the kine datastore endpoint of a database store (postgres://…,
	// mysql://…). It carries credentials: it comes from a flag, never from the config.
	StoreEndpoint string
	// DatabaseDriver is the database dialect the config names ("postgres" or "mysql");
	// when set, StoreEndpoint's scheme must match it.
	DatabaseDriver string
	// EtcdServers are the client URLs of an external etcd cluster.
	EtcdServers []string
	// EtcdCAFile is the CA bundle that verifies an external etcd's serving
	// certificate; empty means the system's.
	EtcdCAFile string
	// EtcdCertFile and EtcdKeyFile are the client certificate and key for an external
	// etcd; both or neither.
	EtcdCertFile string
	// EtcdKeyFile is the key of EtcdCertFile.
	EtcdKeyFile string
	// EtcdPrefix is the key prefix in an external etcd, so that several control planes
	// can share one cluster; empty means the API server's default, /registry.
	EtcdPrefix string
	// ContextName names the cluster, user and context in DataDir/kubeconfig.
	ContextName string
	// APIServerArgs are extra kube-apiserver flags (name=value); each replaces
	// kubicle's flags of the same name.
	APIServerArgs []string
	// ControllerManagerArgs are extra kube-controller-manager flags, as APIServerArgs.
	ControllerManagerArgs []string

	// Name is the virtual cluster's name; it names its host objects.
	Name string
	// HostKubeconfig is the kubeconfig of the host cluster. With HostNamespace it
	// turns on the syncer: pods and what they need run on the host. Empty inside a
	// pod of the host (driver "pod"): the pod's service account credentials.
	HostKubeconfig string
	// PKIDir holds certificates and keys to use instead of generating them (driver
	// "pod" with several replicas or a shared store: every replica serves with the
	// same CA). Its files are copied into DataDir/pki at each start.
	PKIDir string
	// HostNamespace is the host namespace that holds the synced objects.
	HostNamespace string
	// VirtualCluster is the declarative config the control plane serves, when it was
	// started with --config; the syncer reads its sync and isolation sections.
	VirtualCluster *v1alpha1.VirtualCluster
	// MetricsListen is a plain-HTTP address serving /metrics (syncer and embedded
	// components); empty turns it off.
	MetricsListen string
	// DNSListen is where the virtual cluster's DNS server listens, UDP and TCP, when
	// the syncer runs. Empty means the API server's listen host; port 0 picks a free
	// port once and keeps it in DataDir/dns-address. With driver pod it is a fixed
	// port that the control plane's host Service maps port 53 to.
	DNSListen string
	// KubeletListen is where the kubelet endpoint listens (see package kubelet):
	// the address virtual nodes advertise, which the API server dials for logs,
	// exec and port-forward. Empty means the API server's client host with a port
	// picked once and kept in DataDir/kubelet-address. With driver pod it is a
	// fixed loopback port, the same in every replica.
	KubeletListen string
	// DNSUpstreams are the resolvers (IP or IP:port) that answer names outside the
	// cluster domain; empty means the nameservers of /etc/resolv.conf.
	DNSUpstreams []string
}

// NewOptions returns the defaults of `kubicle control-plane`.
func NewOptions() *Options {
	return &Options{
		Listen: "127.0.0.1:0",
		// A virtual cluster has no nodes of its own by default: the host schedules.
		Scheduler: false,
		Profile:   ProfileVirtual,
		// The range kubeadm and kind use, so manifests that assume it keep working.
		ServiceCIDR: "10.96.0.0/12",
		ContextName: "kubicle",
	}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory that holds all state of the control plane (required)")
	fs.StringVar(&o.Listen, "listen", o.Listen, "Address the API server serves on; port 0 picks a free port once and keeps it")
	fs.StringSliceVar(&o.ExtraSANs, "tls-san", o.ExtraSANs, "Extra DNS names or IPs for the API server's certificate")
	fs.BoolVar(&o.Scheduler, "scheduler", o.Scheduler, "Run kube-scheduler in the control plane")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Run the controllers, scheduler and syncer only while this replica holds their Leases (several replicas on one store); default: on when the config's controlPlane.replicas is more than 1")
	fs.StringVar((*string)(&o.Profile), "profile", string(o.Profile), "Controller set: virtual (tenant cluster) or host (owns nodes)")
	fs.StringVar(&o.ServiceCIDR, "service-cidr", o.ServiceCIDR, "Range of Service ClusterIPs")
	fs.StringVar((*string)(&o.Store), "store", string(o.Store), "Backing store: sqlite, embedded-etcd, external-etcd or database; default: external-etcd with --etcd-servers, database with --datastore-endpoint, else sqlite")
	fs.StringVar(&o.StoreEndpoint, "datastore-endpoint", o.StoreEndpoint, "Database of the database store, through kine (postgres://…, mysql://…)")
	fs.StringSliceVar(&o.EtcdServers, "etcd-servers", o.EtcdServers, "Client URLs of the external etcd store (https://host:2379), comma-separated")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", o.EtcdCAFile, "CA bundle that verifies the external etcd; default: the system's")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", o.EtcdCertFile, "Client certificate for the external etcd")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", o.EtcdKeyFile, "Client key for the external etcd")
	fs.StringVar(&o.EtcdPrefix, "etcd-prefix", o.EtcdPrefix, "Key prefix in the external etcd; default: /registry")
	fs.StringVar(&o.ContextName, "context-name", o.ContextName, "Name of the context in DATA_DIR/kubeconfig")
	fs.StringArrayVar(&o.APIServerArgs, "kube-apiserver-arg", o.APIServerArgs, "Extra kube-apiserver flag (name=value; commas stay in the value), repeatable; replaces kubicle's flag of that name")
	fs.StringVar(&o.Name, "name", o.Name, "Name of the virtual cluster (names its host objects)")
	fs.StringVar(&o.HostKubeconfig, "host-kubeconfig", o.HostKubeconfig, "Kubeconfig of the host cluster; with --host-namespace it starts the syncer (default inside a pod of the host: the pod's service account)")
	fs.StringVar(&o.PKIDir, "pki-dir", o.PKIDir, "Directory of certificates and keys (ca.crt, ca.key, …) to use instead of generating them; copied into DATA_DIR/pki at start")
	fs.StringVar(&o.HostNamespace, "host-namespace", o.HostNamespace, "Host namespace for the virtual cluster's synced objects")
	fs.StringVar(&o.MetricsListen, "metrics-listen", o.MetricsListen, "Address for plain-HTTP /metrics (e.g. 127.0.0.1:9090); empty: off")
	fs.StringVar(&o.DNSListen, "dns-listen", o.DNSListen, "Address (UDP and TCP) of the virtual cluster's DNS server; default: the --listen host, port 0 picks a free port once and keeps it")
	fs.StringVar(&o.KubeletListen, "kubelet-listen", o.KubeletListen, "Address (host:port) of the kubelet endpoint that virtual nodes advertise for logs, exec and port-forward; default: the --listen client host, at a port picked once and kept")
	fs.StringSliceVar(&o.DNSUpstreams, "dns-upstream", o.DNSUpstreams, "Resolver (IP or IP:port) for names outside the cluster domain, repeatable; default: the nameservers of /etc/resolv.conf")
	fs.StringArrayVar(&o.ControllerManagerArgs, "kube-controller-manager-arg", o.ControllerManagerArgs, "Extra kube-controller-manager flag (name=value; commas stay in the value), repeatable; replaces kubicle's flag of that name")
}

// ApplyConfig fills what the VirtualCluster vc says into options the user did not set
// on the command line (changed reports whether a flag was set): the name and host
// namespace, the scheduler, extra certificate names, the backing store.
func (o *Options) ApplyConfig(vc *v1alpha1.VirtualCluster, changed func(flag string) bool) {
	o.VirtualCluster = vc
	if !changed("name") {
		o.Name = vc.Name
	}
	if !changed("host-namespace") && (o.HostKubeconfig != "" || InCluster()) {
		o.HostNamespace = vc.Namespace
	}
	if !changed("scheduler") && vc.Spec.ControlPlane.Scheduler.Enabled != nil {
		o.Scheduler = *vc.Spec.ControlPlane.Scheduler.Enabled
	}
	if r := vc.Spec.ControlPlane.Replicas; !changed("leader-elect") && r != nil && *r > 1 {
		o.LeaderElect = true
	}
	if !changed("tls-san") {
		o.ExtraSANs = append(o.ExtraSANs, vc.Spec.ControlPlane.Expose.ExtraSANs...)
	}
	o.applyBackingStore(&vc.Spec.ControlPlane.BackingStore, changed)
}

// configStores maps the config's backing store types to stores.
var configStores = map[v1alpha1.BackingStoreType]StoreType{
	v1alpha1.BackingStoreSQLite:       StoreSQLite,
	v1alpha1.BackingStoreEmbeddedEtcd: StoreEmbeddedEtcd,
	v1alpha1.BackingStoreExternalEtcd: StoreExternalEtcd,
	v1alpha1.BackingStoreDatabase:     StoreDatabase,
}

// applyBackingStore maps spec.controlPlane.backingStore onto the store options. Any of
// --store, --datastore-endpoint and --etcd-servers given explicitly chooses the store
// instead of the config. The DSN and the external etcd's TLS files are not in the
// config (they live in Secrets): whoever starts the control plane passes them as
// flags.
func (o *Options) applyBackingStore(bs *v1alpha1.BackingStore, changed func(flag string) bool) {
	if !changed("store") && !changed("datastore-endpoint") && !changed("etcd-servers") {
		if st, ok := configStores[bs.Type]; ok {
			o.Store = st
		}
	}
	switch o.storeType() {
	case StoreExternalEtcd:
		if e := bs.ExternalEtcd; e != nil {
			if !changed("etcd-servers") {
				o.EtcdServers = e.Endpoints
			}
			if !changed("etcd-prefix") {
				o.EtcdPrefix = e.Prefix
			}
		}
	case StoreDatabase:
		if bs.Database != nil {
			o.DatabaseDriver = string(bs.Database.Driver)
		}
	}
}

// Validate returns every problem with the options.
func (o *Options) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if _, _, err := splitListen(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: %w", o.Listen, err))
	}
	if o.Profile != ProfileVirtual && o.Profile != ProfileHost {
		errs = append(errs, fmt.Errorf("--profile %q: must be %q or %q", o.Profile, ProfileVirtual, ProfileHost))
	}
	if _, err := netip.ParsePrefix(o.ServiceCIDR); err != nil {
		errs = append(errs, fmt.Errorf("--service-cidr %q: not a CIDR", o.ServiceCIDR))
	}
	errs = append(errs, o.validateStore()...)
	switch {
	case o.HostKubeconfig != "" && o.HostNamespace == "":
		errs = append(errs, errors.New("--host-kubeconfig needs --host-namespace, the host namespace to sync to"))
	case o.HostNamespace != "" && o.HostKubeconfig == "" && !InCluster():
		errs = append(errs, errors.New("--host-namespace needs --host-kubeconfig, or to run in a pod of the host cluster (whose service account the syncer then uses)"))
	}
	if o.HostNamespace != "" && o.Name == "" {
		errs = append(errs, errors.New("--name is required with --host-namespace: it names the host objects"))
	}
	if o.PKIDir != "" {
		if fi, err := os.Stat(o.PKIDir); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("--pki-dir %s: not a directory", o.PKIDir))
		}
	}
	errs = append(errs, o.validateDNS()...)
	for _, a := range append(append([]string{}, o.APIServerArgs...), o.ControllerManagerArgs...) {
		if !strings.Contains(a, "=") {
			errs = append(errs, fmt.Errorf("extra flag %q: expected name=value", a))
		}
	}
	return errors.Join(errs...)
}

// Complete fills in derived values: an absolute data directory and, when the port is
// 0, the port a previous start from the same data directory used.
func (o *Options) Complete() (*CompletedOptions, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", o.DataDir, err)
	}
	c := &CompletedOptions{Options: *o}
	c.DataDir = dir
	c.Store = o.storeType()
	host, port, _ := splitListen(o.Listen)
	if port == 0 {
		if prev, err := os.ReadFile(c.path("listen-address")); err == nil {
			if h, p, err := splitListen(strings.TrimSpace(string(prev))); err == nil && h == host {
				port = p
			}
		}
	}
	c.Host, c.Port = host, port
	prefix := netip.MustParsePrefix(o.ServiceCIDR)
	c.ServiceIP = net.IP(prefix.Masked().Addr().Next().AsSlice())
	return c, nil
}

// CompletedOptions are validated options with derived values filled in.
type CompletedOptions struct {
	Options
	// Host and Port are the parts of Listen; Port 0 means "pick one".
	Host string
	// Port is the API server port; 0 until a listener is bound.
	Port int
	// ServiceIP is the ClusterIP of the kubernetes Service (first of ServiceCIDR).
	ServiceIP net.IP
}

func (c *CompletedOptions) path(elem ...string) string {
	return filepath.Join(append([]string{c.DataDir}, elem...)...)
}

// KubeconfigPath is where the admin kubeconfig is written.
func (c *CompletedOptions) KubeconfigPath() string { return c.path("kubeconfig") }

// clientHost is the address clients use: the listen host, or loopback for a wildcard.
func (c *CompletedOptions) clientHost() string {
	if ip := net.ParseIP(c.Host); ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return c.Host
}

func splitListen(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// DatastoreEndpointEnv is the environment variable that gives --datastore-endpoint,
// so that a pod takes the data source name, which carries a password, from a Secret
// rather than from its command line.
const DatastoreEndpointEnv = deploy.DatastoreEndpointEnv

// serviceAccountDir is where a pod's service account credentials are mounted.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InCluster reports whether this process runs in a pod with service account
// credentials for its cluster, as a control plane with driver "pod" does.
func InCluster() bool {
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(serviceAccountDir, "token"))
	return err == nil
}

// syncsToHost reports whether the control plane runs a syncer to a host.
func (o *Options) syncsToHost() bool { return o.HostNamespace != "" }
