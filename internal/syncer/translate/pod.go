package translate

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// DefaultClusterDomain is the DNS domain of a virtual cluster unless
	// [PodOptions.ClusterDomain] says otherwise.
	DefaultClusterDomain = "cluster.local"
	// DefaultAPIServerPort is the port of the virtual API server unless
	// [PodOptions.APIServerPort] says otherwise.
	DefaultAPIServerPort = 443
	// DefaultHostServiceAccount is the host service account of tenant pods
	// unless [PodOptions.HostServiceAccountName] says otherwise.
	DefaultHostServiceAccount = "default"
	// DefaultTokenExpirationSeconds is the lifetime of a projected service
	// account token whose expirationSeconds is unset (the API default).
	DefaultTokenExpirationSeconds = 3600
)

// PodOptions are the virtual-cluster-wide inputs of [Pod]. Only Target,
// APIServerHost and DNSServer are required.
type PodOptions struct {
	// Target names the virtual cluster and its host namespace. Required.
	Target

	// APIServerHost is the address (IP or DNS name) at which pods on the
	// host reach the virtual API server, given to every container as
	// KUBERNETES_SERVICE_HOST. Required.
	APIServerHost string
	// APIServerPort is the port at APIServerHost. Default 443.
	APIServerPort int32
	// DNSServer is the IP of the virtual cluster's DNS service; pods that
	// use cluster DNS get it as their only cluster nameserver. Required.
	DNSServer string
	// ClusterDomain is the virtual cluster's DNS domain. Default
	// "cluster.local".
	ClusterDomain string

	// VirtualScheduler is true when the virtual cluster runs its own
	// scheduler: the virtual pod's spec.nodeName is then kept (it names a
	// host node, see [HostNodeName]). Default false: nodeName is dropped
	// and the host scheduler places the pod.
	VirtualScheduler bool
	// HostNodeName maps a virtual node name to the host node's, for a pod
	// whose nodeName is kept (VirtualScheduler). Default nil: the same name.
	HostNodeName func(virtual string) string
	// HostServiceAccountName is the host service account tenant pods run
	// as; no token of it is mounted. Default "default".
	HostServiceAccountName string
	// PriorityClassName maps a virtual priority class name to the host one,
	// for instance func(n string) string { return HostName(vc, "", n,
	// DNSSubdomain) } when priority classes are synced to the host, or ""
	// to drop it. Never map to the host's system-* classes. Default (nil):
	// the priority class is dropped and the host default applies.
	PriorityClassName func(virtual string) string
	// ResolveNamespaces resolves affinity namespace selectors (see
	// [PodAffinityTerm]). Default nil: a pod with a non-empty
	// namespaceSelector is refused.
	ResolveNamespaces NamespaceResolver
	// ServiceEnv holds the service link variables (FOO_SERVICE_HOST, ...)
	// of the virtual services visible to the pod, which the syncer computes
	// from the virtual cluster. The host pod has enableServiceLinks false
	// (the host's services are not the tenant's), and gets these variables
	// instead unless the virtual pod disabled service links. Default none.
	ServiceEnv []corev1.EnvVar

	// Labels are labels the host decides, set on the host pod over
	// everything else, e.g. kueue.x-k8s.io/queue-name. Tenant keys never
	// collide with reserved keys here because they are escaped. They may
	// not be marker keys. Default none.
	Labels map[string]string
	// NodeSelector is merged into the host pod's nodeSelector, winning over
	// the tenant's values: it keeps the tenant on its node pool (dedicated
	// isolation). Default none.
	NodeSelector map[string]string
	// Tolerations are added to the host pod's tolerations, e.g. the taint
	// of a dedicated pool. Default none.
	Tolerations []corev1.Toleration
	// Devices says which ways to reach host devices are allowed; see
	// [CheckDeviceAccess]. Default: none.
	Devices DevicePolicy
}

