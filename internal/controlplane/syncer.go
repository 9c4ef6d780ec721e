package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"kubicle.dev/kubicle/internal/controlplane/pki"
	"kubicle.dev/kubicle/internal/syncer"
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
func (s *Server) startSyncer(ctx context.Context, b *pki.Bundle) ([]runnable, error) {
	o := s.opts
	host, err := clientcmd.BuildConfigFromFlags("", o.HostKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("host kubeconfig %s: %w", o.HostKubeconfig, err)
	}
	host.QPS, host.Burst = 100, 200 // the syncer writes a pod per tenant pod
	apiHost, apiPort, err := s.apiServiceAddress(ctx)
	if err != nil {
		return nil, err
	}
	kubeletLn, err := listenRemembered(o.path("kubelet-address"), o.clientHost())
	if err != nil {
		return nil, fmt.Errorf("kubelet endpoint: %w", err)
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
		_ = kubeletLn.Close()
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
		// Tenant pods resolve names through the virtual cluster's DNS address; until a
		// DNS server is served there, that is the control plane's service address.
		DNSServer:   apiHost,
		KubeletIP:   o.clientHost(),
		KubeletPort: int32(kubeletLn.Addr().(*net.TCPAddr).Port),
		Metrics:     legacyregistry.Registerer(),
	}
	cfg.Virtual.QPS, cfg.Virtual.Burst = 100, 200
	sync, err := syncer.New(cfg, klog.FromContext(ctx).WithName("syncer"))
	if err != nil {
		_ = kubeletLn.Close()
		return nil, err
	}
	ensure := HostServiceFunc(sync.EnsureHostService)
	s.serviceIPs.ensure.Store(&ensure)
	return []runnable{
		{name: "syncer", run: sync.Start},
		{name: "kubelet endpoint", run: func(ctx context.Context) error { return kubeletSrv.Run(ctx, kubeletLn) }},
	}, nil
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

// apiServiceAddress is where host pods reach this API server: the ClusterIP of the
// host Service named after the virtual cluster (driver pod), else this process's own
// address (driver process).
func (s *Server) apiServiceAddress(ctx context.Context) (string, int32, error) {
	o := s.opts
	cfg, err := clientcmd.BuildConfigFromFlags("", o.HostKubeconfig)
	if err != nil {
		return "", 0, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	svc, err := client.CoreV1().Services(o.HostNamespace).Get(rctx, o.Name, metav1.GetOptions{})
	if err == nil && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return svc.Spec.ClusterIP, 443, nil
	}
	if _, err := client.CoreV1().Namespaces().Get(rctx, o.HostNamespace, metav1.GetOptions{}); err != nil {
		return "", 0, fmt.Errorf("host namespace %s: %w", o.HostNamespace, err)
	}
	return o.clientHost(), int32(o.Port), nil
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
