package dns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

const (
	// DefaultTTL is the time to live of the records of the cluster domain: short,
	// because a Service or a pod can change at any time and nothing here tells a
	// caching resolver so. CoreDNS's kubernetes plugin uses the same.
	DefaultTTL = 5 * time.Second
	// DefaultForwardTimeout bounds the forwarding of one query to the upstream
	// resolvers, all attempts together. It is below the 5 s a stub resolver (glibc,
	// musl) waits before it asks again, so the client sees SERVFAIL rather than
	// silence.
	DefaultForwardTimeout = 2 * time.Second
	// DefaultResolvConf is where the default upstream resolvers come from.
	DefaultResolvConf = "/etc/resolv.conf"
	// SpecVersion is the version of the Kubernetes DNS-Based Service Discovery
	// specification served, as dns-version.<zone> TXT reports it.
	SpecVersion = "1.1.0"

	// lookupTimeout bounds the cache reads of one query. They wait only while an
	// informer has not synced yet.
	lookupTimeout = 2 * time.Second
	// maxChase bounds how many ExternalName CNAMEs inside the cluster domain one
	// answer follows.
	maxChase = 8
	// ednsSize is the UDP payload size advertised in answers to EDNS queries: the
	// size DNS Flag Day 2020 recommends, which avoids IP fragmentation.
	ednsSize = 1232
	// shutdownGrace is how long Run lets queries in flight finish after its context
	// is done.
	shutdownGrace = 3 * time.Second
)

// Config is what a Server needs.
type Config struct {
	// Reader reads the virtual cluster's Services, EndpointSlices, Pods and
	// Namespaces; a cache-backed reader such as the syncer's VirtualReader, so that a
	// query costs no API request. Required.
	Reader client.Reader
	// ClusterDomain is the virtual cluster's DNS domain. Default
	// translate.DefaultClusterDomain ("cluster.local").
	ClusterDomain string
	// Upstreams are the resolvers that answer every name outside the cluster domain,
	// as IP or IP:port (port 53 when absent), asked in order. Default: the
	// nameservers of ResolvConf, or 127.0.0.1 and ::1 when it names none (as Go's own
	// resolver does).
	Upstreams []string
	// ResolvConf is the resolver configuration read when Upstreams is empty. Default
	// DefaultResolvConf.
	ResolvConf string
	// Address is where Run listens (UDP and TCP) when it is given no connection of
	// that kind, such as "127.0.0.1:1053". Default: none, so Run must be given both.
	Address string
	// TTL is the time to live of the cluster domain's records, in whole seconds.
	// Default DefaultTTL.
	TTL time.Duration
	// ForwardTimeout bounds the forwarding of one query upstream; when no upstream
	// answered in time the client gets SERVFAIL. Default DefaultForwardTimeout.
	ForwardTimeout time.Duration
	// Metrics receives the server's metrics; nil means none.
	Metrics prometheus.Registerer
}

// Server is a virtual cluster's DNS server; see the package documentation.
type Server struct {
	cfg       Config
	zone      string // lower-case FQDN of the cluster domain
	ttl       uint32
	upstreams []string
	metrics   *metrics
}

// New checks cfg, fills in its defaults and returns a Server; nothing listens until
// Run.
func New(cfg Config) (*Server, error) {
	if cfg.Reader == nil {
		return nil, errors.New("dns: a reader of the virtual cluster is required")
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = translate.DefaultClusterDomain
	}
	zone := strings.ToLower(dns.Fqdn(cfg.ClusterDomain))
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		return nil, fmt.Errorf("dns: cluster domain %q is not a domain name", cfg.ClusterDomain)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("dns: TTL %s is below a second", cfg.TTL)
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = DefaultForwardTimeout
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = DefaultResolvConf
	}
	upstreams := cfg.Upstreams
	if len(upstreams) == 0 {
		var err error
		if upstreams, err = resolvConfServers(cfg.ResolvConf); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, zone: zone, ttl: uint32(cfg.TTL / time.Second), metrics: newMetrics(cfg.Metrics)}
	for _, u := range upstreams {
		addr, err := upstreamAddress(u)
		if err != nil {
			return nil, err
		}
		s.upstreams = append(s.upstreams, addr)
	}
	return s, nil
}