// Validate reports missing or malformed options.
func (o PodOptions) Validate() error {
	errs := []error{o.Target.Validate()}
	if o.APIServerHost == "" {
		errs = append(errs, errors.New("apiServerHost: required"))
	}
	if o.APIServerPort < 0 || o.APIServerPort > 65535 {
		errs = append(errs, fmt.Errorf("apiServerPort: %d is not a port", o.APIServerPort))
	}
	if _, err := netip.ParseAddr(o.DNSServer); err != nil {
		errs = append(errs, fmt.Errorf("dnsServer: %q is not an IP address", o.DNSServer))
	}
	if o.ClusterDomain != "" && len(validation.IsDNS1123Subdomain(o.ClusterDomain)) > 0 {
		errs = append(errs, fmt.Errorf("clusterDomain: %q is not a DNS subdomain", o.ClusterDomain))
	}
	for k := range o.Labels {
		if isMarkerKey(k) {
			errs = append(errs, fmt.Errorf("labels: %s is a marker key", k))
		}
	}
	return errors.Join(errs...)
}

func (o PodOptions) clusterDomain() string {
	if o.ClusterDomain == "" {
		return DefaultClusterDomain
	}
	return o.ClusterDomain
}

func (o PodOptions) apiServerPort() string {
	if o.APIServerPort == 0 {
		return strconv.Itoa(DefaultAPIServerPort)
	}
	return strconv.Itoa(int(o.APIServerPort))
}

func (o PodOptions) hostServiceAccount() string {
	if o.HostServiceAccountName == "" {
		return DefaultHostServiceAccount
	}
	return o.HostServiceAccountName
}

// isMarkerKey reports whether k is one of the keys of [Markers].
func isMarkerKey(k string) bool {
	switch k {
	case LabelManagedBy, KeyVCluster, KeyNamespace, KeyName, KeyUID:
		return true
	}
	return false
}

