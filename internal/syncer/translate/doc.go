// Package translate is the pure mapping between a virtual cluster's objects and
// the host objects the syncer creates for them.
//
// Nothing here talks to an API server: every function takes objects and
// options and returns objects, names or errors, so the syncer controllers can
// call it from reconcilers and tests can check it exhaustively. The package
// imports only the standard library, k8s.io/api and k8s.io/apimachinery (a
// test enforces it).
//
// # Directions
//
// Spec flows virtual → host: [HostName], [Pod], [Service], [ConfigMap],
// [Secret] and [PersistentVolumeClaim] build the host object a syncer should
// apply. The functions return only the fields kubicle owns; they never copy a
// host object's spec over itself, so fields that the host adds later
// (scheduling gates from Kueue, tolerations from admission, labels from host
// controllers) stay untouched when the syncer applies the result with its own
// server-side apply field manager.
//
// Status flows host → virtual: [VirtualPodStatus], [VirtualServiceStatus],
// [VirtualPersistentVolumeClaimStatus], [VirtualNodeName], [VirtualLabels]
// and [VirtualIdentity] read host objects back.
//
// # Identity and names
//
// A virtual object is identified by an [Identity]: the virtual cluster name,
// the virtual namespace ("" for cluster-scoped objects), the name and the UID.
// Every host object carries that identity as labels and annotations
// ([Markers]); a host object without them is not kubicle's ([IsManaged]).
// Host names are injective: two different identities never share a host
// name, however their names are crafted (see [HostName] for the argument).
//
// # Tenancy
//
// Translation is where a tenant could try to reach outside its host
// namespace share, so it is also where several guardrails live:
//   - tenant label and annotation keys in reserved domains (kubicle.dev,
//     kueue.x-k8s.io, app.kubernetes.io/managed-by) are escaped, so a tenant
//     can neither forge kubicle's markers nor choose its host queue
//     ([EscapeKey]);
//   - every selector a tenant writes (Service selectors, affinity terms,
//     topology spread constraints) is confined to its own virtual cluster
//     and namespace ([ServiceSelector], [LabelSelector], [PodAffinityTerm]);
//   - pods that would reach host devices are refused ([CheckDeviceAccess]);
//   - PersistentVolumeClaims cannot bind a host volume by name or label.
package translate
