package v1alpha1

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Default values that are not derived from other fields.
const (
	// DefaultPersistenceSize leaves room for etcd's default 2 GiB quota plus
	// compaction headroom, and is far more than an SQLite store of a typical
	// tenant needs.
	DefaultPersistenceSize = "5Gi"
	// DefaultDSNSecretKey is the Secret key that holds a database DSN.
	DefaultDSNSecretKey = "dsn"
	// DefaultGPUResourceName is the extended resource of NVIDIA's device plugin.
	DefaultGPUResourceName = "nvidia.com/gpu"
	// DefaultGPUProductLabel is the node label NVIDIA GPU Feature Discovery
	// sets to a node's GPU product.
	DefaultGPUProductLabel = "nvidia.com/gpu.product"
	// DefaultTimeZone is the time zone of sleep schedules.
	DefaultTimeZone = "UTC"
)

// DefaultBlockedEgressCIDRs are the address ranges a tenant's pods may not
// reach by default (isolation.networkPolicy.egress.blockedCIDRs): private
// (RFC 1918), shared (RFC 6598), loopback, link-local (cloud metadata) and
// benchmarking (RFC 2544, the embedded host's nodes) ranges.
var DefaultBlockedEgressCIDRs = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"169.254.0.0/16", "127.0.0.0/8", "198.18.0.0/15",
}

// Default fills every unset field of vc with its default, in place. It is
// idempotent, never overwrites a value that is set, and never fails: Validate
// reports what is wrong afterwards. It derives values only from valid inputs
// (no namespace from a malformed name, no quota from a negative maxGPUs), so
// that one mistake is reported once. Defaults that depend on the kubicle
// release that runs the control plane (controlPlane.version and image) and on
// addresses known only at run time (exportKubeConfig.server) stay empty.
func Default(vc *VirtualCluster) {
	spec := &vc.Spec

	// A virtual cluster gets a host namespace of its own: the namespace is the
	// blast-radius boundary. The prefix keeps tenant namespaces together in
	// listings and away from system namespaces.
	if vc.Namespace == "" && usableName(vc.Name) {
		vc.Namespace = DefaultNamespace(vc.Name)
	}

	// Isolation first: the scheduler and pod sync defaults depend on the mode.
	// Shared nodes need nothing from the platform team, so a first virtual
	// cluster works on any host.
	iso := &spec.Isolation
	setDefault(&iso.Mode, IsolationShared)

	defaultControlPlane(vc)
	defaultSync(spec)
	defaultIsolation(iso)
	defaultSleep(&spec.Sleep)
	defaultExportKubeConfig(vc)
}

func defaultControlPlane(vc *VirtualCluster) {
	cp := &vc.Spec.ControlPlane
	// A pod survives the laptop that created it and runs next to the tenant's
	// pods, on the host's network: the production shape.
	setDefault(&cp.Driver, DriverPod)
	// One replica is enough for development and preview clusters; HA is a
	// deliberate choice that also needs a shared store.
	setDefaultPtr(&cp.Replicas, 1)

	bs := &cp.BackingStore
	// SQLite is one file with no quorum to keep: the smallest footprint, and
	// the choice k3s makes for single servers.
	setDefault(&bs.Type, BackingStoreSQLite)
	if cp.Driver == DriverPod && (bs.Type == BackingStoreSQLite || bs.Type == BackingStoreEmbeddedEtcd) {
		// A store in an emptyDir dies with its pod; losing a tenant's cluster
		// on a node drain is never the right default.
		setDefaultPtr(&bs.Persistence.Enabled, true)
		if *bs.Persistence.Enabled && bs.Persistence.Size == nil {
			size := resource.MustParse(DefaultPersistenceSize)
			bs.Persistence.Size = &size
		}
	}
	if bs.ExternalEtcd != nil && bs.ExternalEtcd.Prefix == "" && usableName(vc.Name) && vc.Namespace != "" {
		// A prefix per virtual cluster lets several share one etcd cluster
		// without reading or overwriting each other's keys.
		bs.ExternalEtcd.Prefix = "/kubicle/" + vc.Namespace + "/" + vc.Name
	}
	if bs.Database != nil && bs.Database.DSNSecretRef != nil {
		// One conventional key name saves a line in every config.
		setDefault(&bs.Database.DSNSecretRef.Key, DefaultDSNSecretKey)
	}

	// The host scheduler places synced pods, which keeps host queueing (Kueue)
	// and GPU placement in one place. Private nodes belong to the virtual
	// cluster, so only a virtual scheduler can place pods on them.
	setDefaultPtr(&cp.Scheduler.Enabled, vc.Spec.Isolation.Mode == IsolationPrivate)

	// ClusterIP exposes nothing outside the host; `kubicle connect` reaches it
	// through a port-forward. A process listens on the loopback interface, so
	// only a local port reaches it.
	if cp.Driver == DriverProcess {
		setDefault(&cp.Expose.Type, ExposePortForward)
	} else {
		setDefault(&cp.Expose.Type, ExposeClusterIP)
	}

	// kube-apiserver, the controllers and SQLite idle at around 300 MiB;
	// 512Mi requested keeps the pod off nodes too full to run it, and the 2Gi
	// limit bounds a runaway tenant. No CPU limit: throttling the API server
	// turns a burst into timeouts for every client. A partial block is left
	// alone, since mixing it with defaults could put a request above a limit.
	res := &cp.Resources
	if cp.Driver == DriverPod && len(res.Requests) == 0 && len(res.Limits) == 0 && len(res.Claims) == 0 {
		res.Requests = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("200m"),
			corev1.ResourceMemory: resource.MustParse("512Mi"),
		}
		res.Limits = corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("2Gi"),
		}
	}
}