// Pod returns the host pod for a virtual pod, or an error naming the field
// that cannot be translated (a device escape refused by
// [CheckDeviceAccess], an unresolvable affinity namespace selector).
//
// The host pod has only kubicle's fields: its name is [HostName] in
// DNSSubdomain form, its namespace the host namespace, its labels and
// annotations the tenant's (escaped) plus the markers, the virtual service
// account name in [KeyServiceAccount] and [PodOptions.Labels]. The spec is
// the virtual spec with:
//
//   - references translated to host names: configMap, secret and
//     persistentVolumeClaim volumes, projected configMap and secret sources,
//     CSI and legacy volume secretRefs, env valueFrom configMapKeyRef and
//     secretKeyRef, envFrom, imagePullSecrets, resourceClaims,
//     schedulingGroup.podGroupName, and subdomain (a Service, so DNSLabel)
//     — in init, regular and ephemeral containers alike;
//   - service account tokens: each projected serviceAccountToken source
//     (the kube-api-access-* volume among them) becomes a source from the
//     host Secret [PodTokenSecretName], key [TokenRequest.Key], because
//     tokens are issued by the virtual API server ([PodTokens] lists them).
//     The syncer must create that Secret ([PodTokenSecret]) before the pod
//     and refresh it before the tokens expire; the pod waits for it;
//   - the host service account set to [PodOptions.HostServiceAccountName]
//     with automountServiceAccountToken false, so no host token is ever
//     mounted;
//   - downward API fields that would show host values (metadata.name,
//     metadata.namespace, metadata.uid, spec.serviceAccountName) read the
//     marker annotations instead; label and annotation subscripts use
//     escaped keys;
//   - ephemeral volumes replaced by the PersistentVolumeClaim that the
//     virtual cluster created for them (<pod>-<volume>, synced like any
//     claim), so the host does not create a second one; likewise a
//     resourceClaimTemplateName becomes the resourceClaimName of the claim
//     the virtual cluster generated, once the virtual pod's
//     status.resourceClaimStatuses names it (until then the template is
//     translated and the host generates the claim, so a syncer for a
//     virtual cluster that runs the resource claim controller should wait
//     for that status before creating the host pod);
//   - KUBERNETES_SERVICE_HOST/PORT (and the KUBERNETES_PORT* link
//     variables) pointing at the virtual API server, plus
//     [PodOptions.ServiceEnv], placed before the container's own env so
//     that $(VAR) references see them; a container's own value wins;
//   - DNS: dnsPolicy None with the virtual DNS server, the searches
//     <ns>.svc.<domain> svc.<domain> <domain> and ndots:5, merged with the
//     pod's dnsConfig as the kubelet would; kept as written for hostNetwork
//     pods and for dnsPolicy None or Default (Default means the node's
//     resolver, which is the same node on the host);
//   - hostname, unless the pod sets one, derived from the virtual pod name
//     as the kubelet would (cut to 63 characters, trailing '-' and '.'
//     trimmed; '.' then replaced by '-' since the field must be a DNS
//     label), so the pod sees its virtual name rather than the host name;
//   - nodeName dropped unless [PodOptions.VirtualScheduler];
//   - priorityClassName mapped by [PodOptions.PriorityClassName]; priority,
//     preemptionPolicy and overhead cleared for the host's admission to
//     fill in from host classes;
//   - pod affinity, anti-affinity and topology spread selectors confined to
//     the tenant ([Affinity], [LabelSelector]);
//   - scheduling gates in reserved domains (Kueue's, kubicle's) dropped,
//     evictionResponders dropped (responders run in the virtual cluster);
//   - [PodOptions.NodeSelector] and [PodOptions.Tolerations] applied.
//
// Ephemeral containers are translated like the others and left in the
// result; a pod cannot be created with them, so the syncer strips them on
// create and adds them through the ephemeralcontainers subresource. Status,
// owner references and finalizers are not set. The virtual pod is not
// modified.
func Pod(virtual *corev1.Pod, opts PodOptions) (*corev1.Pod, error) {
	if virtual == nil {
		return nil, errors.New("translating pod: nil pod")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("translating pod %s/%s: options: %w", virtual.Namespace, virtual.Name, err)
	}
	if err := opts.Target.check("pod", virtual); err != nil {
		return nil, err
	}
	if errs := CheckDeviceAccess(virtual, opts.Devices); len(errs) > 0 {
		return nil, fmt.Errorf("translating pod %s/%s: %w", virtual.Namespace, virtual.Name, errs.ToAggregate())
	}

	t := &podTranslator{opts: opts, id: IdentityOf(opts.VCluster, virtual)}
	for _, st := range virtual.Status.ResourceClaimStatuses {
		if st.ResourceClaimName != nil {
			if t.generatedClaims == nil {
				t.generatedClaims = map[string]string{}
			}
			t.generatedClaims[st.Name] = *st.ResourceClaimName
		}
	}
	host := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: opts.Target.hostMeta(virtual, DNSSubdomain),
	}
	host.Labels = merge(host.Labels, opts.Labels)
	if sa := virtual.Spec.ServiceAccountName; sa != "" {
		host.Annotations[KeyServiceAccount] = sa
	}
	host.Spec = *virtual.Spec.DeepCopy()
	t.spec(&host.Spec, field.NewPath("spec"))
	if len(t.errs) > 0 {
		return nil, fmt.Errorf("translating pod %s/%s: %w", virtual.Namespace, virtual.Name, t.errs.ToAggregate())
	}
	return host, nil
}

// podTranslator carries one pod's translation.
type podTranslator struct {
	opts PodOptions
	id   Identity
	// generatedClaims maps a pod claim name to the ResourceClaim the virtual
	// cluster generated for it from a template (virtual pod status).
	generatedClaims map[string]string
	// inject holds the env variables every container gets unless it sets
	// them itself.
	inject []corev1.EnvVar
	errs   field.ErrorList
}

// object returns the host name of an object in the pod's namespace; "" stays
// "" so optional references keep their meaning.
func (t *podTranslator) object(name string) string {
	if name == "" {
		return ""
	}
	return HostName(t.opts.VCluster, t.id.Namespace, name, DNSSubdomain)
}

