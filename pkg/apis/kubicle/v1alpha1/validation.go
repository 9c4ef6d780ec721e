package v1alpha1

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	// Time zones are checked against the IANA database compiled into the
	// binary, so that validation does not depend on the machine's tzdata.
	_ "time/tzdata"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// VersionPattern is the form of spec.controlPlane.version.
const VersionPattern = `^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`

var versionRegexp = regexp.MustCompile(VersionPattern)

// MinAfterInactivity is the shortest spec.sleep.afterInactivity: shorter ones
// put a cluster to sleep between two commands of the same user.
const MinAfterInactivity = time.Minute

// Validate checks a defaulted VirtualCluster and returns every problem it
// finds, each with its field path. Call Default first: Validate does not
// assume defaults, so an empty enum field is reported as unsupported. It does
// not check apiVersion and kind, which typed clients often leave empty.
func Validate(vc *VirtualCluster) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	errs = append(errs, validateMetadata(&vc.ObjectMeta, field.NewPath("metadata"))...)
	errs = append(errs, validateControlPlane(&vc.Spec, spec.Child("controlPlane"))...)
	errs = append(errs, validateSync(&vc.Spec, spec.Child("sync"))...)
	errs = append(errs, validateIsolation(&vc.Spec.Isolation, spec.Child("isolation"))...)
	errs = append(errs, validateSleep(&vc.Spec.Sleep, spec.Child("sleep"))...)
	errs = append(errs, validateExportKubeConfig(&vc.Spec.ExportKubeConfig, spec.Child("exportKubeConfig"))...)
	// A field that is already wrong is not also reported as unsupported: one
	// mistake, one message.
	for _, u := range validateUnsupported(vc) {
		if !slices.ContainsFunc(errs, func(e *field.Error) bool { return related(e.Field, u.Field) }) {
			errs = append(errs, u)
		}
	}
	return errs
}

func validateMetadata(meta *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	name, np := meta.Name, p.Child("name")
	switch {
	case name == "":
		errs = append(errs, field.Required(np, "names the virtual cluster"))
	default:
		if len(name) > MaxNameLength {
			errs = append(errs, field.Invalid(np, name, fmt.Sprintf(
				"must be no more than %d characters, so that the host objects named after it fit in 63", MaxNameLength)))
		}
		for _, msg := range validation.IsDNS1035Label(name) {
			if msg != validation.MaxLenError(validation.DNS1035LabelMaxLength) {
				errs = append(errs, field.Invalid(np, name, msg))
			}
		}
		if reason := reservedNameReason(name); reason != "" {
			errs = append(errs, field.Invalid(np, name, "is reserved: "+reason))
		}
	}

	ns, nsp := meta.Namespace, p.Child("namespace")
	switch {
	case ns == "":
		// Default derives the namespace from a usable name; for any other
		// name the name's own problem says what to fix.
		if usableName(name) {
			errs = append(errs, field.Required(nsp, "names the host namespace"))
		}
	default:
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(nsp, ns, msg))
		}
		if ns == metav1.NamespaceDefault || strings.HasPrefix(ns, ReservedNamePrefix) {
			errs = append(errs, field.Invalid(nsp, ns,
				"is a Kubernetes system namespace; a virtual cluster needs a namespace of its own, "+
					"since kubicle puts quotas, limit ranges, network policies and Pod Security labels on it"))
		}
	}
	return errs
}

