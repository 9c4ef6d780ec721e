package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"kubicle.dev/kubicle/internal/controlplane/pki"
	"kubicle.dev/kubicle/internal/syncer"
	"kubicle.dev/kubicle/internal/syncer/dns"
	"kubicle.dev/kubicle/internal/syncer/kubelet"
)

// runnable is a part started after the API server, stopped with the components.
type runnable struct {
	name string
	run  func(ctx context.Context) error
}

// startSyncer builds the syncer against the host and hooks it into the API server's
// service admission. The syncer never imports this package: the control plane runs
// the syncer, not the other way round.
func (s *Server) startSyncer(ctx context.Context, b *pki.Bundle, identity string) ([]runnable, error) {
	o := s.opts
	host, err := clientcmd.BuildConfigFromFlags("", o.HostKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("host kubeconfig %s: %w", o.HostKubeconfig, err)
	}
	host.QPS, host.Burst = 100, 200 // the syncer writes a pod per tenant pod
	apiHost, apiPort, viaService, err := s.apiAddress()
	if err != nil {
		return nil, err
	}
	kubeletLn, err := o.listenKubelet()
	if err != nil {
		return nil, fmt.Errorf("kubelet endpoint: %w", err)
	}
	dnsUDP, dnsTCP, err := listenDNS(o.path("dns-address"), o.dnsListen())
	if err != nil {
		_ = kubeletLn.Close()
		return nil, fmt.Errorf("dns server: %w", err)
	}
	closeAll := func() {
		_ = kubeletLn.Close()
		_ = dnsUDP.Close()
		_ = dnsTCP.Close()
	}
	// Pods ask port 53 of one IP. With driver pod that is the host Service, which
	// must map port 53 (UDP and TCP) to the DNS listener's port (--dns-listen); with
	// driver process, the listener itself (useful on hosts whose pods share the
	// machine's network, and for tests that query it).
	dnsServer := clientIP(dnsTCP.Addr())
	if viaService {
		// Driver pod: the ClusterIP of the NAME-dns Service that deploy renders.
		if ip, err := s.hostServiceIP(ctx, o.Name+"-dns"); err != nil {
			closeAll()
			return nil, fmt.Errorf("dns service: %w", err)
		} else if ip != "" {
			dnsServer = ip
		} else {
			dnsServer = apiHost
		}
	}
	kubeletSrv, err := kubelet.New(kubelet.Config{
		HostConfig:         host,
		HostNamespace:      o.HostNamespace,
		VirtualCluster:     o.Name,
		CertFile:           b.KubeletServing.CertFile,
		KeyFile:            b.KubeletServing.KeyFile,
		ClientCAFile:       b.CA.CertFile,
		AllowedClientNames: []string{pki.APIServerKubeletClientName},
	})
	if err != nil {
		closeAll()
		return nil, err
	}
	cfg := syncer.Config{
		Name:           o.Name,
		HostNamespace:  o.HostNamespace,
		Virtual:        s.AdminConfig(),
		Host:           host,
		VirtualCluster: o.VirtualCluster,
		APIServerHost:  apiHost,
		APIServerPort:  apiPort,
		DNSServer:      dnsServer,
		KubeletIP:      clientIP(kubeletLn.Addr()),
		KubeletPort:    int32(kubeletLn.Addr().(*net.TCPAddr).Port),
		Metrics:        legacyregistry.Registerer(),
	}
	if o.LeaderElect {
		cfg.LeaderElection = &syncer.LeaderElection{
			Namespace: LeaseNamespace, Name: SyncerLease, Identity: identity,
			LeaseDuration: LeaseDuration, RenewDeadline: RenewDeadline, RetryPeriod: RetryPeriod,
		}
	}
	cfg.Virtual.QPS, cfg.Virtual.Burst = 100, 200
	sync, err := syncer.New(cfg, klog.FromContext(ctx).WithName("syncer"))
	if err != nil {
		closeAll()
		return nil, err
	}
	dnsSrv, err := dns.New(dns.Config{
		Reader:    sync.VirtualReader(),
		Upstreams: o.DNSUpstreams,
		Metrics:   legacyregistry.Registerer(),
	})
	if err != nil {
		closeAll()
		return nil, err
	}
	s.usable.waitForSyncer(sync.Ready)
	ensure := HostServiceFunc(sync.EnsureHostService)
	s.serviceIPs.ensure.Store(&ensure)
	check := ServiceCheckFunc(sync.CheckService)
	s.serviceIPs.check.Store(&check)
	return []runnable{
		{name: "syncer", run: sync.Start},
		{name: "kubelet endpoint", run: func(ctx context.Context) error { return kubeletSrv.Run(ctx, kubeletLn) }},
		{name: "dns server", run: func(ctx context.Context) error { return dnsSrv.Run(ctx, dnsUDP, dnsTCP) }},
	}, nil
}

