package dns

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The cluster domain's answers come from a real virtual cluster: see
// test/e2e/dns_test.go. These tests cover what needs no API server: forwarding,
// failure answers and the server's life cycle.

// unreadable is a reader whose cache is never available, as before the syncer's
// cache has started.
type unreadable struct{}

func (unreadable) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("the cache is not started")
}

func (unreadable) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("the cache is not started")
}

// upstream starts a resolver on loopback (UDP and TCP, one port) that answers
// example.com. A 192.0.2.1 and NXDOMAIN otherwise, and returns its address.
func upstream(t *testing.T) string {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		if q.Name == "example.com." && q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.1")})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	udp, tcp := listen(t)
	for _, srv := range []*dns.Server{{PacketConn: udp, Handler: handler}, {Listener: tcp, Handler: handler}} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return tcp.Addr().String()
}

// listen opens UDP and TCP on one free loopback port.
func listen(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 10 {
		tcp, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		udp, err := net.ListenPacket("udp", tcp.Addr().String())
		if err != nil {
			_ = tcp.Close()
			continue
		}
		return udp, tcp
	}
	t.Fatal("no port free for both UDP and TCP")
	return nil, nil
}

// deadPort returns a loopback UDP address that nothing listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	_ = c.Close()
	return addr
}

// blackHole returns a loopback UDP address that reads queries and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.LocalAddr().String()
}

// serve runs a Server for cfg and returns its address.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	if cfg.Reader == nil {
		cfg.Reader = unreadable{}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	udp, tcp := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, udp, tcp) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return tcp.Addr().String()
}

func query(t *testing.T, server, network, qname string, qtype uint16) (*dns.Msg, time.Duration) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	c := &dns.Client{Net: network, Timeout: 10 * time.Second}
	resp, rtt, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", qname, dns.TypeToString[qtype], network, err)
	}
	if resp.Id != m.Id {
		t.Errorf("answer ID %d, query ID %d", resp.Id, m.Id)
	}
	return resp, rtt
}

func TestForward(t *testing.T) {
	t.Parallel()
	up := upstream(t)
	for name, upstreams := range map[string][]string{
		"one upstream":          {up},
		"first upstream dead":   {deadPort(t), up},
		"first upstream silent": {blackHole(t), up},
	} {
		addr := serve(t, Config{Upstreams: upstreams, ForwardTimeout: 2 * time.Second})
		for _, network := range []string{"udp", "tcp"} {
			if network == "tcp" && name != "one upstream" {
				continue // dead and silent are UDP sockets
			}
			resp, _ := query(t, addr, network, "example.com.", dns.TypeA)
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
				t.Errorf("%s, %s: example.com A answered %v", name, network, resp)
			}
			resp, _ = query(t, addr, network, "nowhere.example.", dns.TypeA)
			if resp.Rcode != dns.RcodeNameError {
				t.Errorf("%s, %s: nowhere.example answered %s, want the upstream's NXDOMAIN", name, network, dns.RcodeToString[resp.Rcode])
			}
		}
	}
}

func TestForwardFailure(t *testing.T) {
	t.Parallel()
	// A port nothing listens on refuses at once: SERVFAIL at once.
	addr := serve(t, Config{Upstreams: []string{deadPort(t)}})
	resp, rtt := query(t, addr, "udp", "example.com.", dns.TypeA)
	if resp.Rcode != dns.RcodeServerFailure || rtt > time.Second {
		t.Errorf("dead upstream: %s after %s, want SERVFAIL within a second", dns.RcodeToString[resp.Rcode], rtt)
	}
	// One that never answers: SERVFAIL when the forward timeout runs out.
	addr = serve(t, Config{Upstreams: []string{blackHole(t)}, ForwardTimeout: 500 * time.Millisecond})
	resp, rtt = query(t, addr, "udp", "example.com.", dns.TypeA)
	if resp.Rcode != dns.RcodeServerFailure || rtt > 2*time.Second {
		t.Errorf("silent upstream: %s after %s, want SERVFAIL after about 500ms", dns.RcodeToString[resp.Rcode], rtt)
	}
}

