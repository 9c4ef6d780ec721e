package translate

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Service returns the host Service for a virtual Service. Its name is
// [HostName] in DNSLabel form (Service names are RFC 1035 labels). The spec
// is the virtual one (type, ports, session affinity, traffic policies,
// load balancer settings, IP families) with:
//
//   - the selector confined to the tenant's pods of that namespace
//     ([ServiceSelector]); a Service without selector stays without;
//   - clusterIP and clusterIPs cleared for the host to allocate, except a
//     headless Service's "None" (the virtual Service's IP is made to
//     follow the host's, not the other way round);
//   - ports' nodePort and healthCheckNodePort cleared: the host allocates
//     node ports from its own range, shared by all tenants;
//   - externalIPs dropped: on a shared host they would let a tenant
//     intercept traffic to any address (CVE-2020-8554).
func Service(virtual *corev1.Service, t Target) (*corev1.Service, error) {
	if virtual == nil {
		return nil, errors.New("translating service: nil service")
	}
	if err := t.check("service", virtual); err != nil {
		return nil, err
	}
	host := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: t.hostMeta(virtual, DNSLabel),
	}
	s := virtual.Spec.DeepCopy()
	s.Selector = ServiceSelector(t.VCluster, virtual.Namespace, s.Selector)
	if s.ClusterIP == corev1.ClusterIPNone {
		s.ClusterIPs = []string{corev1.ClusterIPNone}
	} else {
		s.ClusterIP = ""
		s.ClusterIPs = nil
	}
	for i := range s.Ports {
		s.Ports[i].NodePort = 0
	}
	s.HealthCheckNodePort = 0
	s.ExternalIPs = nil
	host.Spec = *s
	return host, nil
}

// ConfigMap returns the host ConfigMap for a virtual ConfigMap: [HostName]
// in DNSSubdomain form, the markers, and the same data, binary data and
// immutability.
func ConfigMap(virtual *corev1.ConfigMap, t Target) (*corev1.ConfigMap, error) {
	if virtual == nil {
		return nil, errors.New("translating configmap: nil configmap")
	}
	if err := t.check("configmap", virtual); err != nil {
		return nil, err
	}
	v := virtual.DeepCopy()
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: t.hostMeta(virtual, DNSSubdomain),
		Data:       v.Data,
		BinaryData: v.BinaryData,
		Immutable:  v.Immutable,
	}, nil
}

// Secret returns the host Secret for a virtual Secret: [HostName] in
// DNSSubdomain form, the markers, and the same data and immutability. A
// kubernetes.io/service-account-token Secret becomes Opaque on the host:
// its token was issued by the virtual API server, and the host's token
// controller would otherwise delete it for naming no host service account.
// Other types are kept. StringData is folded into Data, as the API server
// would do.
func Secret(virtual *corev1.Secret, t Target) (*corev1.Secret, error) {
	if virtual == nil {
		return nil, errors.New("translating secret: nil secret")
	}
	if err := t.check("secret", virtual); err != nil {
		return nil, err
	}
	v := virtual.DeepCopy()
	host := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: t.hostMeta(virtual, DNSSubdomain),
		Data:       v.Data,
		Immutable:  v.Immutable,
		Type:       v.Type,
	}
	for k, s := range v.StringData {
		if host.Data == nil {
			host.Data = map[string][]byte{}
		}
		host.Data[k] = []byte(s)
	}
	if host.Type == corev1.SecretTypeServiceAccountToken {
		host.Type = corev1.SecretTypeOpaque
	}
	return host, nil
}

// PersistentVolumeClaimOptions are the inputs of [PersistentVolumeClaim].
type PersistentVolumeClaimOptions struct {
	// Target names the virtual cluster and its host namespace. Required.
	Target
	// StorageClassName maps a non-empty virtual storage class name (from
	// spec.storageClassName or the legacy
	// volume.beta.kubernetes.io/storage-class annotation) to the host's.
	// Default (nil): the same name, since storage classes are synced from
	// the host under their own names.
	StorageClassName func(virtual string) string
}

// legacyStorageClassAnnotation is the pre-1.6 way of naming a claim's
// storage class, still honoured by the PV controller.
const legacyStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

// PersistentVolumeClaim returns the host claim for a virtual claim:
// [HostName] in DNSSubdomain form and the markers. The spec keeps access
// modes, resources, volume mode and volume attributes class, with:
//
//   - storageClassName mapped by the options; unset stays unset (the
//     host's default class) and "" stays "" (no dynamic provisioning);
//   - volumeName and selector dropped: on a shared host they would let a
//     tenant bind a volume that is not its own, by name or by label. The
//     host binds the claim; the syncer copies the host's spec.volumeName
//     back to the virtual claim, and virtual volumes mirror host volumes
//     under the same names;
//   - dataSource and dataSourceRef names (a claim to clone, a snapshot, a
//     populator's object) translated as objects of the claim's namespace.
//     A dataSourceRef into another namespace is refused: the host, where
//     every virtual namespace shares one namespace, could not enforce the
//     virtual cluster's ReferenceGrants;
//   - annotations the virtual PV controller writes (pv.kubernetes.io/*,
//     volume[.beta].kubernetes.io/storage-provisioner) dropped, so the
//     host's controller makes its own decisions. The scheduler's
//     volume.kubernetes.io/selected-node is kept.
func PersistentVolumeClaim(virtual *corev1.PersistentVolumeClaim, opts PersistentVolumeClaimOptions) (*corev1.PersistentVolumeClaim, error) {
	if virtual == nil {
		return nil, errors.New("translating persistentvolumeclaim: nil claim")
	}
	if err := opts.Target.check("persistentvolumeclaim", virtual); err != nil {
		return nil, err
	}
	storageClass := func(name string) string {
		if name == "" || opts.StorageClassName == nil {
			return name
		}
		return opts.StorageClassName(name)
	}
	host := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: opts.Target.hostMeta(virtual, DNSSubdomain),
	}
	for k := range host.Annotations {
		if strings.HasPrefix(k, "pv.kubernetes.io/") ||
			k == "volume.beta.kubernetes.io/storage-provisioner" || k == "volume.kubernetes.io/storage-provisioner" {
			delete(host.Annotations, k)
		}
	}
	if sc, ok := host.Annotations[legacyStorageClassAnnotation]; ok {
		host.Annotations[legacyStorageClassAnnotation] = storageClass(sc)
	}

	s := virtual.Spec.DeepCopy()
	s.VolumeName = ""
	s.Selector = nil
	if s.StorageClassName != nil {
		s.StorageClassName = ptr(storageClass(*s.StorageClassName))
	}
	name := func(namespace, n string) string {
		return HostName(opts.VCluster, namespace, n, DNSSubdomain)
	}
	if ds := s.DataSource; ds != nil {
		ds.Name = name(virtual.Namespace, ds.Name)
	}
	if ds := s.DataSourceRef; ds != nil {
		if ds.Namespace != nil && *ds.Namespace != "" && *ds.Namespace != virtual.Namespace {
			return nil, fmt.Errorf("translating persistentvolumeclaim %s/%s: %w", virtual.Namespace, virtual.Name,
				field.Forbidden(field.NewPath("spec", "dataSourceRef", "namespace"),
					"cross-namespace data sources are not supported: the host cannot check the virtual cluster's ReferenceGrants"))
		}
		ds.Name = name(virtual.Namespace, ds.Name)
		ds.Namespace = nil
	}
	host.Spec = *s
	return host, nil
}