func (t *podTranslator) spec(s *corev1.PodSpec, p *field.Path) {
	t.inject = kubernetesEnv(t.opts.APIServerHost, t.opts.apiServerPort())
	if s.EnableServiceLinks == nil || *s.EnableServiceLinks {
		t.inject = append(t.inject, t.opts.ServiceEnv...)
	}
	s.EnableServiceLinks = ptr(false)

	t.volumes(s.Volumes, p.Child("volumes"))
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		c.Env = t.env(c.Env, c.EnvFrom)
	}
	for i := range s.Containers {
		c := &s.Containers[i]
		c.Env = t.env(c.Env, c.EnvFrom)
	}
	for i := range s.EphemeralContainers {
		c := &s.EphemeralContainers[i]
		c.Env = t.env(c.Env, c.EnvFrom)
	}
	for i := range s.ImagePullSecrets {
		s.ImagePullSecrets[i].Name = t.object(s.ImagePullSecrets[i].Name)
	}

	s.ServiceAccountName = t.opts.hostServiceAccount()
	s.DeprecatedServiceAccount = s.ServiceAccountName
	s.AutomountServiceAccountToken = ptr(false)

	t.dns(s)
	if s.Hostname == "" {
		s.Hostname = podHostname(t.id.Name)
	}
	if s.Subdomain != "" {
		s.Subdomain = HostName(t.opts.VCluster, t.id.Namespace, s.Subdomain, DNSLabel)
	}
	if !t.opts.VirtualScheduler {
		s.NodeName = ""
	} else if s.NodeName != "" && t.opts.HostNodeName != nil {
		s.NodeName = t.opts.HostNodeName(s.NodeName)
	}

	if s.PriorityClassName != "" && t.opts.PriorityClassName != nil {
		s.PriorityClassName = t.opts.PriorityClassName(s.PriorityClassName)
	} else {
		s.PriorityClassName = ""
	}
	s.Priority = nil
	s.PreemptionPolicy = nil
	s.Overhead = nil

	var errs field.ErrorList
	s.Affinity, errs = affinity(t.opts.VCluster, t.id.Namespace, s.Affinity, t.opts.ResolveNamespaces, p.Child("affinity"))
	t.errs = append(t.errs, errs...)
	for i := range s.TopologySpreadConstraints {
		c := &s.TopologySpreadConstraints[i]
		c.LabelSelector = LabelSelector(t.opts.VCluster, t.id.Namespace, c.LabelSelector)
		c.MatchLabelKeys = escapeKeyList(c.MatchLabelKeys)
	}

	s.SchedulingGates = slices.DeleteFunc(s.SchedulingGates, func(g corev1.PodSchedulingGate) bool {
		return IsReservedKey(g.Name)
	})
	if len(s.SchedulingGates) == 0 {
		s.SchedulingGates = nil
	}
	s.EvictionResponders = nil
	for i := range s.ResourceClaims {
		rc := &s.ResourceClaims[i]
		if rc.ResourceClaimName != nil {
			rc.ResourceClaimName = ptr(t.object(*rc.ResourceClaimName))
		}
		if rc.ResourceClaimTemplateName == nil {
			continue
		}
		if claim, ok := t.generatedClaims[rc.Name]; ok {
			// The virtual cluster already made the claim; use its host copy
			// rather than let the host make a second one.
			rc.ResourceClaimTemplateName = nil
			rc.ResourceClaimName = ptr(t.object(claim))
		} else {
			rc.ResourceClaimTemplateName = ptr(t.object(*rc.ResourceClaimTemplateName))
		}
	}
	if g := s.SchedulingGroup; g != nil && g.PodGroupName != nil {
		g.PodGroupName = ptr(t.object(*g.PodGroupName))
	}

	s.NodeSelector = merge(s.NodeSelector, t.opts.NodeSelector)
	for _, tol := range t.opts.Tolerations {
		if !slices.ContainsFunc(s.Tolerations, func(have corev1.Toleration) bool { return sameToleration(have, tol) }) {
			s.Tolerations = append(s.Tolerations, tol)
		}
	}
}

