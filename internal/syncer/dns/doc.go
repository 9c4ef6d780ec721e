// Package dns is a virtual cluster's DNS server. The control plane serves it
// itself, next to the API server and the kubelet endpoint: there is no CoreDNS
// workload per tenant. It answers the names of the cluster domain from the virtual
// cluster's own objects, read from the syncer's cache, and forwards every other
// name to upstream resolvers.
//
// Tenant pods reach it because the syncer gives their host copies `dnsPolicy:
// None` with this server as their nameserver and the searches
// `<ns>.svc.<zone> svc.<zone> <zone>` (see translate.PodOptions.DNSServer). A
// virtual Service has the ClusterIP of its host Service, so the addresses
// answered here are routable on the host; and since the answers come from the
// virtual cluster alone, a tenant resolves only its own Services, never another
// tenant's or the host's, whatever name it asks for.
//
// # Records
//
// The cluster domain (default cluster.local) follows the Kubernetes DNS-Based
// Service Discovery specification, as CoreDNS's kubernetes plugin serves it:
//
//	<svc>.<ns>.svc.<zone>              A/AAAA  the ClusterIPs of a ClusterIP Service;
//	                                           the ready endpoint addresses
//	                                           (EndpointSlices) of a headless one
//	                                   CNAME   the external name of an ExternalName
//	                                           Service, for every type; the target is
//	                                           resolved too (upstream, or here when it
//	                                           is in the cluster domain) and its
//	                                           records added
//	                                   SRV     one per port (per port and endpoint
//	                                           when headless)
//	<host>.<svc>.<ns>.svc.<zone>       A/AAAA  one endpoint of a headless Service, by
//	                                           its hostname or its dashed address
//	_<port>._<proto>.<svc>.<ns>.svc.<zone>
//	                                   SRV     the named port: target <svc>.<ns>.svc
//	                                           (ClusterIP) or <host>.<svc>.<ns>.svc
//	                                           per ready endpoint (headless), with
//	                                           the targets' addresses as additional
//	                                           records
//	<a-b-c-d>.<ns>.pod.<zone>          A/AAAA  the address, when a pod of <ns> has it
//	                                           ("pods verified")
//	dns-version.<zone>                 TXT     the specification's version, 1.1.0
//	<zone>                             SOA, NS
//
// A name of the cluster domain that does not exist is NXDOMAIN; one that exists
// without records of the type asked (an AAAA query for an IPv4 Service, the
// namespace name <ns>.svc.<zone>) is NODATA. Both carry the zone's SOA in the
// authority section, whose minimum, like every record's TTL, is 5 s. Cluster names
// are never forwarded: the host's DNS, which may serve the same domain, never
// answers for them.
//
// PTR queries for a ClusterIP of a Service, or a ready address of a headless one,
// answer <svc>.<ns>.svc.<zone> (or <host>.<svc>.<ns>.svc.<zone>); any other
// reverse name is forwarded, like CoreDNS's `fallthrough in-addr.arpa ip6.arpa`.
//
// # Forwarding
//
// Names outside the cluster domain go to the upstream resolvers (default: the
// nameservers of the machine's /etc/resolv.conf), in order, over the transport
// the client used, with a fresh query ID. One query's attempts share a deadline
// (default 2 s); when no upstream answers, the client gets SERVFAIL, not silence.
// An upstream that is this server's own address is dropped.
//
// # Reading the virtual cluster
//
// Every answer is read from a cache-backed client.Reader, so a query costs no
// API request: the informers on Services, EndpointSlices, Pods and Namespaces
// must be registered before the cache starts (the syncer does so). Until the
// cache has synced, or when a read fails, names of the cluster domain get
// SERVFAIL, never a false NXDOMAIN that a resolver would cache.
//
// [Server.Run] serves UDP and TCP until its context is done and never exits the
// process. UDP answers larger than the client's buffer (512 bytes, or its EDNS0
// size) are truncated with TC set, and the client asks again over TCP.
package dns