func validateControlPlane(spec *VirtualClusterSpec, p *field.Path) field.ErrorList {
	cp := &spec.ControlPlane
	var errs field.ErrorList
	errs = append(errs, validateEnum(cp.Driver, p.Child("driver"))...)
	process := cp.Driver == DriverProcess

	if cp.Version != "" && !versionRegexp.MatchString(cp.Version) {
		errs = append(errs, field.Invalid(p.Child("version"), cp.Version,
			`must be a Kubernetes version such as "v1.37" or "v1.37.2"`))
	}

	if cp.Image != "" {
		if process {
			errs = append(errs, field.Forbidden(p.Child("image"), `only used with driver "pod"`))
		} else if strings.ContainsFunc(cp.Image, isSpace) {
			errs = append(errs, field.Invalid(p.Child("image"), cp.Image, "must not contain whitespace"))
		}
	}

	res := &cp.Resources
	if process && (len(res.Requests) > 0 || len(res.Limits) > 0 || len(res.Claims) > 0) {
		errs = append(errs, field.Forbidden(p.Child("resources"), `only used with driver "pod"`))
	} else {
		errs = append(errs, validateResources(res, p.Child("resources"))...)
	}

	bs := &cp.BackingStore
	bp := p.Child("backingStore")
	if r := cp.Replicas; r != nil {
		rp := p.Child("replicas")
		switch {
		case *r < 1:
			errs = append(errs, field.Invalid(rp, *r, "must be at least 1"))
		case *r == 1:
		case process:
			errs = append(errs, field.Invalid(rp, *r, `must be 1 with driver "process": a process runs on one machine`))
		case bs.Type == BackingStoreSQLite:
			errs = append(errs, field.Invalid(rp, *r,
				`must be 1 with backingStore.type "sqlite": an SQLite file serves one replica; `+
					`use externalEtcd or database for a highly available control plane`))
		case bs.Type == BackingStoreEmbeddedEtcd:
			errs = append(errs, field.Invalid(rp, *r,
				`must be 1 with backingStore.type "embeddedEtcd": each replica would run an etcd member of its own, `+
					`not one cluster with the others; use externalEtcd or database for a highly available control plane`))
		}
	}
	errs = append(errs, validateBackingStore(bs, process, bp)...)

	if private := spec.Isolation.Mode == IsolationPrivate; private && cp.Scheduler.Enabled != nil && !*cp.Scheduler.Enabled {
		errs = append(errs, field.Invalid(p.Child("scheduler", "enabled"), false,
			`must be true with isolation.mode "private": only a virtual scheduler can place pods on the virtual cluster's own nodes`))
	}

	errs = append(errs, validateExpose(&cp.Expose, process, p.Child("expose"))...)
	return errs
}

func validateBackingStore(bs *BackingStore, process bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateEnum(bs.Type, p.Child("type"))...)

	// Persistence.
	pers, pp := &bs.Persistence, p.Child("persistence")
	persistenceSet := pers.Enabled != nil || pers.Size != nil || pers.StorageClassName != ""
	local := bs.Type == BackingStoreSQLite || bs.Type == BackingStoreEmbeddedEtcd
	switch {
	case persistenceSet && (process || !local):
		errs = append(errs, field.Forbidden(pp, `only used with backingStore.type "sqlite" or "embeddedEtcd" and driver "pod"`))
	case pers.Enabled != nil && !*pers.Enabled:
		if pers.Size != nil {
			errs = append(errs, field.Forbidden(pp.Child("size"), "only used while persistence is enabled"))
		}
		if pers.StorageClassName != "" {
			errs = append(errs, field.Forbidden(pp.Child("storageClassName"), "only used while persistence is enabled"))
		}
	default:
		if pers.Size != nil && pers.Size.Sign() <= 0 {
			errs = append(errs, field.Invalid(pp.Child("size"), pers.Size.String(), "must be greater than 0"))
		}
		if pers.StorageClassName != "" {
			for _, msg := range validation.IsDNS1123Subdomain(pers.StorageClassName) {
				errs = append(errs, field.Invalid(pp.Child("storageClassName"), pers.StorageClassName, msg))
			}
		}
	}

	// External etcd.
	ep := p.Child("externalEtcd")
	switch {
	case bs.Type == BackingStoreExternalEtcd && bs.ExternalEtcd == nil:
		errs = append(errs, field.Required(ep, `required when type is "externalEtcd"`))
	case bs.Type != BackingStoreExternalEtcd && bs.ExternalEtcd != nil:
		errs = append(errs, field.Forbidden(ep, `only used when type is "externalEtcd"`))
	case bs.ExternalEtcd != nil:
		errs = append(errs, validateExternalEtcd(bs.ExternalEtcd, ep)...)
	}

	// Database.
	dp := p.Child("database")
	switch {
	case bs.Type == BackingStoreDatabase && bs.Database == nil:
		errs = append(errs, field.Required(dp, `required when type is "database"`))
	case bs.Type != BackingStoreDatabase && bs.Database != nil:
		errs = append(errs, field.Forbidden(dp, `only used when type is "database"`))
	case bs.Database != nil:
		db := bs.Database
		if db.Driver == "" {
			errs = append(errs, field.Required(dp.Child("driver"), `one of "postgres", "mysql"`))
		} else {
			errs = append(errs, validateEnum(db.Driver, dp.Child("driver"))...)
		}
		rp := dp.Child("dsnSecretRef")
		if db.DSNSecretRef == nil {
			errs = append(errs, field.Required(rp,
				"the data source name carries credentials, so it is read from a Secret in the host namespace"))
		} else {
			errs = append(errs, validateSecretName(db.DSNSecretRef.Name, rp.Child("name"))...)
			kp := rp.Child("key")
			if db.DSNSecretRef.Key == "" {
				errs = append(errs, field.Required(kp, ""))
			}
			for _, msg := range validation.IsConfigMapKey(db.DSNSecretRef.Key) {
				if db.DSNSecretRef.Key != "" {
					errs = append(errs, field.Invalid(kp, db.DSNSecretRef.Key, msg))
				}
			}
		}
	}
	return errs
}

