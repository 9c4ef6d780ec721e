package dns

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// noCopy reads objects straight from the cache: nothing here changes them.
var noCopy = client.UnsafeDisableDeepCopy

// result is what the cluster domain holds for one name and type.
type result struct {
	// exists is false for NXDOMAIN.
	exists bool
	// answer and extra are the records of the answer and additional sections; an
	// existing name with no answer records is NODATA.
	answer, extra []dns.RR
	// target is the external name of an ExternalName Service, still to be
	// resolved for the query's type; its CNAME is in answer.
	target string
}

// answerCluster answers a question about a name in the cluster domain.
func (s *Server) answerCluster(ctx context.Context, req *dns.Msg, q dns.Question, qname string) *dns.Msg {
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		return fail(req, dns.RcodeNotImplemented)
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	res, err := s.lookup(lctx, parseName(qname, s.zone), q.Name, q.Qtype)
	if err != nil {
		logr.FromContextOrDiscard(ctx).V(1).Info("Reading the virtual cluster failed; answering SERVFAIL", "name", q.Name, "err", err)
		return fail(req, dns.RcodeServerFailure)
	}
	m := s.reply(req)
	m.Answer, m.Extra = res.answer, append(res.extra, m.Extra...)
	for depth := 0; res.target != "" && q.Qtype != dns.TypeCNAME; depth++ {
		target := res.target
		if !inZone(target, s.zone) {
			m.Answer = append(m.Answer, s.resolveExternal(ctx, req, target, q.Qtype)...)
			break
		}
		if depth == maxChase {
			break
		}
		if res, err = s.lookup(lctx, parseName(target, s.zone), target, q.Qtype); err != nil {
			return fail(req, dns.RcodeServerFailure)
		}
		m.Answer = append(m.Answer, res.answer...)
		m.Extra = append(res.extra, m.Extra...)
	}
	if !res.exists && len(m.Answer) == 0 {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{s.soa()}
	}
	return m
}

// lookup returns what the virtual cluster holds for n; owner is the name the
// records are given, as the client spelt it.
func (s *Server) lookup(ctx context.Context, n name, owner string, qtype uint16) (result, error) {
	switch n.kind {
	case kindApex:
		res := result{exists: true}
		switch qtype {
		case dns.TypeSOA, dns.TypeANY:
			res.answer = []dns.RR{s.soa()}
		case dns.TypeNS:
			res.answer = []dns.RR{&dns.NS{Hdr: s.hdr(owner, dns.TypeNS), Ns: "ns.dns." + s.zone}}
		}
		return res, nil
	case kindEmpty:
		return result{exists: true}, nil
	case kindVersion:
		res := result{exists: true}
		if qtype == dns.TypeTXT || qtype == dns.TypeANY {
			res.answer = []dns.RR{&dns.TXT{Hdr: s.hdr(owner, dns.TypeTXT), Txt: []string{SpecVersion}}}
		}
		return res, nil
	case kindNamespace:
		err := s.cfg.Reader.Get(ctx, types.NamespacedName{Name: n.namespace}, &corev1.Namespace{}, noCopy)
		if apierrors.IsNotFound(err) {
			return result{}, nil
		}
		return result{exists: err == nil}, err
	case kindPod:
		return s.lookupPod(ctx, n, owner, qtype)
	case kindService, kindEndpoint, kindProto, kindPort:
		return s.lookupService(ctx, n, owner, qtype)
	}
	return result{}, nil
}

