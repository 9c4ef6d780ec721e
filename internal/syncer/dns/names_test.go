package dns

import (
	"net/netip"
	"testing"
)

func TestParseName(t *testing.T) {
	t.Parallel()
	const zone = "cluster.local."
	for _, c := range []struct {
		qname string
		want  name
	}{
		{"cluster.local.", name{kind: kindApex}},
		{"svc.cluster.local.", name{kind: kindEmpty}},
		{"pod.cluster.local.", name{kind: kindEmpty}},
		{"dns-version.cluster.local.", name{kind: kindVersion}},
		{"shop.svc.cluster.local.", name{kind: kindNamespace, namespace: "shop"}},
		{"shop.pod.cluster.local.", name{kind: kindNamespace, namespace: "shop"}},
		{"web.shop.svc.cluster.local.", name{kind: kindService, namespace: "shop", service: "web"}},
		{"web-0.db.shop.svc.cluster.local.", name{kind: kindEndpoint, namespace: "shop", service: "db", endpoint: "web-0"}},
		{"_tcp.web.shop.svc.cluster.local.", name{kind: kindProto, namespace: "shop", service: "web", proto: "tcp"}},
		{"_http._tcp.web.shop.svc.cluster.local.", name{kind: kindPort, namespace: "shop", service: "web", port: "http", proto: "tcp"}},
		{"_dns._udp.kube-dns.kube-system.svc.cluster.local.", name{kind: kindPort, namespace: "kube-system", service: "kube-dns", port: "dns", proto: "udp"}},
		{"10-1-2-3.shop.pod.cluster.local.", name{kind: kindPod, namespace: "shop", ip: netip.MustParseAddr("10.1.2.3")}},
		{"fd00--1.shop.pod.cluster.local.", name{kind: kindPod, namespace: "shop", ip: netip.MustParseAddr("fd00::1")}},
		// Not in the schema: never exist.
		{"foo.cluster.local.", name{}},
		{"_http._icmp.web.shop.svc.cluster.local.", name{}},
		{"_._tcp.web.shop.svc.cluster.local.", name{}},
		{"a.b.c.d.e.svc.cluster.local.", name{}},
		{"web_x.shop.svc.cluster.local.", name{}},
		{"10-1-2.shop.pod.cluster.local.", name{}},
		{"10-1-2-300.shop.pod.cluster.local.", name{}},
		{"x.10-1-2-3.shop.pod.cluster.local.", name{}},
		{"www.example.com.shop.svc.cluster.local.", name{}},
		// A search-list expansion of example.com from namespace shop: endpoint
		// "example" of a Service "com", which does not exist.
		{"example.com.shop.svc.cluster.local.", name{kind: kindEndpoint, namespace: "shop", service: "com", endpoint: "example"}},
	} {
		if got := parseName(c.qname, zone); got != c.want {
			t.Errorf("parseName(%q) = %+v, want %+v", c.qname, got, c.want)
		}
	}
}

func TestInZone(t *testing.T) {
	t.Parallel()
	for qname, want := range map[string]bool{
		"cluster.local.":          true,
		"a.svc.cluster.local.":    true,
		"notcluster.local.":       false,
		"cluster.local.example.":  false,
		"example.com.":            false,
		"svc.cluster.local.other": false,
	} {
		if got := inZone(qname, "cluster.local."); got != want {
			t.Errorf("inZone(%q) = %v, want %v", qname, got, want)
		}
	}
}

func TestDashed(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"10.244.0.5", "192.0.2.255", "fd00::1", "2001:db8::abcd:1"} {
		ip := netip.MustParseAddr(s)
		got, ok := parseDashed(dashed(ip))
		if !ok || got != ip {
			t.Errorf("parseDashed(dashed(%s)) = %s, %v", s, got, ok)
		}
	}
	if d := dashed(netip.MustParseAddr("10.244.0.5")); d != "10-244-0-5" {
		t.Errorf("dashed = %q", d)
	}
}

func TestParseReverse(t *testing.T) {
	t.Parallel()
	for qname, want := range map[string]string{
		"5.0.244.10.in-addr.arpa.": "10.244.0.5",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.": "fd00::1",
		"0.244.10.in-addr.arpa.":    "",
		"x.0.244.10.in-addr.arpa.":  "",
		"1.0.ip6.arpa.":             "",
		"300.0.244.10.in-addr.arpa": "",
	} {
		ip, ok := parseReverse(qname)
		if want == "" {
			if ok {
				t.Errorf("parseReverse(%q) = %s, want not an address", qname, ip)
			}
			continue
		}
		if !ok || ip != netip.MustParseAddr(want) {
			t.Errorf("parseReverse(%q) = %s, %v, want %s", qname, ip, ok, want)
		}
	}
}