func validateExternalEtcd(e *ExternalEtcd, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ep := p.Child("endpoints")
	if len(e.Endpoints) == 0 {
		errs = append(errs, field.Required(ep, "at least one etcd client URL"))
	}
	seen := map[string]bool{}
	for i, s := range e.Endpoints {
		ip := ep.Index(i)
		u, err := url.Parse(s)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/"):
			errs = append(errs, field.Invalid(ip, s, `must be an http or https URL such as "https://etcd-0.etcd:2379"`))
		case e.TLSSecretRef != nil && u.Scheme != "https":
			errs = append(errs, field.Invalid(ip, s, "must use https when tlsSecretRef is set"))
		}
		if seen[s] {
			errs = append(errs, field.Duplicate(ip, s))
		}
		seen[s] = true
	}
	if e.TLSSecretRef != nil {
		errs = append(errs, validateSecretName(e.TLSSecretRef.Name, p.Child("tlsSecretRef", "name"))...)
	}
	if e.Prefix != "" && !strings.HasPrefix(e.Prefix, "/") {
		errs = append(errs, field.Invalid(p.Child("prefix"), e.Prefix, `must start with "/"`))
	}
	return errs
}

func validateExpose(e *Expose, process bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	tp := p.Child("type")
	errs = append(errs, validateEnum(e.Type, tp)...)
	if process && e.Type != "" && e.Type != ExposePortForward {
		errs = append(errs, field.Invalid(tp, string(e.Type),
			`must be "PortForward" with driver "process": a process listens on the loopback interface only`))
	}
	if e.NodePort != 0 {
		np := p.Child("nodePort")
		if e.Type != ExposeNodePort {
			errs = append(errs, field.Forbidden(np, `only used with type "NodePort"`))
		} else if e.NodePort < 1 || e.NodePort > 65535 {
			errs = append(errs, field.Invalid(np, e.NodePort, validation.InclusiveRangeError(1, 65535)))
		}
	}
	if len(e.Annotations) > 0 {
		if process {
			errs = append(errs, field.Forbidden(p.Child("annotations"), `only used with driver "pod"`))
		} else {
			errs = append(errs, apivalidation.ValidateAnnotations(e.Annotations, p.Child("annotations"))...)
		}
	}
	seen := map[string]bool{}
	for i, san := range e.ExtraSANs {
		sp := p.Child("extraSANs").Index(i)
		valid := net.ParseIP(san) != nil
		if !valid && strings.HasPrefix(san, "*.") {
			valid = len(validation.IsWildcardDNS1123Subdomain(san)) == 0
		} else if !valid {
			valid = len(validation.IsDNS1123Subdomain(san)) == 0
		}
		if !valid {
			errs = append(errs, field.Invalid(sp, san,
				`must be an IP address or a DNS name such as "api.example.com" or "*.example.com"`))
		}
		if seen[san] {
			errs = append(errs, field.Duplicate(sp, san))
		}
		seen[san] = true
	}
	return errs
}