// dnsListen is where the DNS server listens: --dns-listen, else the API server's
// host with a port picked once.
func (c *CompletedOptions) dnsListen() string {
	if c.DNSListen != "" {
		return c.DNSListen
	}
	return net.JoinHostPort(c.Host, "0")
}

// validateDNS checks --dns-listen, --dns-upstream and --kubelet-listen.
func (o *Options) validateDNS() []error {
	var errs []error
	if o.DNSListen != "" {
		if _, _, err := splitListen(o.DNSListen); err != nil {
			errs = append(errs, fmt.Errorf("--dns-listen %q: %w", o.DNSListen, err))
		}
	}
	if o.KubeletListen != "" {
		if _, port, err := splitListen(o.KubeletListen); err != nil {
			errs = append(errs, fmt.Errorf("--kubelet-listen %q: %w", o.KubeletListen, err))
		} else if port == 0 {
			errs = append(errs, fmt.Errorf("--kubelet-listen %q: needs a fixed port (leave the flag out for one picked once and kept)", o.KubeletListen))
		}
	}
	for _, u := range o.DNSUpstreams {
		if _, err := netip.ParseAddr(strings.Trim(u, "[]")); err == nil {
			continue
		}
		if ap, err := netip.ParseAddrPort(u); err != nil || ap.Port() == 0 {
			errs = append(errs, fmt.Errorf("--dns-upstream %q: expected IP or IP:port", u))
		}
	}
	return errs
}

// listenDNS opens UDP and TCP on the same port of addr. Port 0 picks a port free for
// both the first time and reuses it on later starts: the port is recorded in file
// (as host:port), like listenRemembered does for the kubelet endpoint, because pods
// and Services written earlier point at it.
func listenDNS(file, addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	remember := func(udp net.PacketConn, tcp net.Listener) (net.PacketConn, net.Listener, error) {
		p := strconv.Itoa(tcp.Addr().(*net.TCPAddr).Port)
		if err := os.WriteFile(file, []byte(net.JoinHostPort(host, p)+"\n"), 0o600); err != nil {
			_ = udp.Close()
			_ = tcp.Close()
			return nil, nil, err
		}
		return udp, tcp, nil
	}
	if port != "0" {
		udp, tcp, err := listenUDPAndTCP(addr)
		if err != nil {
			return nil, nil, err
		}
		return remember(udp, tcp)
	}
	if data, err := os.ReadFile(file); err == nil {
		prev := strings.TrimSpace(string(data))
		if h, _, err := net.SplitHostPort(prev); err == nil && h == host {
			if udp, tcp, err := listenUDPAndTCP(prev); err == nil {
				return udp, tcp, nil
			}
		}
	}
	var lastErr error
	for range 10 { // a port free for TCP may be taken for UDP: pick another
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := strconv.Itoa(tcp.Addr().(*net.TCPAddr).Port)
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, p))
		if err != nil {
			_ = tcp.Close()
			lastErr = err
			continue
		}
		return remember(udp, tcp)
	}
	return nil, nil, lastErr
}

func listenUDPAndTCP(addr string) (net.PacketConn, net.Listener, error) {
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		_ = tcp.Close()
		return nil, nil, err
	}
	return udp, tcp, nil
}

// clientIP is the IP at which a listener is reached on this machine: its own, or
// loopback for a wildcard.
func clientIP(a net.Addr) string {
	ip := a.(*net.TCPAddr).IP
	if ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return ip.String()
}