func (t *podTranslator) volumes(vols []corev1.Volume, p *field.Path) {
	secretRef := func(r *corev1.LocalObjectReference) {
		if r != nil {
			r.Name = t.object(r.Name)
		}
	}
	for i := range vols {
		v := &vols[i]
		switch {
		case v.ConfigMap != nil:
			v.ConfigMap.Name = t.object(v.ConfigMap.Name)
		case v.Secret != nil:
			v.Secret.SecretName = t.object(v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil:
			v.PersistentVolumeClaim.ClaimName = t.object(v.PersistentVolumeClaim.ClaimName)
		case v.Projected != nil:
			t.projected(v.Projected)
		case v.DownwardAPI != nil:
			t.downwardAPIFiles(v.DownwardAPI.Items)
		case v.Ephemeral != nil:
			// The virtual cluster's ephemeral volume controller created the
			// claim <pod>-<volume>; the syncer copies it like any claim.
			v.VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: t.object(t.id.Name + "-" + v.Name),
			}}
		case v.CSI != nil:
			secretRef(v.CSI.NodePublishSecretRef)
		case v.AzureFile != nil:
			v.AzureFile.SecretName = t.object(v.AzureFile.SecretName)
		case v.CephFS != nil:
			secretRef(v.CephFS.SecretRef)
		case v.Cinder != nil:
			secretRef(v.Cinder.SecretRef)
		case v.FlexVolume != nil:
			secretRef(v.FlexVolume.SecretRef)
		case v.ISCSI != nil:
			secretRef(v.ISCSI.SecretRef)
		case v.RBD != nil:
			secretRef(v.RBD.SecretRef)
		case v.ScaleIO != nil:
			secretRef(v.ScaleIO.SecretRef)
		case v.StorageOS != nil:
			secretRef(v.StorageOS.SecretRef)
		}
	}
}

func (t *podTranslator) projected(pv *corev1.ProjectedVolumeSource) {
	for j := range pv.Sources {
		src := &pv.Sources[j]
		switch {
		case src.ConfigMap != nil:
			src.ConfigMap.Name = t.object(src.ConfigMap.Name)
		case src.Secret != nil:
			src.Secret.Name = t.object(src.Secret.Name)
		case src.DownwardAPI != nil:
			t.downwardAPIFiles(src.DownwardAPI.Items)
		case src.ServiceAccountToken != nil:
			tok := src.ServiceAccountToken
			*src = corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: PodTokenSecretName(t.opts.VCluster, t.id.Namespace, t.id.Name)},
				Items:                []corev1.KeyToPath{{Key: tokenKey(tok.Audience), Path: tok.Path, User: tok.User}},
			}}
		case src.ClusterTrustBundle != nil:
			b := src.ClusterTrustBundle
			if b.Name != nil {
				b.Name = ptr(HostName(t.opts.VCluster, "", *b.Name, DNSSubdomain))
			}
			b.LabelSelector = LabelSelector(t.opts.VCluster, "", b.LabelSelector)
		}
	}
}

func (t *podTranslator) downwardAPIFiles(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil {
			f.FieldPath = fieldPath(f.FieldPath)
		}
	}
}

// env translates a container's env and envFrom references (envFrom in
// place) and returns its env with the injected variables in front.
func (t *podTranslator) env(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) []corev1.EnvVar {
	for i := range envFrom {
		if r := envFrom[i].ConfigMapRef; r != nil {
			r.Name = t.object(r.Name)
		}
		if r := envFrom[i].SecretRef; r != nil {
			r.Name = t.object(r.Name)
		}
	}
	have := make(map[string]bool, len(env))
	for i := range env {
		have[env[i].Name] = true
		vf := env[i].ValueFrom
		if vf == nil {
			continue
		}
		if r := vf.ConfigMapKeyRef; r != nil {
			r.Name = t.object(r.Name)
		}
		if r := vf.SecretKeyRef; r != nil {
			r.Name = t.object(r.Name)
		}
		if r := vf.FieldRef; r != nil {
			r.FieldPath = fieldPath(r.FieldPath)
		}
	}
	var out []corev1.EnvVar
	for _, e := range t.inject {
		if !have[e.Name] {
			have[e.Name] = true
			out = append(out, e)
		}
	}
	return append(out, env...)
}