func defaultSync(spec *VirtualClusterSpec) {
	to := &spec.Sync.ToHost
	// Running the tenant's pods on the host is the point of a virtual cluster,
	// except with private nodes, which run them inside the virtual cluster.
	setDefaultPtr(&to.Pods.Enabled, spec.Isolation.Mode != IsolationPrivate)
	// Services, endpoints and claims make synced pods reachable and give them
	// their volumes and devices: without them most workloads break.
	setDefaultPtr(&to.Services.Enabled, true)
	setDefaultPtr(&to.Endpoints.Enabled, true)
	setDefaultPtr(&to.PersistentVolumeClaims.Enabled, true)
	// ResourceClaims are not created on the host yet (validation refuses true).
	setDefaultPtr(&to.ResourceClaims.Enabled, false)
	// Pods cannot start without the ConfigMaps and Secrets they mount, but the
	// host namespace should hold no tenant data that no pod needs.
	setDefaultPtr(&to.ConfigMaps.Enabled, true)
	setDefaultPtr(&to.ConfigMaps.All, false)
	setDefaultPtr(&to.Secrets.Enabled, true)
	setDefaultPtr(&to.Secrets.All, false)
	// A tenant's NetworkPolicy must hold, as on any cluster; translated, it
	// only ever selects and admits the tenant's own pods.
	setDefaultPtr(&to.NetworkPolicies.Enabled, true)
	// Each of these reaches beyond the host namespace (a host name on the
	// shared ingress controller, a cloud identity, cluster-wide priorities) or
	// needs a host API that is off by default (Workload), so the platform team
	// opts in.
	setDefaultPtr(&to.Ingresses.Enabled, false)
	setDefaultPtr(&to.ServiceAccounts.Enabled, false)
	setDefaultPtr(&to.PriorityClasses.Enabled, false)
	setDefaultPtr(&to.Workloads.Enabled, false)

	from := &spec.Sync.FromHost
	// Virtual nodes mirror the host nodes that run the tenant's pods; pseudo
	// nodes are not built yet (validation refuses them).
	setDefault(&from.Nodes.Mode, NodeSyncReal)
	// Host classes are not shown in the virtual cluster yet (validation
	// refuses true), so every class kind defaults to off.
	setDefaultPtr(&from.StorageClasses.Enabled, false)
	setDefaultPtr(&from.RuntimeClasses.Enabled, false)
	setDefaultPtr(&from.DeviceClasses.Enabled, false)
	setDefaultPtr(&from.IngressClasses.Enabled, false)
	setDefaultPtr(&from.PriorityClasses.Enabled, false)
	setDefaultPtr(&from.CSIDrivers.Enabled, false)
	// Host events (scheduling failures, quota refusals) are what a tenant needs
	// to see why a pod does not run.
	setDefaultPtr(&from.Events.Enabled, true)
}

