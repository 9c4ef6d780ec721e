package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/internal/testenv"
)

// dnsWorkload is what TestDNS creates in virtual cluster a: a Deployment behind a
// ClusterIP Service and a headless Service, a StatefulSet whose pod has a hostname
// under its headless Service, an ExternalName Service, and a Service in another
// namespace.
const dnsWorkload = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless, namespace: shop}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: cache, namespace: shop}
spec:
  clusterIP: None
  selector: {app: cache}
  ports: [{name: redis, port: 6379}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache, namespace: shop}
spec:
  serviceName: cache
  replicas: 1
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers: [{name: redis, image: redis}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  type: ExternalName
  externalName: db.example.net
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: other}
spec:
  selector: {app: api}
  ports: [{port: 443}]
`

// TestDNS: the control plane's DNS server answers the virtual cluster's names from
// the virtual cluster's objects, like a cluster's CoreDNS would, forwards everything
// else to its upstream, and never answers with another virtual cluster's services.
func TestDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a host and two virtual clusters")
	}
	upstream := startUpstream(t, map[string]string{"example.com.": "192.0.2.10", "db.example.net.": "192.0.2.20"})
	dead := deadUDPAddress(t)

	host := testenv.StartHost(t, "--nodes", "2")
	a := virtualCluster(t, host, "a", "vc-a", "--dns-upstream", upstream)
	b := virtualCluster(t, host, "b", "vc-b", "--dns-upstream", dead)
	hostClient, aClient := testenv.Client(t, host.Kubeconfig), testenv.Client(t, a.Kubeconfig)
	ctx := context.Background()

	manifest := filepath.Join(t.TempDir(), "dns.yaml")
	if err := os.WriteFile(manifest, []byte(dnsWorkload), 0o600); err != nil {
		t.Fatal(err)
	}
	a.Kubectl(t, "apply", "-f", manifest)
	b.Kubectl(t, "create", "namespace", "shop")
	b.Kubectl(t, "-n", "shop", "create", "service", "clusterip", "web", "--tcp=80:8080")
	testenv.Eventually(t, 2*time.Minute, 500*time.Millisecond, podsRunning(t, aClient, "shop", "app=web", 2))
	testenv.Eventually(t, time.Minute, 500*time.Millisecond, podsRunning(t, aClient, "shop", "app=cache", 1))

	aDNS, bDNS := dnsAddress(t, a), dnsAddress(t, b)
	if aDNS == bDNS {
		t.Fatalf("both virtual clusters serve DNS at %s", aDNS)
	}
	const ttl = 5

	// A ClusterIP Service: its ClusterIP, which is its host Service's.
	webIP := serviceIP(t, aClient, "shop", "web")
	hostWeb, err := hostClient.CoreV1().Services("vc-a").Get(ctx, translate.HostName("a", "shop", "web", translate.DNSLabel), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hostWeb.Spec.ClusterIP != webIP {
		t.Fatalf("virtual ClusterIP %s, host ClusterIP %s", webIP, hostWeb.Spec.ClusterIP)
	}
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, answers(aDNS, "udp", "web.shop.svc.cluster.local.", dns.TypeA, webIP))
	for _, network := range []string{"udp", "tcp"} {
		r := ask(t, aDNS, network, "web.shop.svc.cluster.local.", dns.TypeA)
		if !r.Authoritative || len(r.Answer) != 1 || r.Answer[0].Header().Ttl != ttl {
			t.Errorf("%s: web A: %v, want one authoritative record with TTL %d", network, r, ttl)
		}
	}
	// No AAAA for an IPv4 Service: NODATA, with the SOA.
	if r := ask(t, aDNS, "udp", "web.shop.svc.cluster.local.", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || !hasSOA(r) {
		t.Errorf("web AAAA: %v, want NODATA with the SOA", r)
	}

	// A headless Service: the ready endpoints, which are the pods' (host) IPs.
	podIPs := virtualPodIPs(t, aClient, "shop", "app=web")
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, answers(aDNS, "udp", "web-headless.shop.svc.cluster.local.", dns.TypeA, podIPs...))
	if ready := readyEndpoints(t, aClient, "shop", "web-headless"); !sameSet(ready, podIPs) {
		t.Errorf("the virtual EndpointSlices hold %v, the pods have %v", ready, podIPs)
	}
	// The pod of the StatefulSet is named by its hostname under its Service.
	cacheIP := virtualPodIPs(t, aClient, "shop", "app=cache")
	testenv.Eventually(t, time.Minute, 250*time.Millisecond, answers(aDNS, "udp", "cache-0.cache.shop.svc.cluster.local.", dns.TypeA, cacheIP...))

	// SRV: the ClusterIP Service's port, and each endpoint's port of the headless one.
	r := ask(t, aDNS, "udp", "_http._tcp.web.shop.svc.cluster.local.", dns.TypeSRV)
	if srv, ok := only[*dns.SRV](r.Answer); !ok || srv.Port != 80 || srv.Target != "web.shop.svc.cluster.local." ||
		!slices.Equal(addresses(r.Extra), []string{webIP}) {
		t.Errorf("SRV of web: %v, want port 80 at web.shop.svc.cluster.local. with its address", r)
	}
	r = ask(t, aDNS, "tcp", "_http._tcp.web-headless.shop.svc.cluster.local.", dns.TypeSRV)
	var targets []string
	for _, rr := range r.Answer {
		srv, ok := rr.(*dns.SRV)
		if !ok || srv.Port != 8080 {
			t.Errorf("headless SRV %v: want the endpoints' port 8080", srv)
		}
		targets = append(targets, srv.Target)
	}
	t.Logf("SRV of web-headless: %v", r.Answer)
	if len(targets) != len(podIPs) || !sameSet(addresses(r.Extra), podIPs) {
		t.Errorf("SRV of web-headless: %v, want one per pod %v", r, podIPs)
	}
	for _, target := range targets {
		if got := addresses(ask(t, aDNS, "udp", target, dns.TypeA).Answer); len(got) != 1 || !slices.Contains(podIPs, got[0]) {
			t.Errorf("SRV target %s resolves to %v, want one of %v", target, got, podIPs)
		}
	}
	if r := ask(t, aDNS, "udp", "_grpc._tcp.web.shop.svc.cluster.local.", dns.TypeSRV); r.Rcode != dns.RcodeNameError {
		t.Errorf("SRV of a port the Service lacks: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}

	// An ExternalName Service: a CNAME, with the target resolved upstream.
	r = ask(t, aDNS, "udp", "db.shop.svc.cluster.local.", dns.TypeA)
	t.Logf("ExternalName db: %v", r.Answer)
	if cname, ok := only[*dns.CNAME](r.Answer[:min(1, len(r.Answer))]); len(r.Answer) != 2 || !ok || cname.Target != "db.example.net." || !slices.Equal(addresses(r.Answer), []string{"192.0.2.20"}) {
		t.Errorf("ExternalName db: %v, want CNAME db.example.net. and its address 192.0.2.20", r)
	}

	// Pod records, for addresses that pods have.
	dashedIP := strings.ReplaceAll(podIPs[0], ".", "-")
	if got := addresses(ask(t, aDNS, "udp", dashedIP+".shop.pod.cluster.local.", dns.TypeA).Answer); !slices.Equal(got, podIPs[:1]) {
		t.Errorf("pod record %s: %v, want %s", dashedIP, got, podIPs[0])
	}
	if r := ask(t, aDNS, "udp", "192-0-2-99.shop.pod.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("pod record of an address no pod has: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}

	// Unknown names are NXDOMAIN with the zone's SOA; a Service of another namespace
	// resolves by its own namespace's name only.
	for _, name := range []string{"nope.shop.svc.cluster.local.", "api.shop.svc.cluster.local.", "web.nope.svc.cluster.local.", "nope.cluster.local."} {
		if r := ask(t, aDNS, "udp", name, dns.TypeA); r.Rcode != dns.RcodeNameError || !hasSOA(r) {
			t.Errorf("%s: %v, want NXDOMAIN with the SOA", name, r)
		}
	}
	apiIP := serviceIP(t, aClient, "other", "api")
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, answers(aDNS, "udp", "api.other.svc.cluster.local.", dns.TypeA, apiIP))
	if r := ask(t, aDNS, "udp", "shop.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("a namespace's name: %v, want NODATA", r)
	}

	// Reverse lookup of a Service's address.
	arpa, _ := dns.ReverseAddr(webIP)
	if r := ask(t, aDNS, "udp", arpa, dns.TypePTR); !isPTR(r, "web.shop.svc.cluster.local.") {
		t.Errorf("PTR of %s: %v", webIP, r)
	}

	// Names outside the cluster domain go to the upstream.
	if r := ask(t, aDNS, "udp", "example.com.", dns.TypeA); !slices.Equal(addresses(r.Answer), []string{"192.0.2.10"}) {
		t.Errorf("forwarded example.com: %v, want the upstream's 192.0.2.10", r)
	}
	if r := ask(t, aDNS, "tcp", "nowhere.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("forwarded nowhere.example: %s, want the upstream's NXDOMAIN", dns.RcodeToString[r.Rcode])
	}

	// Virtual cluster b answers with its own web, never a's, and knows none of a's
	// other names.
	bWebIP := serviceIP(t, testenv.Client(t, b.Kubeconfig), "shop", "web")
	if bWebIP == webIP {
		t.Fatalf("both virtual clusters' web Services have %s", webIP)
	}
	testenv.Eventually(t, 30*time.Second, 250*time.Millisecond, answers(bDNS, "udp", "web.shop.svc.cluster.local.", dns.TypeA, bWebIP))
	for _, name := range []string{"web-headless.shop.svc.cluster.local.", "db.shop.svc.cluster.local.", "api.other.svc.cluster.local.", dashedIP + ".shop.pod.cluster.local."} {
		if r := ask(t, bDNS, "udp", name, dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("virtual cluster b answered a's %s: %v", name, r)
		}
	}
	// b's upstream is dead: SERVFAIL, and at once.
	start := time.Now()
	if r := ask(t, bDNS, "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("dead upstream: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("SERVFAIL for a dead upstream took %s", took)
	}
}

// startUpstream runs a resolver on loopback (UDP and TCP) that answers the A
// records of names and NXDOMAIN for anything else, and returns its address.
func startUpstream(t *testing.T, names map[string]string) string {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		ip, ok := names[strings.ToLower(q.Name)]
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeA:
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)}}
		}
		_ = w.WriteMsg(m)
	})
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
		for _, srv := range []*dns.Server{{PacketConn: udp, Handler: handler}, {Listener: tcp, Handler: handler}} {
			go func() { _ = srv.ActivateAndServe() }()
			t.Cleanup(func() { _ = srv.Shutdown() })
		}
		return tcp.Addr().String()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return ""
}

// deadUDPAddress is a loopback address where nothing listens: queries to it are
// refused at once.
func deadUDPAddress(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	_ = c.Close()
	return addr
}

// dnsAddress is where a control plane serves DNS, as it records it.
func dnsAddress(t *testing.T, cp *testenv.ControlPlane) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cp.DataDir, "dns-address"))
	if err != nil {
		t.Fatalf("the control plane's DNS address: %v", err)
	}
	return strings.TrimSpace(string(data))
}

func ask(t *testing.T, server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	r, err := exchange(server, network, name, qtype)
	if err != nil {
		t.Fatalf("%s %s at %s over %s: %v", name, dns.TypeToString[qtype], server, network, err)
	}
	return r
}

func exchange(server, network, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, server)
	return r, err
}

// answers polls until name's addresses are exactly want.
func answers(server, network, name string, qtype uint16, want ...string) func() (bool, string) {
	return func() (bool, string) {
		r, err := exchange(server, network, name, qtype)
		if err != nil {
			return false, err.Error()
		}
		got := addresses(r.Answer)
		return sameSet(got, want), fmt.Sprintf("%s %s answers %s %v, want %v", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode], got, want)
	}
}

// addresses returns the A and AAAA addresses among rrs.
func addresses(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	return out
}

// only returns the one record of rrs when it is a T.
func only[T dns.RR](rrs []dns.RR) (T, bool) {
	var zero T
	if len(rrs) != 1 {
		return zero, false
	}
	rr, ok := rrs[0].(T)
	return rr, ok
}

func isPTR(r *dns.Msg, target string) bool {
	ptr, ok := only[*dns.PTR](r.Answer)
	return ok && ptr.Ptr == target
}

func hasSOA(r *dns.Msg) bool {
	return len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA && r.Ns[0].Header().Name == "cluster.local."
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return len(a) > 0 && slices.Equal(a, b)
}

func serviceIP(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	svc, err := c.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Fatalf("service %s/%s has ClusterIP %q", ns, name, svc.Spec.ClusterIP)
	}
	return svc.Spec.ClusterIP
}

func virtualPodIPs(t *testing.T, c kubernetes.Interface, ns, selector string) []string {
	t.Helper()
	pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.Status.PodIP == "" {
			t.Fatalf("pod %s has no IP", p.Name)
		}
		out = append(out, p.Status.PodIP)
	}
	return out
}

func readyEndpoints(t *testing.T, c kubernetes.Interface, ns, service string) []string {
	t.Helper()
	list, err := c.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				out = append(out, ep.Addresses...)
			}
		}
	}
	return out
}