func validateSync(spec *VirtualClusterSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	to, tp := &spec.Sync.ToHost, p.Child("toHost")
	from, fp := &spec.Sync.FromHost, p.Child("fromHost")

	if spec.Isolation.Mode == IsolationPrivate && isTrue(to.Pods.Enabled) {
		errs = append(errs, field.Invalid(tp.Child("pods", "enabled"), true,
			`must be false with isolation.mode "private": pods run on the virtual cluster's own nodes`))
	}
	for _, r := range []struct {
		name string
		sync *ReferencedResourceSync
	}{{"configMaps", &to.ConfigMaps}, {"secrets", &to.Secrets}} {
		if isTrue(r.sync.All) && r.sync.Enabled != nil && !*r.sync.Enabled {
			errs = append(errs, field.Forbidden(tp.Child(r.name, "all"), "only used while enabled is true"))
		}
	}
	if isTrue(to.PriorityClasses.Enabled) && isTrue(from.PriorityClasses.Enabled) {
		errs = append(errs, field.Invalid(fp.Child("priorityClasses", "enabled"), true,
			"must be false while spec.sync.toHost.priorityClasses.enabled is true: a class would be synced both ways"))
	}

	for _, c := range []struct {
		name string
		sync *HostClassSync
	}{
		{"storageClasses", &from.StorageClasses}, {"ingressClasses", &from.IngressClasses}, {"runtimeClasses", &from.RuntimeClasses},
		{"priorityClasses", &from.PriorityClasses}, {"csiDrivers", &from.CSIDrivers}, {"deviceClasses", &from.DeviceClasses},
	} {
		cp := fp.Child(c.name, "selector")
		if c.sync.Selector != nil && !isTrue(c.sync.Enabled) {
			errs = append(errs, field.Forbidden(cp, "only used while enabled is true"))
		}
		errs = append(errs, metav1validation.ValidateLabelSelector(c.sync.Selector, metav1validation.LabelSelectorValidationOptions{}, cp)...)
	}

	np := fp.Child("nodes")
	errs = append(errs, validateEnum(from.Nodes.Mode, np.Child("mode"))...)
	errs = append(errs, metav1validation.ValidateLabelSelector(from.Nodes.Selector,
		metav1validation.LabelSelectorValidationOptions{}, np.Child("selector"))...)
	return errs
}

func validateIsolation(iso *Isolation, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateEnum(iso.Mode, p.Child("mode"))...)
	dedicated := iso.Mode == IsolationDedicated

	sp := p.Child("nodeSelector")
	switch {
	case len(iso.NodeSelector) > 0 && !dedicated:
		errs = append(errs, field.Forbidden(sp, `only used with mode "dedicated"`))
	case len(iso.NodeSelector) == 0 && dedicated:
		errs = append(errs, field.Required(sp, `mode "dedicated" needs a selector for the nodes of its pool`))
	default:
		errs = append(errs, metav1validation.ValidateLabels(iso.NodeSelector, sp)...)
	}

	tp := p.Child("tolerations")
	if len(iso.Tolerations) > 0 && !dedicated {
		errs = append(errs, field.Forbidden(tp, `only used with mode "dedicated"`))
	} else {
		for i := range iso.Tolerations {
			errs = append(errs, validateToleration(&iso.Tolerations[i], tp.Index(i))...)
		}
	}

	for i := range iso.AllowedTolerations {
		errs = append(errs, validateToleration(&iso.AllowedTolerations[i], p.Child("allowedTolerations").Index(i))...)
	}

	errs = append(errs, validateEnum(iso.PodSecurityStandard, p.Child("podSecurityStandard"))...)

	for i, st := range iso.AllowedServiceTypes {
		switch st {
		case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		default:
			errs = append(errs, field.NotSupported(p.Child("allowedServiceTypes").Index(i), st,
				[]string{string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeNodePort), string(corev1.ServiceTypeLoadBalancer)}))
		}
	}
	for i, c := range iso.AllowedEndpointCIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			errs = append(errs, field.Invalid(p.Child("allowedEndpointCIDRs").Index(i), c, `must be an address range such as "192.0.2.0/24"`))
		}
	}

	errs = append(errs, validateEgress(&iso.NetworkPolicy.Egress, p.Child("networkPolicy", "egress"))...)

	qp := p.Child("resourceQuota")
	for _, name := range sortedNames(iso.ResourceQuota) {
		errs = append(errs, validateQuotaResourceName(string(name), qp.Key(string(name)))...)
		errs = append(errs, validateNonNegative(iso.ResourceQuota[name], qp.Key(string(name)))...)
	}

	errs = append(errs, validateLimitRange(&iso.LimitRange, p.Child("limitRange"))...)
	errs = append(errs, validateGPU(iso, p.Child("gpu"))...)
	return errs
}