// lookupService answers the names of one Service and below it.
func (s *Server) lookupService(ctx context.Context, n name, owner string, qtype uint16) (result, error) {
	svc := &corev1.Service{}
	err := s.cfg.Reader.Get(ctx, types.NamespacedName{Namespace: n.namespace, Name: n.service}, svc, noCopy)
	if apierrors.IsNotFound(err) {
		return result{}, nil
	} else if err != nil {
		return result{}, err
	}
	fqdn := n.service + "." + n.namespace + ".svc." + s.zone
	external := svc.Spec.Type == corev1.ServiceTypeExternalName
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	switch n.kind {
	case kindService:
		if external {
			target := strings.ToLower(dns.Fqdn(svc.Spec.ExternalName))
			if _, ok := dns.IsDomainName(target); !ok || svc.Spec.ExternalName == "" {
				return result{exists: true}, nil
			}
			return result{exists: true, target: target,
				answer: []dns.RR{&dns.CNAME{Hdr: s.hdr(owner, dns.TypeCNAME), Target: target}}}, nil
		}
		if qtype == dns.TypeSRV {
			return s.serviceSRV(ctx, svc, fqdn, owner, nil)
		}
		if !headless {
			return result{exists: true, answer: s.addresses(owner, qtype, clusterIPs(svc))}, nil
		}
		eps, err := s.endpoints(ctx, svc)
		if err != nil {
			return result{}, err
		}
		ips := make([]netip.Addr, 0, len(eps))
		for _, ep := range eps {
			ips = append(ips, ep.ip)
		}
		// Spread clients over the endpoints, as CoreDNS's loadbalance plugin does.
		rand.Shuffle(len(ips), func(i, j int) { ips[i], ips[j] = ips[j], ips[i] })
		return result{exists: true, answer: s.addresses(owner, qtype, ips)}, nil
	case kindEndpoint:
		if !headless || external {
			return result{}, nil
		}
		eps, err := s.endpoints(ctx, svc)
		if err != nil {
			return result{}, err
		}
		var ips []netip.Addr
		for _, ep := range eps {
			if ep.hostname() == n.endpoint {
				ips = append(ips, ep.ip)
			}
		}
		return result{exists: len(ips) > 0, answer: s.addresses(owner, qtype, ips)}, nil
	case kindProto:
		return result{exists: slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
			return p.Name != "" && protocol(p.Protocol) == n.proto
		})}, nil
	case kindPort:
		i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
			return p.Name == n.port && protocol(p.Protocol) == n.proto
		})
		if i < 0 {
			return result{}, nil
		}
		if qtype != dns.TypeSRV && qtype != dns.TypeANY {
			return result{exists: true}, nil
		}
		if external {
			target := strings.ToLower(dns.Fqdn(svc.Spec.ExternalName))
			srv := &dns.SRV{Hdr: s.hdr(owner, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(svc.Spec.Ports[i].Port), Target: target}
			return result{exists: true, answer: []dns.RR{srv}}, nil
		}
		return s.serviceSRV(ctx, svc, fqdn, owner, &n)
	}
	return result{}, nil
}

// serviceSRV returns the SRV records of svc's ports that match n (all ports when n
// is nil): for a ClusterIP Service one per port, pointing at the Service's name; for
// a headless Service one per port and ready endpoint, pointing at the endpoint's
// name. The targets' addresses go in the additional section.
func (s *Server) serviceSRV(ctx context.Context, svc *corev1.Service, fqdn, owner string, n *name) (result, error) {
	res := result{exists: true}
	matches := func(portName string, proto corev1.Protocol) bool {
		return n == nil || (portName == n.port && protocol(proto) == n.proto)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		for _, p := range svc.Spec.Ports {
			if matches(p.Name, p.Protocol) {
				res.answer = append(res.answer, &dns.SRV{Hdr: s.hdr(owner, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: fqdn})
			}
		}
		if len(res.answer) > 0 {
			res.extra = s.addresses(fqdn, dns.TypeANY, clusterIPs(svc))
		}
		return res, nil
	}
	eps, err := s.endpoints(ctx, svc)
	if err != nil {
		return result{}, err
	}
	type target struct {
		name string
		port uint16
	}
	var targets []target
	seen := map[string]bool{}
	for _, ep := range eps {
		host := ep.hostname() + "." + fqdn
		for _, p := range ep.ports {
			if p.Port == nil || !matches(deref(p.Name), deref(p.Protocol)) {
				continue
			}
			targets = append(targets, target{host, uint16(*p.Port)})
			if !seen[host+ep.ip.String()] {
				seen[host+ep.ip.String()] = true
				res.extra = append(res.extra, s.addresses(host, dns.TypeANY, []netip.Addr{ep.ip})...)
			}
		}
	}
	weight := uint16(100)
	if len(targets) > 0 {
		weight = uint16(max(1, 100/len(targets)))
	}
	for _, t := range targets {
		res.answer = append(res.answer, &dns.SRV{Hdr: s.hdr(owner, dns.TypeSRV), Priority: 0, Weight: weight, Port: t.port, Target: t.name})
	}
	return res, nil
}

// endpoint is one ready address of a Service.
type endpoint struct {
	ip    netip.Addr
	host  string
	ports []discoveryv1.EndpointPort
}

// hostname is the endpoint's first label: its hostname (a pod's spec.hostname when
// its subdomain is the Service) or else its dashed address.
func (e endpoint) hostname() string {
	if e.host != "" {
		return e.host
	}
	return dashed(e.ip)
}

// endpoints returns the ready addresses of svc from the virtual cluster's
// EndpointSlices, each address once. With publishNotReadyAddresses the EndpointSlice
// controller already marks every address ready.
func (s *Server) endpoints(ctx context.Context, svc *corev1.Service) ([]endpoint, error) {
	slices := &discoveryv1.EndpointSliceList{}
	if err := s.cfg.Reader.List(ctx, slices, client.InNamespace(svc.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}, noCopy); err != nil {
		return nil, err
	}
	var out []endpoint
	seen := map[netip.Addr]bool{}
	for _, sl := range slices.Items {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || seen[ip] {
					continue
				}
				seen[ip] = true
				out = append(out, endpoint{ip: ip, host: strings.ToLower(deref(ep.Hostname)), ports: sl.Ports})
			}
		}
	}
	return out, nil
}

