// Package kubelet serves the kubelet API that a virtual cluster's Nodes
// advertise, so that `kubectl logs`, `exec`, `attach` and `port-forward` on a
// virtual pod reach the host pod the syncer runs for it.
//
// A virtual kube-apiserver serves those subresources by connecting to the
// node's kubelet endpoint (status.addresses InternalIP and
// status.daemonEndpoints.kubeletEndpoint.Port) over HTTPS with its kubelet
// client certificate. A [Server] answers there:
//
//	GET      /containerLogs/{namespace}/{pod}/{container}        → host pods/log
//	GET|POST /exec/{namespace}/{pod}[/{uid}]/{container}         → host pods/exec
//	GET|POST /attach/{namespace}/{pod}[/{uid}]/{container}       → host pods/attach
//	GET|POST /portForward/{namespace}/{pod}[/{uid}]              → host pods/portforward
//	GET      /healthz                                            → "ok"
//
// The paths and query parameters are the kubelet's own (k8s.io/kubernetes
// pkg/kubelet/server): logs take follow, previous, timestamps, sinceSeconds,
// sinceTime, tailLines (or the legacy tail), limitBytes and stream; exec and
// attach take input, output, error and tty ("1" for true) and exec repeated
// command; port-forward takes port (comma-separated, only WebSocket clients
// send it). They are translated to the host API server's parameters
// (stdin, stdout, stderr, tty, command, container, ports); whatever else a
// request carries is dropped.
//
// Logs are streamed from the host and flushed as they arrive, so `kubectl
// logs -f` follows. Exec, attach and port-forward are upgraded connections
// (SPDY or WebSocket): they go through an upgrade-aware proxy whose backend
// connection carries the host credentials of the syncer, so the streams pass
// through untouched and the host API server does any protocol translation.
// Credentials and impersonation headers that arrive with a request are
// removed before it is forwarded.
//
// Everything else answers 404, including the kubelet's /stats/summary and
// /metrics/resource, which are not served yet, so metrics-server gets no
// data for virtual nodes.
//
// # Who may reach which pod
//
// Every request must present a client certificate signed by the configured
// client CA (the virtual cluster's CA, which signs the API server's
// --kubelet-client-certificate); a connection without one fails the TLS
// handshake. [Config.AllowedClientNames] can narrow the accepted subjects
// further.
//
// The virtual pod namespace/name is mapped to its host pod with
// [translate.HostName] in the one host namespace the server is configured
// with. Before anything is forwarded, the host pod is read and must carry
// kubicle's markers ([translate.IsManaged], [translate.VirtualIdentity]) for
// this virtual cluster, this virtual namespace and this name, and, when the
// path names a pod UID, that UID. Otherwise the request is answered 404 as
// if the pod did not exist, whatever is in the host namespace: a tenant
// never reaches a host pod of another virtual cluster or one kubicle does
// not manage. The check reads the pod by name immediately before the
// request is forwarded by name; a host pod replaced in between by one that
// would fail the check is a window the host API server cannot close, as its
// streaming subresources take no UID precondition.
//
// The host credentials need get on pods, get on pods/log and create on
// pods/exec, pods/attach and pods/portforward in the host namespace.
package kubelet
