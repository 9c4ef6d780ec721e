package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"kubicle.dev/kubicle/internal/controlplane/pki"
)

// Etcd is a real single-member etcd server (go.etcd.io/etcd/server/v3/embed) running
// inside the test process on 127.0.0.1 ports, standing in for an etcd cluster that a
// platform team runs. Nothing needs to be installed for it.
type Etcd struct {
	// Endpoint is the client URL: http://127.0.0.1:PORT, or https:// with TLS.
	Endpoint string
	// CAFile, CertFile and KeyFile are what a client needs with TLS: the CA that
	// signed the server's certificate, and a client certificate the server accepts.
	CAFile, CertFile, KeyFile string
	// DataDir is the server's data directory.
	DataDir string

	tls *transport.TLSInfo
}

// EtcdOptions configure StartEtcd.
type EtcdOptions struct {
	// TLS serves clients over https and requires a client certificate signed by a CA
	// made for the test (Etcd.CAFile).
	TLS bool
	// Address is the IP the client URL listens on; default 127.0.0.1. Pods of the
	// embedded host's real nodes reach the host's address, not 127.0.0.1.
	Address string
}

// StartEtcd starts an etcd server in the test process and stops it on cleanup.
func StartEtcd(t testing.TB, opts EtcdOptions) *Etcd {
	t.Helper()
	dir := t.TempDir()
	e := &Etcd{DataDir: filepath.Join(dir, "data")}
	scheme := "http"
	cfg := embed.NewConfig()
	if opts.TLS {
		scheme = "https"
		if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
			t.Fatal(err)
		}
		ca, err := pki.EnsureCA(filepath.Join(dir, "pki"), "ca", "etcd-ca")
		if err != nil {
			t.Fatal(err)
		}
		server, err := ca.Ensure(filepath.Join(dir, "pki"), pki.Leaf{Name: "server", CommonName: "etcd",
			DNSNames: []string{"localhost"}, IPs: serverIPs(opts.Address), Server: true})
		if err != nil {
			t.Fatal(err)
		}
		client, err := ca.Ensure(filepath.Join(dir, "pki"), pki.Leaf{Name: "client", CommonName: "kube-apiserver"})
		if err != nil {
			t.Fatal(err)
		}
		e.CAFile, e.CertFile, e.KeyFile = ca.CertFile, client.CertFile, client.KeyFile
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: server.CertFile, KeyFile: server.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
		e.tls = &transport.TLSInfo{CertFile: e.CertFile, KeyFile: e.KeyFile, TrustedCAFile: e.CAFile}
	}
	cfg.Name = "test"
	cfg.Dir = e.DataDir
	// Quiet: etcd logs errors with stack traces about its closed listeners on every
	// stop; a failure to start or serve reaches the test as an error.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.EnableGRPCGateway = false
	cfg.UnsafeNoFsync = true // a test's data need not survive a power cut

	// Free ports can be taken between the check and etcd's bind: try a few times.
	var srv *embed.Etcd
	var err error
	for range 5 {
		client := url.URL{Scheme: scheme, Host: freeAddrOn(t, opts.Address)}
		peer := url.URL{Scheme: "http", Host: freeAddr(t)}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		if srv, err = embed.StartEtcd(cfg); err == nil {
			e.Endpoint = client.String()
			break
		}
	}
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		t.Fatalf("etcd failed: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("etcd not ready after a minute")
	}
	return e
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	return freeAddrOn(t, "")
}

// freeAddrOn returns an address of ip (default 127.0.0.1) with a port that was
// free a moment ago.
func freeAddrOn(t testing.TB, ip string) string {
	t.Helper()
	if ip == "" {
		ip = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Client returns an etcd client for the server, closed on cleanup.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cfg := clientv3.Config{Endpoints: []string{e.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if e.tls != nil {
		tlsConfig, err := e.tls.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = tlsConfig
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Keys returns the keys under prefix.
func (e *Etcd) Keys(t testing.TB, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.Client(t).Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatalf("listing etcd keys under %s: %v", prefix, err)
	}
	keys := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = string(kv.Key)
	}
	return keys
}

// String names the server in test messages.
func (e *Etcd) String() string { return fmt.Sprintf("etcd at %s", e.Endpoint) }

// serverIPs are the addresses of the server's certificate: 127.0.0.1, and address
// when it is another IP.
func serverIPs(address string) []net.IP {
	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	if ip := net.ParseIP(address); ip != nil && !ip.Equal(ips[0]) {
		ips = append(ips, ip)
	}
	return ips
}