// lookupPod answers <dashed-ip>.<ns>.pod.<zone> for an address that a pod of that
// namespace has (CoreDNS's "pods verified"): a tenant cannot make the name of an
// arbitrary address resolve.
func (s *Server) lookupPod(ctx context.Context, n name, owner string, qtype uint16) (result, error) {
	pods := &corev1.PodList{}
	if err := s.cfg.Reader.List(ctx, pods, client.InNamespace(n.namespace), noCopy); err != nil {
		return result{}, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil && a == n.ip {
				return result{exists: true, answer: s.addresses(owner, qtype, []netip.Addr{n.ip})}, nil
			}
		}
	}
	return result{}, nil
}

// reverse returns PTR records for ip when it is a ClusterIP of a Service of the
// virtual cluster or a ready address of a headless one.
func (s *Server) reverse(ctx context.Context, ip netip.Addr, owner string) ([]dns.RR, error) {
	svcs := &corev1.ServiceList{}
	if err := s.cfg.Reader.List(ctx, svcs, noCopy); err != nil {
		return nil, err
	}
	var out []dns.RR
	headless := map[types.NamespacedName]bool{}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			headless[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] = true
			continue
		}
		if slices.Contains(clusterIPs(svc), ip) {
			out = append(out, &dns.PTR{Hdr: s.hdr(owner, dns.TypePTR), Ptr: svc.Name + "." + svc.Namespace + ".svc." + s.zone})
		}
	}
	if len(out) > 0 || len(headless) == 0 {
		return out, nil
	}
	eps := &discoveryv1.EndpointSliceList{}
	if err := s.cfg.Reader.List(ctx, eps, noCopy); err != nil {
		return nil, err
	}
	for _, sl := range eps.Items {
		svcName := sl.Labels[discoveryv1.LabelServiceName]
		if !headless[types.NamespacedName{Namespace: sl.Namespace, Name: svcName}] {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if addr, err := netip.ParseAddr(a); err == nil && addr == ip {
					e := endpoint{ip: ip, host: strings.ToLower(deref(ep.Hostname))}
					out = append(out, &dns.PTR{Hdr: s.hdr(owner, dns.TypePTR), Ptr: e.hostname() + "." + svcName + "." + sl.Namespace + ".svc." + s.zone})
				}
			}
		}
	}
	return out, nil
}

// resolveExternal asks the upstream resolvers for target, the external name of an
// ExternalName Service, and returns the answer's records; none when they fail, so
// the client still gets the CNAME and may follow it itself.
func (s *Server) resolveExternal(ctx context.Context, req *dns.Msg, target string, qtype uint16) []dns.RR {
	q := new(dns.Msg)
	q.SetQuestion(target, qtype)
	q.RecursionDesired = true
	if opt := req.IsEdns0(); opt != nil {
		q.SetEdns0(opt.UDPSize(), opt.Do())
	}
	resp := s.forward(ctx, q, "udp")
	if resp.Rcode != dns.RcodeSuccess || resp.Truncated {
		return nil
	}
	return resp.Answer
}

// addresses returns the A or AAAA records (both for ANY) of ips that qtype asks
// for.
func (s *Server) addresses(owner string, qtype uint16, ips []netip.Addr) []dns.RR {
	var out []dns.RR
	for _, ip := range ips {
		switch {
		case ip.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			out = append(out, &dns.A{Hdr: s.hdr(owner, dns.TypeA), A: ip.AsSlice()})
		case ip.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			out = append(out, &dns.AAAA{Hdr: s.hdr(owner, dns.TypeAAAA), AAAA: ip.AsSlice()})
		}
	}
	return out
}

// clusterIPs returns a Service's ClusterIPs (empty for a headless Service or one
// whose address is not allocated yet).
func clusterIPs(svc *corev1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// hdr is the header of a record of the cluster domain.
func (s *Server) hdr(owner string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: s.ttl}
}

// soa is the cluster domain's SOA record; its minimum (the negative-caching TTL) is
// the records' TTL, so a name that appears is seen as soon as one that changes.
func (s *Server) soa() dns.RR {
	return &dns.SOA{
		Hdr:     s.hdr(s.zone, dns.TypeSOA),
		Ns:      "ns.dns." + s.zone,
		Mbox:    "hostmaster." + s.zone,
		Serial:  uint32(time.Now().Unix()),
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  s.ttl,
	}
}

// protocol is the SRV label of a port protocol; a Service port's default is TCP.
func protocol(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