func defaultIsolation(iso *Isolation) {
	// Baseline forbids privileged containers, host namespaces and hostPath
	// volumes (the ways out of a GPU container) while running most images
	// unchanged; restricted breaks many off-the-shelf images.
	setDefault(&iso.PodSecurityStandard, PodSecurityBaseline)
	// A node port or load balancer is a share of the host's nodes and cloud that
	// the platform gives out, not the tenant.
	if len(iso.AllowedServiceTypes) == 0 {
		iso.AllowedServiceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP}
	}
	// Without a policy any pod on the host can reach the tenant's pods and its
	// API server.
	setDefaultPtr(&iso.NetworkPolicy.Enabled, true)
	// Where host nodes, the host API server, other namespaces' pods and
	// Services, and cloud metadata live on most clusters; the internet stays
	// open, as on a cluster of one's own.
	if len(iso.NetworkPolicy.Egress.BlockedCIDRs) == 0 {
		iso.NetworkPolicy.Egress.BlockedCIDRs = slices.Clone(DefaultBlockedEgressCIDRs)
	}
	// The names NVIDIA's device plugin and GPU Feature Discovery use, on most
	// GPU clusters.
	setDefault(&iso.GPU.ResourceName, DefaultGPUResourceName)
	setDefault(&iso.GPU.ProductLabel, DefaultGPUProductLabel)

	// maxGPUs is shorthand for the quota entry that the host enforces.
	if iso.GPU.MaxGPUs != nil && *iso.GPU.MaxGPUs >= 0 && isExtendedResourceName(iso.GPU.ResourceName) {
		key := corev1.ResourceName("requests." + iso.GPU.ResourceName)
		if _, ok := iso.ResourceQuota[key]; !ok {
			if iso.ResourceQuota == nil {
				iso.ResourceQuota = corev1.ResourceList{}
			}
			iso.ResourceQuota[key] = *resource.NewQuantity(int64(*iso.GPU.MaxGPUs), resource.DecimalSI)
		}
	}

	// A quota on compute resources makes the API server refuse every pod that
	// does not state them; default requests and limits keep unmodified
	// manifests working. Only when the user gave no limit range at all, since
	// a partial one is a deliberate choice.
	lr := &iso.LimitRange
	if len(lr.Default) == 0 && len(lr.DefaultRequest) == 0 && len(lr.Max) == 0 && len(lr.Min) == 0 {
		has := func(names ...corev1.ResourceName) bool {
			for _, n := range names {
				if _, ok := iso.ResourceQuota[n]; ok {
					return true
				}
			}
			return false
		}
		set := func(list *corev1.ResourceList, name corev1.ResourceName, value string) {
			if *list == nil {
				*list = corev1.ResourceList{}
			}
			(*list)[name] = resource.MustParse(value)
		}
		if has(corev1.ResourceRequestsCPU, corev1.ResourceCPU) {
			set(&lr.DefaultRequest, corev1.ResourceCPU, "100m")
		}
		if has(corev1.ResourceRequestsMemory, corev1.ResourceMemory) {
			set(&lr.DefaultRequest, corev1.ResourceMemory, "128Mi")
		}
		if has(corev1.ResourceLimitsCPU) {
			set(&lr.Default, corev1.ResourceCPU, "1")
		}
		if has(corev1.ResourceLimitsMemory) {
			set(&lr.Default, corev1.ResourceMemory, "512Mi")
		}
	}
}

func defaultSleep(s *Sleep) {
	// Sleep must cost latency, never availability: a user's request wakes the
	// cluster.
	setDefaultPtr(&s.WakeOnRequest, true)
	// A schedule must not change meaning with the time zone of whichever
	// machine runs kubicle.
	if s.Schedule != nil {
		setDefault(&s.Schedule.TimeZone, DefaultTimeZone)
	}
}

func defaultExportKubeConfig(vc *VirtualCluster) {
	e := &vc.Spec.ExportKubeConfig
	// GitOps tools and CI jobs on the host connect through this Secret; it
	// adds no exposure beyond what Secret access in the namespace already has.
	setDefaultPtr(&e.Enabled, true)
	if !usableName(vc.Name) {
		return
	}
	// Named after the virtual cluster so that it is found without looking.
	setDefault(&e.SecretName, vc.Name+"-kubeconfig")
	// Short for the common case, and unique across namespaces otherwise.
	if vc.Namespace == "" || vc.Namespace == DefaultNamespace(vc.Name) {
		setDefault(&e.Context, "kubicle-"+vc.Name)
	} else {
		setDefault(&e.Context, "kubicle-"+vc.Name+"."+vc.Namespace)
	}
}

// setDefault sets *field to value when it is empty.
func setDefault[T ~string](field *T, value T) {
	if *field == "" {
		*field = value
	}
}

// setDefaultPtr points *field at value when it is nil.
func setDefaultPtr[T any](field **T, value T) {
	if *field == nil {
		*field = &value
	}
}