func validateEgress(e *NetworkEgress, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, list := range []struct {
		name  string
		cidrs []string
	}{{"blockedCIDRs", e.BlockedCIDRs}, {"allowedCIDRs", e.AllowedCIDRs}} {
		for i, c := range list.cidrs {
			if _, err := netip.ParsePrefix(c); err != nil {
				errs = append(errs, field.Invalid(p.Child(list.name).Index(i), c, `must be an address range such as "10.0.0.0/8"`))
			} else if pr := netip.MustParsePrefix(c); pr.Masked() != pr {
				errs = append(errs, field.Invalid(p.Child(list.name).Index(i), c,
					fmt.Sprintf("must name the range by its first address: %s", pr.Masked())))
			}
		}
	}
	for i, ns := range e.AllowedNamespaces {
		for _, msg := range content.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(p.Child("allowedNamespaces").Index(i), ns, msg))
		}
	}
	return errs
}

func validateToleration(t *corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		for _, msg := range content.IsLabelKey(t.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), t.Key, msg))
		}
	} else if t.Operator != corev1.TolerationOpExists {
		errs = append(errs, field.Invalid(p.Child("operator"), string(t.Operator),
			`must be "Exists" when key is empty, which tolerates every taint`))
	}
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
		for _, msg := range content.IsLabelValue(t.Value) {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, `must be empty when operator is "Exists"`))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), string(t.Operator),
			[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		errs = append(errs, field.NotSupported(p.Child("effect"), string(t.Effect),
			[]corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		errs = append(errs, field.Invalid(p.Child("tolerationSeconds"), *t.TolerationSeconds,
			`only used with effect "NoExecute"`))
	}
	return errs
}

// standardQuotaResources are the quota resource names without a domain that
// a ResourceQuota accepts.
var standardQuotaResources = []string{
	"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
	"cpu", "memory", "ephemeral-storage", "storage",
	"requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage",
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
}

func validateQuotaResourceName(name string, p *field.Path) field.ErrorList {
	prefix, _, hasDomain := strings.Cut(name, "/")
	if !hasDomain {
		if slices.Contains(standardQuotaResources, name) ||
			strings.HasPrefix(name, "hugepages-") || strings.HasPrefix(name, "requests.hugepages-") {
			return nil
		}
		return field.ErrorList{field.Invalid(p, name,
			`must be a quota resource name such as "requests.cpu", "limits.memory", "pods" or "requests.nvidia.com/gpu"`)}
	}
	var errs field.ErrorList
	for _, msg := range content.IsLabelKey(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	if len(errs) > 0 {
		return errs
	}
	native := prefix == "count" || strings.HasPrefix(name, "requests.") ||
		strings.HasSuffix(prefix, "kubernetes.io") || strings.HasSuffix(prefix, ".k8s.io")
	if !native {
		want := "requests." + strings.TrimPrefix(name, "limits.")
		errs = append(errs, field.Invalid(p, name, fmt.Sprintf(
			"must be %q: a quota limits extended resources by their requests only", want)))
	}
	return errs
}

func validateLimitRange(lr *LimitRange, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	lists := []struct {
		name string
		list corev1.ResourceList
	}{{"default", lr.Default}, {"defaultRequest", lr.DefaultRequest}, {"max", lr.Max}, {"min", lr.Min}}
	for _, l := range lists {
		for _, name := range sortedNames(l.list) {
			kp := p.Child(l.name).Key(string(name))
			errs = append(errs, validateResourceName(string(name), kp)...)
			errs = append(errs, validateNonNegative(l.list[name], kp)...)
		}
	}
	// Each pair is (smaller, larger): the first must not exceed the second.
	order := []struct {
		lo, hi         string
		loList, hiList corev1.ResourceList
	}{
		{"min", "max", lr.Min, lr.Max},
		{"defaultRequest", "default", lr.DefaultRequest, lr.Default},
		{"default", "max", lr.Default, lr.Max},
		{"min", "defaultRequest", lr.Min, lr.DefaultRequest},
	}
	for _, o := range order {
		for _, name := range sortedNames(o.loList) {
			lo := o.loList[name]
			hi, ok := o.hiList[name]
			if !ok || lo.Cmp(hi) <= 0 {
				continue
			}
			// Reported at the smaller side, the field a user most often mistypes.
			errs = append(errs, field.Invalid(p.Child(o.lo).Key(string(name)), lo.String(),
				fmt.Sprintf("must be less than or equal to %s[%s] of %s", o.hi, name, hi.String())))
		}
	}
	return errs
}

func validateGPU(iso *Isolation, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	gpu := &iso.GPU
	rnp := p.Child("resourceName")
	rnValid := false
	if gpu.ResourceName == "" {
		errs = append(errs, field.Required(rnp, ""))
	} else if !isExtendedResourceName(gpu.ResourceName) {
		errs = append(errs, field.Invalid(rnp, gpu.ResourceName, `must be an extended resource name such as "nvidia.com/gpu"`))
	} else {
		rnValid = true
	}

	if gpu.MaxGPUs != nil {
		mp := p.Child("maxGPUs")
		if *gpu.MaxGPUs < 0 {
			errs = append(errs, field.Invalid(mp, *gpu.MaxGPUs, "must be greater than or equal to 0"))
		} else if rnValid {
			key := corev1.ResourceName("requests." + gpu.ResourceName)
			if q, ok := iso.ResourceQuota[key]; ok && q.Cmp(*resource.NewQuantity(int64(*gpu.MaxGPUs), resource.DecimalSI)) != 0 {
				errs = append(errs, field.Invalid(mp, *gpu.MaxGPUs, fmt.Sprintf(
					"must equal spec.isolation.resourceQuota[%s] (%s) when both are set", key, q.String())))
			}
		}
	}

	lp := p.Child("productLabel")
	if gpu.ProductLabel == "" {
		errs = append(errs, field.Required(lp, ""))
	}
	for _, msg := range content.IsLabelKey(gpu.ProductLabel) {
		if gpu.ProductLabel != "" {
			errs = append(errs, field.Invalid(lp, gpu.ProductLabel, msg))
		}
	}

	seen := map[string]bool{}
	for i, t := range gpu.AllowedGPUTypes {
		tp := p.Child("allowedGPUTypes").Index(i)
		if t == "" {
			errs = append(errs, field.Invalid(tp, t, "must not be empty"))
		}
		for _, msg := range content.IsLabelValue(t) {
			errs = append(errs, field.Invalid(tp, t, msg))
		}
		if seen[t] {
			errs = append(errs, field.Duplicate(tp, t))
		}
		seen[t] = true
	}
	return errs
}

func validateSleep(s *Sleep, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.AfterInactivity != nil && s.AfterInactivity.Duration < MinAfterInactivity {
		errs = append(errs, field.Invalid(p.Child("afterInactivity"), s.AfterInactivity.Duration.String(),
			"must be at least "+MinAfterInactivity.String()))
	}
	if sc := s.Schedule; sc != nil {
		sp := p.Child("schedule")
		if sc.SleepAt == "" && sc.WakeAt == "" {
			errs = append(errs, field.Required(sp, "set sleepAt, wakeAt or both"))
		}
		for _, c := range []struct{ name, expr string }{{"sleepAt", sc.SleepAt}, {"wakeAt", sc.WakeAt}} {
			if c.expr == "" {
				continue
			}
			if err := checkCron(c.expr); err != nil {
				errs = append(errs, field.Invalid(sp.Child(c.name), c.expr, "must be a cron expression: "+err.Error()))
			}
		}
		zp := sp.Child("timeZone")
		switch {
		case sc.TimeZone == "":
			errs = append(errs, field.Required(zp, ""))
		case sc.TimeZone == "Local":
			errs = append(errs, field.Invalid(zp, sc.TimeZone,
				"must name a time zone; \"Local\" changes with the machine that runs kubicle"))
		default:
			if _, err := time.LoadLocation(sc.TimeZone); err != nil {
				errs = append(errs, field.Invalid(zp, sc.TimeZone, `must be an IANA time zone such as "Europe/Berlin"`))
			}
		}
	}
	return errs
}

func validateExportKubeConfig(e *ExportKubeConfig, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if e.SecretName != "" {
		errs = append(errs, validateSecretName(e.SecretName, p.Child("secretName"))...)
	}
	if e.Server != "" {
		u, err := url.Parse(e.Server)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, field.Invalid(p.Child("server"), e.Server,
				`must be an https URL such as "https://tenant-a.example.com:6443"`))
		}
	}
	if strings.ContainsFunc(e.Context, isSpace) {
		errs = append(errs, field.Invalid(p.Child("context"), e.Context, "must not contain whitespace"))
	}
	return errs
}