// dns points the pod at the virtual cluster's DNS.
func (t *podTranslator) dns(s *corev1.PodSpec) {
	if s.HostNetwork || s.DNSPolicy == corev1.DNSNone || s.DNSPolicy == corev1.DNSDefault {
		return
	}
	domain := t.opts.clusterDomain()
	cfg := &corev1.PodDNSConfig{
		Nameservers: []string{t.opts.DNSServer},
		Searches:    []string{t.id.Namespace + ".svc." + domain, "svc." + domain, domain},
		Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("5")}},
	}
	if own := s.DNSConfig; own != nil {
		// As the kubelet merges dnsConfig into cluster DNS: extra
		// nameservers and searches appended, options of the same name
		// replaced.
		cfg.Nameservers = appendUnique(cfg.Nameservers, own.Nameservers, maxDNSNameservers)
		cfg.Searches = appendUnique(cfg.Searches, own.Searches, maxDNSSearches)
		for _, o := range own.Options {
			if i := slices.IndexFunc(cfg.Options, func(have corev1.PodDNSConfigOption) bool { return have.Name == o.Name }); i >= 0 {
				cfg.Options[i] = *o.DeepCopy()
			} else {
				cfg.Options = append(cfg.Options, *o.DeepCopy())
			}
		}
	}
	s.DNSPolicy = corev1.DNSNone
	s.DNSConfig = cfg
}

// Limits of a pod's resolver configuration (API validation).
const (
	maxDNSNameservers = 3
	maxDNSSearches    = 32
)

func appendUnique(base, more []string, limit int) []string {
	for _, s := range more {
		if len(base) >= limit {
			break
		}
		if !slices.Contains(base, s) {
			base = append(base, s)
		}
	}
	return base
}

// kubernetesEnv returns the variables the kubelet would derive from the
// virtual cluster's "kubernetes" Service (port 443) for an API server
// reached at host:port.
func kubernetesEnv(host, port string) []corev1.EnvVar {
	url := "tcp://" + net.JoinHostPort(host, port)
	return []corev1.EnvVar{
		{Name: "KUBERNETES_SERVICE_HOST", Value: host},
		{Name: "KUBERNETES_SERVICE_PORT", Value: port},
		{Name: "KUBERNETES_SERVICE_PORT_HTTPS", Value: port},
		{Name: "KUBERNETES_PORT", Value: url},
		{Name: "KUBERNETES_PORT_443_TCP", Value: url},
		{Name: "KUBERNETES_PORT_443_TCP_PROTO", Value: "tcp"},
		{Name: "KUBERNETES_PORT_443_TCP_PORT", Value: port},
		{Name: "KUBERNETES_PORT_443_TCP_ADDR", Value: host},
	}
}

// fieldPath rewrites a downward API field path so that it reads the virtual
// value on the host pod.
func fieldPath(fp string) string {
	switch fp {
	case "metadata.name":
		return annotationPath(KeyName)
	case "metadata.namespace":
		return annotationPath(KeyNamespace)
	case "metadata.uid":
		return annotationPath(KeyUID)
	case "spec.serviceAccountName":
		return annotationPath(KeyServiceAccount)
	}
	for _, m := range []string{"metadata.labels", "metadata.annotations"} {
		if rest, ok := strings.CutPrefix(fp, m+"['"); ok {
			if key, ok := strings.CutSuffix(rest, "']"); ok {
				return m + "['" + EscapeKey(key) + "']"
			}
		}
	}
	return fp
}

func annotationPath(key string) string { return "metadata.annotations['" + key + "']" }

// podHostname derives the hostname the kubelet gives a pod without
// spec.hostname from its name: at most 63 characters, no trailing '-' or
// '.'. A host pod's hostname must be a DNS label, so '.' becomes '-'.
func podHostname(name string) string {
	if len(name) > validation.DNS1123LabelMaxLength {
		name = name[:validation.DNS1123LabelMaxLength]
	}
	name = strings.ReplaceAll(strings.TrimRight(name, "-."), ".", "-")
	if len(validation.IsDNS1123Label(name)) > 0 {
		return ""
	}
	return name
}

func sameToleration(a, b corev1.Toleration) bool {
	return a.Key == b.Key && a.Operator == b.Operator && a.Value == b.Value && a.Effect == b.Effect &&
		((a.TolerationSeconds == nil && b.TolerationSeconds == nil) ||
			(a.TolerationSeconds != nil && b.TolerationSeconds != nil && *a.TolerationSeconds == *b.TolerationSeconds))
}

func ptr[T any](v T) *T { return &v }