func TestClusterDomainWithoutCache(t *testing.T) {
	t.Parallel()
	addr := serve(t, Config{Upstreams: []string{deadPort(t)}})
	// A name that could exist: the cache cannot say, so SERVFAIL, never a false
	// NXDOMAIN that the client would cache.
	resp, _ := query(t, addr, "udp", "web.shop.svc.cluster.local.", dns.TypeA)
	if resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("service name without a cache: %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	// A name outside the schema never exists: NXDOMAIN with the zone's SOA, and the
	// name is not forwarded (the upstream is dead and would give SERVFAIL).
	for _, network := range []string{"udp", "tcp"} {
		resp, _ = query(t, addr, network, "a.b.c.d.e.svc.Cluster.Local.", dns.TypeA)
		if resp.Rcode != dns.RcodeNameError || !resp.Authoritative || len(resp.Ns) != 1 {
			t.Fatalf("%s: unknown cluster name answered %v", network, resp)
		}
		soa, ok := resp.Ns[0].(*dns.SOA)
		if !ok || soa.Hdr.Name != "cluster.local." || soa.Minttl != 5 || soa.Hdr.Ttl != 5 {
			t.Errorf("%s: authority %v, want the SOA of cluster.local. with TTL and minimum 5", network, resp.Ns[0])
		}
	}
	// The zone apex and the spec version exist without reading anything.
	resp, _ = query(t, addr, "udp", "cluster.local.", dns.TypeSOA)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("SOA of the zone: %v", resp)
	}
	resp, _ = query(t, addr, "udp", "dns-version.cluster.local.", dns.TypeTXT)
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.TXT).Txt[0] != SpecVersion {
		t.Errorf("dns-version TXT: %v", resp)
	}
}

func TestOtherClusterDomain(t *testing.T) {
	t.Parallel()
	up := upstream(t)
	addr := serve(t, Config{Upstreams: []string{up}, ClusterDomain: "tenant.example"})
	resp, _ := query(t, addr, "udp", "x.tenant.example.", dns.TypeA)
	if resp.Rcode != dns.RcodeNameError || !resp.Authoritative {
		t.Errorf("unknown name of the cluster domain: %v", resp)
	}
	resp, _ = query(t, addr, "udp", "example.com.", dns.TypeA)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("forwarded name: %v", resp)
	}
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	up := upstream(t)
	// Cancelled before the servers have started, and after they have answered.
	for _, served := range []bool{false, true} {
		s, err := New(Config{Reader: unreadable{}, Upstreams: []string{up}})
		if err != nil {
			t.Fatal(err)
		}
		udp, tcp := listen(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, udp, tcp) }()
		if served {
			if resp, _ := query(t, tcp.Addr().String(), "tcp", "example.com.", dns.TypeA); len(resp.Answer) != 1 {
				t.Fatalf("example.com: %v", resp)
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after its context was done", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context was done")
		}
		// The port is free again: Run closed both connections.
		if ln, err := net.Listen("tcp", tcp.Addr().String()); err != nil {
			t.Errorf("TCP port still held after Run: %v", err)
		} else {
			_ = ln.Close()
		}
	}

	// Without connections and without an address, Run fails at once.
	s, err := New(Config{Reader: unreadable{}, Upstreams: []string{up}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), nil, nil); err == nil {
		t.Error("Run without listeners or address succeeded")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("search example.org\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Reader: unreadable{}, ResolvConf: resolv})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Upstreams(), []string{"192.0.2.53:53", "[2001:db8::53]:53"}; !slices.Equal(got, want) {
		t.Errorf("upstreams from resolv.conf %v, want %v", got, want)
	}
	s, err = New(Config{Reader: unreadable{}, ResolvConf: filepath.Join(dir, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Upstreams(), []string{"127.0.0.1:53", "[::1]:53"}; !slices.Equal(got, want) {
		t.Errorf("upstreams without resolv.conf %v, want %v", got, want)
	}
	s, err = New(Config{Reader: unreadable{}, Upstreams: []string{"10.0.0.10", "10.0.0.11:5353", "[fd00::10]", "fd00::11"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Upstreams(), []string{"10.0.0.10:53", "10.0.0.11:5353", "[fd00::10]:53", "[fd00::11]:53"}; !slices.Equal(got, want) {
		t.Errorf("upstreams %v, want %v", got, want)
	}
	for _, bad := range []Config{
		{},
		{Reader: unreadable{}, Upstreams: []string{"dns.example.com"}},
		{Reader: unreadable{}, Upstreams: []string{"10.0.0.10:0"}},
		{Reader: unreadable{}, ClusterDomain: "bad..domain"},
		{Reader: unreadable{}, TTL: time.Millisecond},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}
