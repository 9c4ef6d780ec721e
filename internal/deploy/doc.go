// Package deploy renders the host objects of a virtual cluster: one pure
// function, [Render], from a VirtualCluster to typed Kubernetes objects in
// apply order, used alike by `kubicle create` and by `kubicle operator`.
// Nothing here talks to an API server.
//
// # Objects
//
// In the host namespace (see [Ref] for every name):
//
//   - the Namespace itself, labelled with the Pod Security Standard of
//     spec.isolation (enforce, audit, warn) and with [LabelCreatedNamespace];
//     the caller creates it only when it is missing;
//   - the control plane's ServiceAccount, Role and RoleBinding, and, when
//     spec.sync.fromHost needs it, a read-only ClusterRole and binding;
//   - a ResourceQuota, a LimitRange and NetworkPolicies, as spec.isolation
//     asks;
//   - a Secret with the config file (the defaulted VirtualCluster) that the
//     control plane reads with --config, and a Secret with the shared PKI
//     when the caller supplies one;
//   - with driver "pod": a headless Service, the API server's Service (port
//     443 to 6443, of the type spec.controlPlane.expose asks) and the
//     StatefulSet that runs `kubicle control-plane` ([ControlPlaneArgs]).
//     With driver "process" the CLI runs the control plane as a local
//     process, which gets a token of the same ServiceAccount and so the
//     same rights.
//
// # Least privilege
//
// The control plane's host identity may touch only its own namespace. Its
// Role grants, per kind that spec.sync.toHost enables, the verbs a syncer
// needs to own host copies (get, list, watch, create, update, patch,
// delete; never "*", deletecollection, escalate, bind or impersonate); the
// pod subresources that serve logs, exec, attach, port-forward, debug and
// resize on the virtual cluster; events; a leader-election Lease; read
// access by name to its own StatefulSet and Services; and read access by
// name to the Secrets that hold its store's credentials. The ClusterRole is
// get/list/watch only, and only for the kinds spec.sync.fromHost shows:
// nodes, storage, ingress, runtime, priority, CSI and device classes, and
// ResourceSlices. It is absent when none is shown. Host PriorityClasses
// written by sync.toHost.priorityClasses would need cluster-wide write, so
// no rule grants it: a platform team that enables that sync grants it
// itself, knowingly.
//
// # Labels and deletion
//
// Every object carries [Ref.Labels]: the markers of package translate
// (app.kubernetes.io/managed-by=kubicle, kubicle.dev/vcluster=<name>) plus
// [LabelHostNamespace] and [LabelComponent]. [Ref.Selector] finds every
// rendered object; [DeletionOrder] lists every kind a virtual cluster may
// own on the host, rendered or synced, in the order to delete them, each
// with its [Kind.Selector]. The CLI and the operator share that list.
// Rendered objects carry no marker annotations, so the syncer
// ([translate.IsManaged]) never treats them as copies of virtual objects.
//
// # Decisions
//
// The exported kubeconfig Secret (spec.exportKubeConfig) is not rendered.
// Its content exists only at run time, once the control plane has its PKI
// and its address; an empty placeholder would be applied over the real one
// on every reconcile by a client that updates rather than server-side
// applies, and would look like a broken kubeconfig to GitOps tools in the
// meantime. The control plane (the CLI for driver "process") writes it,
// built with [KubeConfigSecret] so that it carries the labels deletion
// selects on.
//
// The NetworkPolicies are ingress-only. One selects the tenant's synced
// pods and admits traffic from pods of the same namespace only (the tenant's
// own pods and its control plane), refusing other namespaces, other
// tenants included. The other selects the control plane's pods and admits
// the API server port from anywhere (it is the virtual cluster's front
// door and authenticates every request) and any port only from its own
// replicas (embedded etcd). Egress is open, so DNS and the API server need
// no exception. Host components that must reach tenant pods from elsewhere
// (an ingress controller, load balancer health checks) need a policy of the
// platform's own.
//
// The ResourceQuota and LimitRange apply to the whole namespace, the control
// plane's pods included: the control plane's requests count against the
// tenant's quota. Render therefore checks that they admit the control plane
// (every replica) and fails with the fields to change when they do not. The
// control plane states a zero limit for each extended resource (a GPU) that
// the LimitRange caps without a default, since LimitRanger refuses a
// container that states none.
package deploy