// Upstreams returns the resolvers names outside the cluster domain are forwarded
// to, as IP:port.
func (s *Server) Upstreams() []string { return append([]string(nil), s.upstreams...) }

// resolvConfServers returns the nameservers of a resolv.conf; like Go's resolver,
// loopback when the file is missing or names none.
func resolvConfServers(path string) ([]string, error) {
	fallback := []string{"127.0.0.1:53", "[::1]:53"}
	cc, err := dns.ClientConfigFromFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fallback, nil
	} else if err != nil {
		return nil, fmt.Errorf("dns: reading upstream resolvers from %s: %w", path, err)
	}
	if len(cc.Servers) == 0 {
		return fallback, nil
	}
	out := make([]string, 0, len(cc.Servers))
	for _, srv := range cc.Servers {
		out = append(out, net.JoinHostPort(srv, cc.Port))
	}
	return out, nil
}

// upstreamAddress turns IP or IP:port into IP:port.
func upstreamAddress(s string) (string, error) {
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("dns: upstream %q: expected IP or IP:port", s)
	}
	return ap.String(), nil
}

// Run serves DNS on udp and tcp until ctx is done. A nil connection is opened on
// Config.Address. Run closes both connections before it returns; it returns nil
// once ctx is done, or the error that stopped one of the two servers.
func (s *Server) Run(ctx context.Context, udp net.PacketConn, tcp net.Listener) error {
	log := klog.FromContext(ctx).WithName("dns")
	closeAll := func() {
		if udp != nil {
			_ = udp.Close()
		}
		if tcp != nil {
			_ = tcp.Close()
		}
	}
	var err error
	if (udp == nil || tcp == nil) && s.cfg.Address == "" {
		closeAll()
		return errors.New("dns: no listener and no address to listen on")
	}
	if udp == nil {
		if udp, err = net.ListenPacket("udp", s.cfg.Address); err != nil {
			closeAll()
			return fmt.Errorf("dns: listening on udp %s: %w", s.cfg.Address, err)
		}
	}
	if tcp == nil {
		if tcp, err = net.Listen("tcp", s.cfg.Address); err != nil {
			closeAll()
			return fmt.Errorf("dns: listening on tcp %s: %w", s.cfg.Address, err)
		}
	}
	s.dropSelf(log, udp.LocalAddr(), tcp.Addr())
	ctx = logr.NewContext(ctx, log)
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) { s.serve(ctx, w, req) })
	servers := []*dns.Server{
		{PacketConn: udp, Net: "udp", Handler: handler},
		{Listener: tcp, Net: "tcp", Handler: handler},
	}
	type result struct {
		net string
		err error
	}
	done := make(chan result, len(servers))
	started := make(chan struct{}, len(servers))
	for _, srv := range servers {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() { done <- result{srv.Net, srv.ActivateAndServe()} }()
	}
	// Shutdown refuses a server that has not started, so wait for both to start (or
	// to fail) before anything can stop them.
	running, stopped := 0, 0
	var runErr error
	for running+stopped < len(servers) {
		select {
		case <-started:
			running++
		case r := <-done:
			stopped++
			runErr = errors.Join(runErr, fmt.Errorf("dns: serving %s: %w", r.net, orStopped(r.err)))
		}
	}
	if runErr == nil {
		log.Info("DNS server listening", "udp", udp.LocalAddr().String(), "tcp", tcp.Addr().String(),
			"zone", s.zone, "upstreams", s.upstreams)
		select {
		case <-ctx.Done():
		case r := <-done:
			stopped++
			runErr = fmt.Errorf("dns: serving %s: %w", r.net, orStopped(r.err))
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range servers {
		_ = srv.ShutdownContext(sctx)
	}
	for ; stopped < len(servers); stopped++ {
		select {
		case <-done:
		case <-sctx.Done():
			stopped = len(servers)
		}
	}
	closeAll()
	return runErr
}

func orStopped(err error) error {
	if err == nil {
		return errors.New("stopped unexpectedly")
	}
	return err
}

// dropSelf removes the server's own addresses from the upstreams: a resolv.conf
// that names this server would otherwise send a query round in circles.
func (s *Server) dropSelf(log logr.Logger, addrs ...net.Addr) {
	own := map[string]bool{}
	for _, a := range addrs {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			own[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()] = true
		}
	}
	kept := s.upstreams[:0:0]
	for _, u := range s.upstreams {
		if own[u] {
			log.Info("Not forwarding to an upstream that is this server", "upstream", u)
			continue
		}
		kept = append(kept, u)
	}
	s.upstreams = kept
}

