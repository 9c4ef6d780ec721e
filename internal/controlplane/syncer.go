package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"kubicle.dev/kubicle/internal/controlplane/pki"
	"kubicle.dev/kubicle/internal/syncer"
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
		KubeletPort: 0,
		Metrics:     legacyregistry.Registerer(),
	}
	cfg.Virtual.QPS, cfg.Virtual.Burst = 100, 200
	sync, err := syncer.New(cfg, klog.FromContext(ctx).WithName("syncer"))
	if err != nil {
		return nil, err
	}
	ensure := HostServiceFunc(sync.EnsureHostService)
	s.serviceIPs.ensure.Store(&ensure)
	return []runnable{{name: "syncer", run: sync.Start}}, nil
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
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{legacyregistry.DefaultGatherer, ctrlmetrics.Registry}, promhttp.HandlerOpts{}))
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