// listenKubelet opens the kubelet endpoint's listener: --kubelet-listen, else the
// API server's client host at a port picked once and kept in the data directory.
// Replicas of one control plane need the fixed address: virtual nodes advertise
// one port, which every replica's API server dials on its own loopback.
func (c *CompletedOptions) listenKubelet() (net.Listener, error) {
	if c.KubeletListen != "" {
		ln, err := net.Listen("tcp", c.KubeletListen)
		if err != nil {
			return nil, fmt.Errorf("--kubelet-listen %s: %w", c.KubeletListen, rootCause(err))
		}
		return ln, nil
	}
	return listenRemembered(c.path("kubelet-address"), c.clientHost())
}

// listenRemembered listens on host at the port recorded in file, or a free one that
// it records, so that an address written into objects (a virtual node's kubelet
// endpoint) stays valid across restarts.
func listenRemembered(file, host string) (net.Listener, error) {
	if data, err := os.ReadFile(file); err == nil {
		if ln, err := net.Listen("tcp", strings.TrimSpace(string(data))); err == nil {
			return ln, nil
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// lookupHostService returns the ClusterIP of the host Service named after the
// virtual cluster, in front of this API server (driver pod), or "" when there is
// none (driver process): the one host lookup the control plane makes at start, for
// its serving certificate (tenant pods dial that address as
// KUBERNETES_SERVICE_HOST) and for the syncer (see apiAddress).
func (s *Server) lookupHostService(ctx context.Context) (string, error) {
	o := s.opts
	cfg, err := clientcmd.BuildConfigFromFlags("", o.HostKubeconfig)
	if err != nil {
		return "", err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	svc, err := client.CoreV1().Services(o.HostNamespace).Get(rctx, o.Name, metav1.GetOptions{})
	if err == nil && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return svc.Spec.ClusterIP, nil
	}
	// A control plane inside the host runs with a Role in its namespace, which cannot
	// read the Namespace object: Forbidden then means "exists, not ours to read".
	if _, err := client.CoreV1().Namespaces().Get(rctx, o.HostNamespace, metav1.GetOptions{}); err != nil && !apierrors.IsForbidden(err) {
		return "", fmt.Errorf("host namespace %s: %w", o.HostNamespace, err)
	}
	return "", nil
}

// apiAddress is where host pods reach this API server: the host Service's
// ClusterIP (viaService true), else this process's own address. Valid once Run
// has looked the Service up and listens.
func (s *Server) apiAddress() (host string, port int32, viaService bool, err error) {
	if s.hostService.err != nil {
		return "", 0, false, s.hostService.err
	}
	if ip := s.hostService.clusterIP; ip != "" {
		return ip, 443, true, nil
	}
	return s.opts.clientHost(), int32(s.opts.Port), false, nil
}

// hostServiceIP returns the ClusterIP of host Service name in the host namespace, or
// "" when there is no such Service.
func (s *Server) hostServiceIP(ctx context.Context, name string) (string, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.opts.HostKubeconfig)
	if err != nil {
		return "", err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	svc, err := client.CoreV1().Services(s.opts.HostNamespace).Get(rctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", nil
	}
	return svc.Spec.ClusterIP, nil
}

// serveMetrics serves /metrics in plain HTTP: the embedded components' metrics (the
// legacy registry) and the syncer's controllers (controller-runtime's registry).
func serveMetrics(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener %s: %w", addr, rootCause(err))
	}
	mux := http.NewServeMux()
	gatherers := prometheus.Gatherers{legacyregistry.DefaultGatherer, prefixed{ctrlmetrics.Registry, "kubicle_syncer_"}}
	mux.Handle("/metrics", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// prefixed renames every family of a gatherer. The syncer's controller-runtime
// series (workqueue_depth, controller_runtime_reconcile_time_seconds, …) share names
// with the API server's client-go series but not their help text, which Prometheus
// refuses to merge; prefixed they read as kubicle_syncer_workqueue_depth{name="pods"}.
type prefixed struct {
	prometheus.Gatherer
	prefix string
}

// Gather returns the families with the prefix added to their names.
func (p prefixed) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := p.Gatherer.Gather()
	for _, mf := range mfs {
		name := p.prefix + mf.GetName()
		mf.Name = &name
	}
	return mfs, err
}