// serve answers one query.
func (s *Server) serve(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) {
	start := time.Now()
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	resp, source := s.resolve(ctx, req, network)
	if network == "udp" {
		resp.Truncate(udpSize(req))
	}
	if err := w.WriteMsg(resp); err != nil {
		logr.FromContextOrDiscard(ctx).V(2).Info("Writing a DNS answer failed", "client", w.RemoteAddr().String(), "err", err)
	}
	s.metrics.observe(source, resp.Rcode, start)
}

// Sources of an answer, as the metrics name them.
const (
	sourceCluster  = "cluster"
	sourceReverse  = "reverse"
	sourceUpstream = "upstream"
)

// resolve returns the answer to req, received over network ("udp" or "tcp"), and
// where it came from.
func (s *Server) resolve(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, string) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcodeFormatError(req)
		return m, sourceCluster
	}
	q := req.Question[0]
	qname := strings.ToLower(dns.Fqdn(q.Name))
	if inZone(qname, s.zone) {
		return s.answerCluster(ctx, req, q, qname), sourceCluster
	}
	if q.Qtype == dns.TypePTR && (q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY) {
		if ip, ok := parseReverse(qname); ok {
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			recs, err := s.reverse(lctx, ip, q.Name)
			cancel()
			if err == nil && len(recs) > 0 {
				m := s.reply(req)
				m.Answer = recs
				return m, sourceReverse
			}
			// Not a Service address of this virtual cluster: the upstream knows,
			// as with CoreDNS's `fallthrough in-addr.arpa ip6.arpa`.
		}
	}
	return s.forward(ctx, req, network), sourceUpstream
}

// reply starts an authoritative answer to req.
func (s *Server) reply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if req.IsEdns0() != nil {
		m.SetEdns0(ednsSize, false)
	}
	return m
}

// fail answers req with rcode and no records.
func fail(req *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	m.RecursionAvailable = true
	if req.IsEdns0() != nil {
		m.SetEdns0(ednsSize, false)
	}
	return m
}

// udpSize is the largest answer a UDP client accepts.
func udpSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > dns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

// metrics are the DNS server's series.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubicle_dns_requests_total",
			Help: "DNS queries answered, by source (cluster, reverse, upstream) and response code.",
		}, []string{"source", "rcode"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kubicle_dns_request_duration_seconds",
			Help:    "Time to answer one DNS query, by source (cluster, reverse, upstream).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"source"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration} {
			_ = reg.Register(c)
		}
	}
	return m
}

func (m *metrics) observe(source string, rcode int, start time.Time) {
	m.duration.WithLabelValues(source).Observe(time.Since(start).Seconds())
	rc, ok := dns.RcodeToString[rcode]
	if !ok {
		rc = strconv.Itoa(rcode)
	}
	m.requests.WithLabelValues(source, rc).Inc()
}
