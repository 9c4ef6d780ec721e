// Package lifecycle is the logic behind `kubicle create`, `connect`, `list`,
// `describe` and `delete`: it finds the host cluster, renders and applies a
// virtual cluster's host objects (package deploy), runs its control plane
// (driver "process": a local `kubicle control-plane` process; driver "pod":
// the rendered StatefulSet), records the virtual cluster on the host, and
// manages the user's kubeconfig contexts. The commands in internal/app only
// parse flags and call in here.
//
// `kubicle operator` runs the same steps for a VirtualCluster object, with
// no terminal and no waiting: [Apply] (checks, host objects, the process
// started), [Check] (one look at the control plane), [Export] (the
// kubeconfig Secret) and [Teardown] (what Delete does, returning what is
// left instead of waiting). [Create] and [Delete] are built from the same
// pieces.
//
// # Drivers
//
// A control plane runs as a local process (driver "process") or as a
// StatefulSet on the host (driver "pod"). Both sit behind one unexported
// interface, driver (driver.go), with one implementation each
// (driver_process.go, driver_pod.go): it prepares, starts, waits for,
// exports, connects to, observes, stops and deletes a control plane.
// Create, Delete, Connect, Describe, List and the operator's steps call it
// and never ask which driver runs; driverFor is the one place that tells
// them apart. The parts that every virtual cluster shares have files of
// their own: the host namespace (namespace.go), the shared PKI (pki.go),
// the exported kubeconfig Secret (export.go), the host token of a process
// (hosttoken.go) and the supervision of a process (process.go).
//
// # Finding the host
//
// [ResolveHost] works like kubectl: --kubeconfig and --context, else
// $KUBECONFIG (or ~/.kube/config) and its current context. When that context
// is a virtual cluster's own ([ContextName]: kubicle_NAME_HOSTNS_HOSTCONTEXT),
// the host is the context named in its last part, so that `kubicle create b`
// right after `kubicle create a` (which switched to a's context) still talks
// to the host. [Host.Check] asks the host for its version before anything is
// changed; an unreachable host is an error naming the server and the cause.
//
// # The record on the host
//
// Every virtual cluster has a ConfigMap "<name>-virtualcluster" in its host
// namespace, labelled like the rendered objects (component "record"). It holds
// the defaulted VirtualCluster with its status (phase, endpoint, Kubernetes
// version) under "virtualcluster.yaml", and for driver "process" the machine
// and state directory the process runs from. `kubicle list` lists these
// ConfigMaps across all namespaces, so it works from any machine with access
// to the host, and `kubicle delete` removes it with the other labelled
// objects. A ConfigMap rather than an annotation on the namespace: the
// namespace may exist before the virtual cluster and outlive it, and
// ConfigMaps can be listed by users who may not read Secrets. A ConfigMap
// rather than a VirtualCluster object: the CRD belongs to the operator and
// need not be installed for the CLI to work. The record carries no marker
// annotations, so the syncer never mistakes it for a synced copy.
//
// A virtual cluster that the operator manages is recorded by its
// VirtualCluster object instead (with [AnnotationMachine] and
// [AnnotationStateDir] for a process), and has no record ConfigMap. List,
// Describe and Connect read both kinds of record; Create and Delete refuse
// an operator-managed virtual cluster, and the operator refuses one with a
// record ConfigMap ([RecordedByCLI]), so that each has one manager.
//
// # Local state (driver "process")
//
// Per user, in [StateDir] ($KUBICLE_STATE_DIR, else $XDG_STATE_HOME/kubicle,
// else ~/.local/state/kubicle), one directory per virtual cluster:
//
//	vclusters/HOSTCONTEXT/HOSTNS/NAME/
//	  config.yaml          the defaulted VirtualCluster (--config)
//	  host.kubeconfig      the host, as the control plane's ServiceAccount (a token)
//	  data/                the control plane's --data-dir: PKI, SQLite, data/kubeconfig
//	  control-plane.log    the control plane's stdout and stderr
//	  control-plane.pid    its process id
//	  cluster.json         what kubicle needs later: host server, config hash, token expiry
//
// HOSTCONTEXT is the host's context name, with characters other than
// letters, digits, '.', '_' and '-' replaced and a hash appended. The
// control plane reaches the host with a token of the ServiceAccount that
// deploy renders, so it has the same rights as with driver "pod" and no
// more; the database DSN (backing store "database") is read from its Secret
// at every start and passed on the command line, never written to disk.
package lifecycle