func validateResources(res *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(res.Claims) > 0 {
		errs = append(errs, field.Forbidden(p.Child("claims"), "the control plane claims no devices"))
	}
	for _, l := range []struct {
		name string
		list corev1.ResourceList
	}{{"limits", res.Limits}, {"requests", res.Requests}} {
		for _, name := range sortedNames(l.list) {
			kp := p.Child(l.name).Key(string(name))
			errs = append(errs, validateResourceName(string(name), kp)...)
			errs = append(errs, validateNonNegative(l.list[name], kp)...)
		}
	}
	for _, name := range sortedNames(res.Requests) {
		req := res.Requests[name]
		if limit, ok := res.Limits[name]; ok && req.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), req.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return errs
}

func validateResourceName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range content.IsLabelKey(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

func validateNonNegative(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

func validateSecretName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// enum is a string type that accepts a fixed set of values.
type enum interface {
	~string
	AllowedValues() []string
}

// validateEnum reports a value that is not one of its type's allowed values.
func validateEnum[T enum](v T, p *field.Path) field.ErrorList {
	allowed := v.AllowedValues()
	if slices.Contains(allowed, string(v)) {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, string(v), allowed)}
}

func sortedNames(list corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(list))
	for name := range list {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// isExtendedResourceName reports whether name is a resource that a device
// plugin advertises, such as "nvidia.com/gpu": a qualified name with a domain
// outside kubernetes.io.
func isExtendedResourceName(name string) bool {
	prefix, _, ok := strings.Cut(name, "/")
	return ok && len(content.IsLabelKey(name)) == 0 &&
		!strings.HasSuffix(prefix, "kubernetes.io") && !strings.HasPrefix(name, "requests.")
}

// related reports whether one field path is the other or lies inside it.
func related(a, b string) bool {
	inside := func(x, y string) bool {
		return x == y || (strings.HasPrefix(x, y) && (x[len(y)] == '.' || x[len(y)] == '['))
	}
	return inside(a, b) || inside(b, a)
}

func isTrue(b *bool) bool { return b != nil && *b }

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
