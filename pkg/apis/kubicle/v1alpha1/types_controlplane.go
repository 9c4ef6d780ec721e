package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ControlPlane configures the process that serves one virtual cluster:
// kube-apiserver, the controllers, an optional scheduler, the backing store
// and the syncer.
type ControlPlane struct {
	// Driver says how the control plane runs. "pod" runs it as a StatefulSet in
	// the host namespace, next to the tenant's pods. "process" runs it as an
	// operating system process on the machine that runs the kubicle CLI, for
	// laptops and CI.
	// Default: pod.
	// +kubicle:default="pod"
	Driver ControlPlaneDriver `json:"driver,omitempty"`

	// Version is the Kubernetes version the virtual cluster serves, written
	// "v1.37" or "v1.37.2" (the leading "v" is optional). kubicle embeds
	// kube-apiserver, so a version is served by the kubicle release that embeds
	// it: validation refuses a version other than the embedded one
	// (ServedKubernetesVersion, v1.37.2 in this release).
	// Default: empty, meaning the version embedded in the kubicle release that
	// runs the control plane.
	// +kubicle:pattern=^v?[0-9]+\.[0-9]+(\.[0-9]+)?$
	Version string `json:"version,omitempty"`

	// Image is the container image of the control plane. Only for driver "pod".
	// Default: empty, meaning the kubicle image of the release that deploys the
	// control plane.
	Image string `json:"image,omitempty"`

	// Resources are the compute resources of the control plane container. Only
	// for driver "pod".
	// Default: with driver "pod" and no requests or limits given, requests of
	// cpu 200m and memory 512Mi and a memory limit of 2Gi; otherwise none.
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`

	// Replicas is the number of control plane replicas. More than one makes the
	// control plane highly available: every replica serves the API, DNS and
	// logs/exec, and one leader, elected through Leases in the virtual
	// cluster's kube-system namespace, runs the controller manager, the
	// scheduler and the syncer's controllers; when it dies another takes over
	// within about 15 seconds. Several replicas need a store they share:
	// externalEtcd or database (embeddedEtcd and sqlite keep one replica's
	// store in its pod). Only 1 with driver "process".
	// Default: 1.
	// +kubicle:default=1
	// +kubicle:minimum=1
	Replicas *int32 `json:"replicas,omitempty"`

	// BackingStore is where the virtual API server keeps its objects.
	// Default: empty; every field has its own default.
	BackingStore BackingStore `json:"backingStore,omitzero"`

	// Scheduler configures a kube-scheduler inside the virtual cluster.
	// Default: empty; every field has its own default.
	Scheduler Scheduler `json:"scheduler,omitzero"`

	// Expose says how clients reach the virtual API server.
	// Default: empty; every field has its own default.
	Expose Expose `json:"expose,omitzero"`
}

// ControlPlaneDriver says how a control plane runs.
type ControlPlaneDriver string

// The control plane drivers.
const (
	// DriverPod runs the control plane as a StatefulSet in the host namespace.
	DriverPod ControlPlaneDriver = "pod"
	// DriverProcess runs the control plane as a local operating system process.
	DriverProcess ControlPlaneDriver = "process"
)

// AllowedValues returns every control plane driver.
func (ControlPlaneDriver) AllowedValues() []string {
	return []string{string(DriverPod), string(DriverProcess)}
}

// BackingStoreType names the store that holds a virtual cluster's objects.
type BackingStoreType string

// The backing store types.
const (
	// BackingStoreSQLite keeps objects in an SQLite file, through kine.
	BackingStoreSQLite BackingStoreType = "sqlite"
	// BackingStoreEmbeddedEtcd runs an etcd member inside each control plane replica.
	BackingStoreEmbeddedEtcd BackingStoreType = "embeddedEtcd"
	// BackingStoreExternalEtcd uses an etcd cluster run outside the virtual cluster.
	BackingStoreExternalEtcd BackingStoreType = "externalEtcd"
	// BackingStoreDatabase keeps objects in a PostgreSQL or MySQL database, through kine.
	BackingStoreDatabase BackingStoreType = "database"
)

// AllowedValues returns every backing store type.
func (BackingStoreType) AllowedValues() []string {
	return []string{string(BackingStoreSQLite), string(BackingStoreEmbeddedEtcd),
		string(BackingStoreExternalEtcd), string(BackingStoreDatabase)}
}

// BackingStore is where the virtual API server keeps its objects.
type BackingStore struct {
	// Type names the store. "sqlite" keeps objects in one file: the smallest
	// footprint, for a single replica. "embeddedEtcd" runs an etcd member in
	// each control plane replica. "externalEtcd" uses an etcd cluster you run
	// (see externalEtcd). "database" uses a PostgreSQL or MySQL database you
	// run (see database).
	// Default: sqlite.
	// +kubicle:default="sqlite"
	Type BackingStoreType `json:"type,omitempty"`

	// Persistence keeps the store's files on a PersistentVolumeClaim. Only for
	// types "sqlite" and "embeddedEtcd" with driver "pod".
	// Default: empty; every field has its own default.
	Persistence Persistence `json:"persistence,omitzero"`

	// ExternalEtcd is the etcd cluster to use. Required when type is
	// "externalEtcd", forbidden otherwise.
	// Default: none.
	ExternalEtcd *ExternalEtcd `json:"externalEtcd,omitempty"`

	// Database is the SQL database to use. Required when type is "database",
	// forbidden otherwise.
	// Default: none.
	Database *Database `json:"database,omitempty"`
}

// Persistence says where a store inside the control plane pod keeps its files.
type Persistence struct {
	// Enabled keeps the store on a PersistentVolumeClaim per replica. False
	// keeps it in an emptyDir volume, so the virtual cluster loses every object
	// when its pod restarts: only for short-lived clusters such as CI previews.
	// Default: true for types "sqlite" and "embeddedEtcd" with driver "pod".
	Enabled *bool `json:"enabled,omitempty"`

	// Size is the requested size of each PersistentVolumeClaim.
	// Default: 5Gi while enabled.
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName is the StorageClass of the PersistentVolumeClaims.
	// Default: empty, meaning the host's default StorageClass.
	StorageClassName string `json:"storageClassName,omitempty"`
}

// ExternalEtcd is an etcd cluster run outside the virtual cluster.
type ExternalEtcd struct {
	// Endpoints are the etcd client URLs, such as "https://etcd-0.etcd:2379".
	// Default: none; at least one is required.
	Endpoints []string `json:"endpoints,omitempty"`

	// TLSSecretRef names a Secret in the host namespace that holds the client
	// certificate (keys tls.crt and tls.key) and the CA bundle (key ca.crt) to
	// connect with. Requires https endpoints. The control plane reads it from
	// the host when it starts (a pod with its own Role, which grants get on
	// this Secret alone) and keeps the files in its data directory; a missing
	// Secret or key stops it with an error that names them.
	// Default: none; no client certificate, and the system's CA bundle.
	TLSSecretRef *SecretReference `json:"tlsSecretRef,omitempty"`

	// Prefix is the etcd key prefix under which the virtual cluster stores its
	// objects, so that several virtual clusters can share one etcd cluster.
	// Default: /kubicle/<namespace>/<name>.
	Prefix string `json:"prefix,omitempty"`
}

// DatabaseDriver names the SQL dialect of a database backing store.
type DatabaseDriver string

// The database drivers.
const (
	// DatabasePostgres is PostgreSQL.
	DatabasePostgres DatabaseDriver = "postgres"
	// DatabaseMySQL is MySQL (or MariaDB).
	DatabaseMySQL DatabaseDriver = "mysql"
)

// AllowedValues returns every database driver.
func (DatabaseDriver) AllowedValues() []string {
	return []string{string(DatabasePostgres), string(DatabaseMySQL)}
}

// Database is a SQL database that holds a virtual cluster's objects.
type Database struct {
	// Driver is the database's SQL dialect: "postgres" or "mysql".
	// Default: none; required.
	Driver DatabaseDriver `json:"driver,omitempty"`

	// DSNSecretRef names the Secret key in the host namespace that holds the
	// data source name, such as
	// "postgres://kubicle:PASSWORD@db.example.com:5432/tenant_a?sslmode=verify-full".
	// The DSN carries credentials, so it never appears in this config.
	// Default: none; required.
	DSNSecretRef *SecretKeyReference `json:"dsnSecretRef,omitempty"`
}

// SecretReference names a Secret in the host namespace.
type SecretReference struct {
	// Name is the Secret's name.
	// Default: none; required.
	// +kubicle:required
	Name string `json:"name"`
}

// SecretKeyReference names one key of a Secret in the host namespace.
type SecretKeyReference struct {
	// Name is the Secret's name.
	// Default: none; required.
	// +kubicle:required
	Name string `json:"name"`

	// Key is the key within the Secret's data.
	// Default: dsn.
	Key string `json:"key,omitempty"`
}

// Scheduler configures a kube-scheduler inside the virtual cluster.
type Scheduler struct {
	// Enabled runs a kube-scheduler inside the virtual cluster. Without it the
	// host's scheduler places the tenant's pods once they are synced, which is
	// what host queueing (Kueue) and GPU placement expect. With it the virtual
	// scheduler chooses among the virtual cluster's nodes first; isolation mode
	// "private" needs it, because its nodes belong to the virtual cluster.
	// Default: false, or true when isolation.mode is "private".
	Enabled *bool `json:"enabled,omitempty"`
}

// ExposeType says how clients reach a virtual API server.
type ExposeType string

// The ways to expose a virtual API server.
const (
	// ExposeClusterIP serves the API server through a ClusterIP Service.
	ExposeClusterIP ExposeType = "ClusterIP"
	// ExposeNodePort serves the API server through a NodePort Service.
	ExposeNodePort ExposeType = "NodePort"
	// ExposeLoadBalancer serves the API server through a LoadBalancer Service.
	ExposeLoadBalancer ExposeType = "LoadBalancer"
	// ExposePortForward makes clients reach the API server through a local port.
	ExposePortForward ExposeType = "PortForward"
)

// AllowedValues returns every expose type.
func (ExposeType) AllowedValues() []string {
	return []string{string(ExposeClusterIP), string(ExposeNodePort),
		string(ExposeLoadBalancer), string(ExposePortForward)}
}

// Expose says how clients reach the virtual API server.
type Expose struct {
	// Type says how clients reach the API server. "ClusterIP": a ClusterIP
	// Service; the exported kubeconfig names its cluster DNS name, for clients
	// inside the host cluster. "NodePort": a NodePort Service; the kubeconfig
	// names a node address and the node port. "LoadBalancer": a LoadBalancer
	// Service; the kubeconfig names the load balancer's address once it has
	// one. "PortForward": no address outside the host; `kubicle connect`
	// forwards a local port (driver "pod"), or the process listens on the
	// loopback interface (driver "process"). With driver "pod" tenant pods
	// always reach the API server through a ClusterIP Service.
	// Not supported yet: validation refuses "NodePort" and "LoadBalancer".
	// Default: ClusterIP with driver "pod", PortForward with driver "process".
	Type ExposeType `json:"type,omitempty"`

	// NodePort is the node port of a NodePort Service. Only for type NodePort.
	// Default: unset; the host chooses a free port.
	// +kubicle:minimum=1
	// +kubicle:maximum=65535
	NodePort int32 `json:"nodePort,omitempty"`

	// Annotations are added to the host Service, for example to ask a cloud
	// provider for an internal load balancer. Only for driver "pod".
	// Default: none.
	Annotations map[string]string `json:"annotations,omitempty"`

	// ExtraSANs are DNS names (wildcards such as "*.example.com" allowed) and IP
	// addresses added to the API server's serving certificate, for addresses
	// kubicle cannot know, such as a DNS name in front of a load balancer. The
	// Service's names and addresses, localhost and 127.0.0.1 are always in it.
	// Default: none.
	ExtraSANs []string `json:"extraSANs,omitempty"`
}
