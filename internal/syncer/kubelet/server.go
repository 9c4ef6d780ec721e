package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"k8s.io/klog/v2"
)

const (
	// userAgent is sent to the host API server when the host config names none.
	userAgent = "kubicle-kubelet"
	// lookupTimeout bounds reading the host pod before a request is forwarded.
	lookupTimeout = 30 * time.Second
	// shutdownGrace is how long Run lets plain requests finish after its
	// context is done; upgraded streams are closed at once after it.
	shutdownGrace = 5 * time.Second
	// readHeaderTimeout bounds how long a client may take to send headers.
	readHeaderTimeout = 10 * time.Second
)

// Config is what a Server needs. It holds no clients: [New] builds them.
type Config struct {
	// HostConfig reaches the host API server with the syncer's credentials.
	// Required. Its Timeout applies to reading host pods only; log streams
	// and upgraded connections are not cut off by it.
	HostConfig *rest.Config
	// HostNamespace is the host namespace that holds the virtual cluster's
	// pods. Required.
	HostNamespace string
	// VirtualCluster is the name of the virtual cluster, as in the markers
	// of its host objects. Required.
	VirtualCluster string
	// CertFile and KeyFile are the PEM serving certificate and key; the
	// certificate must be valid for the node address the virtual Nodes
	// advertise. Required; read once by New.
	CertFile, KeyFile string
	// ClientCAFile is the PEM bundle of CAs whose client certificates are
	// accepted (the virtual cluster's CA). Required; read once by New.
	ClientCAFile string
	// Address is where Run listens when it is given no listener, such as
	// "127.0.0.1:10250". Default: none, so Run must be given a listener.
	Address string
	// AllowedClientNames, when not empty, are the only client certificate
	// common names accepted (for instance the API server's
	// "kube-apiserver-kubelet-client"); others get 403. Default: empty, any
	// certificate the client CA verifies.
	AllowedClientNames []string
}

// Server is the kubelet API of a virtual cluster's nodes; see the package
// documentation for what it serves.
type Server struct {
	cfg Config
	// pods reads host pods; it honours HostConfig.Timeout.
	pods kubernetes.Interface
	// streams builds subresource URLs and streams logs; it has no timeout.
	streams kubernetes.Interface
	// transport and upgrade reach the host API server for proxied streams.
	transport http.RoundTripper
	upgrade   proxy.UpgradeRequestRoundTripper
	tls       *tls.Config
	handler   http.Handler
}

// New checks cfg, reads the serving certificate and client CA and builds
// the host clients.
func New(cfg Config) (*Server, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"host namespace", cfg.HostNamespace},
		{"virtual cluster", cfg.VirtualCluster},
		{"serving certificate file", cfg.CertFile},
		{"serving key file", cfg.KeyFile},
		{"client CA file", cfg.ClientCAFile},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if cfg.HostConfig == nil {
		missing = append(missing, "host config")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("kubelet server config: missing %s", strings.Join(missing, ", "))
	}

	tlsConfig, err := servingTLS(cfg.CertFile, cfg.KeyFile, cfg.ClientCAFile)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, tls: tlsConfig}

	hostCfg := rest.CopyConfig(cfg.HostConfig)
	if hostCfg.UserAgent == "" {
		hostCfg.UserAgent = userAgent
	}
	if s.pods, err = kubernetes.NewForConfig(hostCfg); err != nil {
		return nil, fmt.Errorf("host client: %w", err)
	}
	streamCfg := rest.CopyConfig(hostCfg)
	streamCfg.Timeout = 0
	if s.streams, err = kubernetes.NewForConfig(streamCfg); err != nil {
		return nil, fmt.Errorf("host client: %w", err)
	}
	if s.transport, err = rest.TransportFor(streamCfg); err != nil {
		return nil, fmt.Errorf("host transport: %w", err)
	}
	if s.upgrade, err = upgradeTransport(streamCfg); err != nil {
		return nil, fmt.Errorf("host upgrade transport: %w", err)
	}
	s.handler = s.routes()
	return s, nil
}

// servingTLS builds the server's TLS configuration: the serving pair, and
// client certificates required and verified against the CA bundle.
func servingTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("reading client CA %s: no PEM certificates", caFile)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// upgradeTransport dials the host API server for upgraded connections and
// adds the host credentials (bearer token, impersonation, user agent) to the
// upgrade request; TLS client certificates come from the TLS config. It is
// what `kubectl proxy` does.
func upgradeTransport(cfg *rest.Config) (proxy.UpgradeRequestRoundTripper, error) {
	tc, err := cfg.TransportConfig()
	if err != nil {
		return nil, err
	}
	tlsConfig, err := transport.TLSConfigFor(tc)
	if err != nil {
		return nil, err
	}
	dial := (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if tc.DialHolder != nil && tc.DialHolder.Dial != nil {
		dial = tc.DialHolder.Dial
	}
	rt := utilnet.SetOldTransportDefaults(&http.Transport{TLSClientConfig: tlsConfig, DialContext: dial})
	wrap, err := transport.HTTPWrappersForConfig(tc, proxy.MirrorRequest)
	if err != nil {
		return nil, err
	}
	return proxy.NewUpgradeRequestRoundTripper(rt, wrap), nil
}

// Handler returns the server's HTTP handler. It expects requests that came
// over the server's TLS configuration: one without a verified client
// certificate is refused with 401.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves the kubelet API over TLS on ln, or on Config.Address when ln is
// nil, until ctx is done; then it stops accepting, cancels the requests in
// flight, closes upgraded connections and returns nil. It closes ln. It
// returns an error when it cannot listen or serving fails.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		if s.cfg.Address == "" {
			return errors.New("kubelet server: no listener and no address")
		}
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Address); err != nil {
			return fmt.Errorf("listening for the kubelet API: %w", err)
		}
	}
	logger := klog.FromContext(ctx)
	conns := &trackingListener{Listener: ln, conns: map[*trackedConn]struct{}{}}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls.Clone(),
		ReadHeaderTimeout: readHeaderTimeout,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// Handshake failures (clients without a certificate) are routine.
		ErrorLog: log.New(logWriter{logger.V(4)}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(conns, "", "") }()
	logger.V(2).Info("Serving the kubelet API", "address", ln.Addr().String())

	select {
	case err := <-served:
		conns.closeAll()
		return fmt.Errorf("serving the kubelet API: %w", err)
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = srv.Shutdown(stop) // past the grace, closeAll ends what is left
	conns.closeAll()
	<-served
	return nil
}

// logWriter turns the HTTP server's error log lines into log entries.
type logWriter struct{ logger klog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.logger.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

// trackingListener remembers the connections it accepted, so that Run can
// close those that http.Server no longer tracks: hijacked, upgraded ones.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// closeAll closes the listener and every connection still open.
func (l *trackingListener) closeAll() {
	_ = l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[*trackedConn]struct{}{}
	l.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}

// trackedConn leaves its listener's set when closed.
type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
