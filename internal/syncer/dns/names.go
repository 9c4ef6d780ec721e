package dns

import (
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// kind says what a name inside the cluster domain stands for.
type kind int

const (
	// kindNone is a name that cannot exist in the cluster domain.
	kindNone kind = iota
	// kindApex is the cluster domain itself.
	kindApex
	// kindEmpty is an empty non-terminal: svc.<zone>, pod.<zone>.
	kindEmpty
	// kindNamespace is <ns>.svc.<zone> or <ns>.pod.<zone>.
	kindNamespace
	// kindService is <svc>.<ns>.svc.<zone>.
	kindService
	// kindEndpoint is <hostname>.<svc>.<ns>.svc.<zone>: one endpoint of a headless
	// Service, by its hostname or its dashed IP.
	kindEndpoint
	// kindProto is _<proto>.<svc>.<ns>.svc.<zone>, the parent of SRV names.
	kindProto
	// kindPort is _<port>._<proto>.<svc>.<ns>.svc.<zone>, an SRV name.
	kindPort
	// kindPod is <dashed-ip>.<ns>.pod.<zone>.
	kindPod
	// kindVersion is dns-version.<zone>, whose TXT record names the version of the
	// Kubernetes DNS specification served.
	kindVersion
)

// name is a parsed name inside the cluster domain.
type name struct {
	kind      kind
	namespace string
	service   string
	// endpoint is the first label of a kindEndpoint name.
	endpoint string
	// port and proto are a kindPort's labels without their underscore; proto is
	// lower case: tcp, udp or sctp.
	port, proto string
	// ip is a kindPod's address.
	ip netip.Addr
}

// inZone reports whether the lower-case FQDN qname is zone or below it.
func inZone(qname, zone string) bool {
	return qname == zone || strings.HasSuffix(qname, "."+zone)
}

// parseName reads a lower-case FQDN that inZone accepted. Names that do not follow
// the Kubernetes DNS schema, or whose labels could not be object names, are
// kindNone: they do not exist, whatever the cluster holds.
func parseName(qname, zone string) name {
	if qname == zone {
		return name{kind: kindApex}
	}
	rel := strings.TrimSuffix(qname, "."+zone)
	labels := strings.Split(rel, ".")
	n := len(labels)
	switch {
	case n == 1 && labels[0] == "dns-version":
		return name{kind: kindVersion}
	case n == 1 && (labels[0] == "svc" || labels[0] == "pod"):
		return name{kind: kindEmpty}
	case labels[n-1] == "svc":
		return parseServiceName(labels[:n-1])
	case labels[n-1] == "pod":
		return parsePodName(labels[:n-1])
	}
	return name{}
}

// parseServiceName reads the labels before "svc", outermost last.
func parseServiceName(labels []string) name {
	n := len(labels)
	if n == 0 || n > 4 {
		return name{}
	}
	out := name{namespace: labels[n-1]}
	if !isLabel(out.namespace) {
		return name{}
	}
	if n == 1 {
		out.kind = kindNamespace
		return out
	}
	out.service = labels[n-2]
	if !isLabel(out.service) {
		return name{}
	}
	switch n {
	case 2:
		out.kind = kindService
	case 3:
		if proto, ok := underscored(labels[0]); ok {
			if !isProtocol(proto) {
				return name{}
			}
			out.kind, out.proto = kindProto, proto
			return out
		}
		if !isLabel(labels[0]) {
			return name{}
		}
		out.kind, out.endpoint = kindEndpoint, labels[0]
	case 4:
		port, okPort := underscored(labels[0])
		proto, okProto := underscored(labels[1])
		if !okPort || !okProto || !isProtocol(proto) || !isLabel(port) {
			return name{}
		}
		out.kind, out.port, out.proto = kindPort, port, proto
	}
	return out
}

// parsePodName reads the labels before "pod", outermost last.
func parsePodName(labels []string) name {
	switch len(labels) {
	case 1:
		if !isLabel(labels[0]) {
			return name{}
		}
		return name{kind: kindNamespace, namespace: labels[0]}
	case 2:
		ip, ok := parseDashed(labels[0])
		if !ok || !isLabel(labels[1]) {
			return name{}
		}
		return name{kind: kindPod, namespace: labels[1], ip: ip}
	}
	return name{}
}

// parseDashed reads an address written with dashes: 10-1-2-3 for 10.1.2.3,
// fd00--1 for fd00::1.
func parseDashed(label string) (netip.Addr, bool) {
	if strings.Count(label, "-") == 3 {
		if ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && ip.Is4() {
			return ip, true
		}
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
	if err != nil || !ip.Is6() || ip.Is4In6() || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip, true
}

// dashed writes ip the way parseDashed reads it.
func dashed(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.String(), ":", "-")
}

// parseReverse reads a complete reverse-lookup name (d.c.b.a.in-addr.arpa. or the
// 32 nibbles of an ip6.arpa. name); a partial one is not an address.
func parseReverse(qname string) (netip.Addr, bool) {
	switch {
	case strings.HasSuffix(qname, ".in-addr.arpa."):
		labels := strings.Split(strings.TrimSuffix(qname, ".in-addr.arpa."), ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
			labels[i], labels[j] = labels[j], labels[i]
		}
		ip, err := netip.ParseAddr(strings.Join(labels, "."))
		return ip, err == nil && ip.Is4()
	case strings.HasSuffix(qname, ".ip6.arpa."):
		labels := strings.Split(strings.TrimSuffix(qname, ".ip6.arpa."), ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b strings.Builder
		for i := len(labels) - 1; i >= 0; i-- {
			if len(labels[i]) != 1 {
				return netip.Addr{}, false
			}
			b.WriteString(labels[i])
			if i%4 == 0 && i > 0 {
				b.WriteByte(':')
			}
		}
		ip, err := netip.ParseAddr(b.String())
		return ip, err == nil && ip.Is6()
	}
	return netip.Addr{}, false
}

// underscored returns label without its leading underscore, if it has one.
func underscored(label string) (string, bool) {
	if len(label) < 2 || label[0] != '_' {
		return "", false
	}
	return label[1:], true
}

func isProtocol(p string) bool { return p == "tcp" || p == "udp" || p == "sctp" }

// isLabel reports whether s could be a namespace, Service, hostname or port name.
func isLabel(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }
