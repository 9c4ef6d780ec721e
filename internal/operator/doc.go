// Package operator is `kubicle operator`: a controller-runtime manager on
// the host cluster that reconciles VirtualCluster objects (kubicle.dev/
// v1alpha1, the CRD in charts/kubicle/crds) with the code the lifecycle CLI
// runs, package lifecycle. `kubectl apply` of a VirtualCluster does what
// `kubicle create -f` does, and `kubectl delete` what `kubicle delete` does.
//
// # One reconcile
//
//  1. A finalizer ([Finalizer]) goes on the object first, so that a delete
//     waits for the teardown.
//  2. The spec is defaulted and validated (v1alpha1.Default, Validate). An
//     invalid spec gets Ready=False and Valid=False with reason
//     InvalidConfig and every problem with its field path in the message;
//     nothing is applied to the host.
//  3. A virtual cluster that `kubicle create` made (its record ConfigMap
//     exists) is left alone: Ready=False, reason ManagedByCLI.
//  4. lifecycle.Apply renders and applies the host objects (the same
//     checks as the CLI: namespace, ownership, database) and, for driver
//     "process", starts the control plane as a local process of the
//     operator's machine, with local state under lifecycle.StateDir; its
//     machine and state directory go into the object's annotations. For
//     driver "pod" the StatefulSet is the control plane. Unchanged objects
//     are applied again only every --reapply-interval.
//  5. lifecycle.Check looks at the control plane once. Not ready yet: phase
//     Starting, Ready=False, requeued after a few seconds, so no worker
//     waits for a control plane. A process that exited: phase Failed,
//     reason ControlPlaneStopped with its log's last lines, retried with
//     backoff (Apply starts it again).
//  6. Ready: the exported kubeconfig Secret is written (driver "process"),
//     and the status says phase Running, Ready=True, the endpoint, the
//     Kubernetes version and the observed generation. The control plane is
//     checked again every --check-interval: a process dies without an event
//     on the host.
//
// Deleting the object sets phase Deleting, then lifecycle.Teardown stops the
// process and deletes every host object labelled for the virtual cluster,
// kind by kind in deploy.DeletionOrder, requeueing until none is left; then
// the finalizer goes and the object with it.
//
// # Records
//
// The VirtualCluster object is the record of an operator-managed virtual
// cluster: the operator writes no record ConfigMap. `kubicle list`,
// `describe` and `connect` read both kinds of record; `kubicle create` and
// `delete` refuse to touch a virtual cluster that has an object, and the
// operator refuses one that has a record ConfigMap. So each virtual cluster
// has exactly one manager.
package operator
