package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// DefaultImage is the control plane image when neither
// spec.controlPlane.image nor [RenderOptions.Image] names one: the image
// `make image` builds locally (docs/images.md).
const DefaultImage = "kubicle.dev/kubicle:dev"

// Object is a typed host object: what a controller-runtime client's
// client.Object is, without depending on controller-runtime.
type Object interface {
	metav1.Object
	runtime.Object
}

// RenderOptions are the inputs of [Render] that are not in the
// VirtualCluster.
type RenderOptions struct {
	// Image is the control plane image of the kubicle release that deploys
	// the virtual cluster; spec.controlPlane.image overrides it.
	// Default: DefaultImage.
	Image string

	// PKI holds the trust roots all control plane replicas share, keyed by
	// file name as in a control plane's pki directory: ca.crt, ca.key,
	// front-proxy-ca.crt, front-proxy-ca.key, sa.key, sa.pub. They go into a
	// Secret whose files appear in PKIDir; each replica issues its own
	// serving and client certificates from them. Nil means the control plane
	// generates its PKI in its data directory on first start, which is only
	// sound when there is one replica and the data directory outlives the
	// pod (or the virtual cluster is meant to die with it).
	// Default: nil.
	PKI map[string][]byte

	// Sleeping renders the StatefulSet with zero replicas: the virtual
	// cluster is asleep (spec.sleep), its store and objects kept. Whoever
	// puts a virtual cluster to sleep renders with it, so that applying the
	// objects again does not wake the cluster by accident.
	// Default: false.
	Sleeping bool
}

// Render returns the host objects that virtual cluster vc needs, in the
// order to apply them: Namespace; ServiceAccount, Role, RoleBinding and,
// when spec.sync.fromHost needs one, the read-only ClusterRole and its
// binding; ResourceQuota, LimitRange and NetworkPolicies as
// spec.isolation asks; the config Secret and the PKI Secret; and for driver
// "pod" the headless Service, the API server's Service and the StatefulSet.
//
// Render is pure: no clients, no clock, no randomness, and vc is not
// modified. The same input always gives equal objects. vc is defaulted (a
// copy of it, with v1alpha1.Default, which is idempotent) and must then be
// valid; Render reports v1alpha1.Validate's problems as its error.
//
// The caller creates the Namespace only when it does not exist; see
// [PodSecurityLabels] for an existing one. The exported kubeconfig Secret is
// not among the objects; see [KubeConfigSecret].
//
// Every object carries [Ref.Labels], so [Ref.Selector] finds them all (and
// [DeletionOrder] with [Kind.Selector] finds the syncer's copies too).
//
// Render fails when replicas > 1 or the store lives outside the pod
// (database, externalEtcd) and opts.PKI is nil: each pod would otherwise
// make its own CA, and every kubeconfig and token would stop working at
// the next restart or on the next replica. It fails when a Secret that the
// config names (the kubeconfig export, the store's credentials) would be one
// that Render writes. And it fails when the namespace's own LimitRange or
// ResourceQuota would refuse the control plane's pods, which share the
// namespace (and the quota) with the tenant's: better an error naming the
// fields now than a StatefulSet whose pods never appear.
func Render(vc *v1alpha1.VirtualCluster, opts RenderOptions) ([]Object, error) {
	if vc == nil {
		return nil, errors.New("rendering host objects: no VirtualCluster")
	}
	vc = vc.DeepCopy()
	v1alpha1.Default(vc)
	r := RefOf(vc)
	if errs := v1alpha1.Validate(vc); len(errs) > 0 {
		return nil, fmt.Errorf("rendering host objects of %s: invalid VirtualCluster: %w", r, errs.ToAggregate())
	}
	if err := checkOptions(vc, r, opts); err != nil {
		return nil, fmt.Errorf("rendering host objects of %s: %w", r, err)
	}

	res := controlPlaneResources(vc)
	if runsInPods(vc) {
		if errs := checkControlPlaneAdmitted(vc, res); len(errs) > 0 {
			return nil, fmt.Errorf("rendering host objects of %s: the host namespace's guardrails would refuse the control plane: %w", r, errors.Join(errs...))
		}
	}

	config, err := ConfigFile(vc)
	if err != nil {
		return nil, err
	}
	image := cmp.Or(vc.Spec.ControlPlane.Image, opts.Image, DefaultImage)

	objs := []Object{namespace(vc, r), serviceAccount(r), role(vc, r), roleBinding(r)}
	if cr, crb := clusterRole(vc, r); cr != nil {
		objs = append(objs, cr, crb)
	}
	if q := resourceQuota(vc, r); q != nil {
		objs = append(objs, q)
	}
	if lr := limitRange(vc, r); lr != nil {
		objs = append(objs, lr)
	}
	for _, np := range networkPolicies(vc, r) {
		objs = append(objs, np)
	}
	objs = append(objs, configSecret(r, config))
	if s := pkiSecret(r, opts.PKI); s != nil {
		objs = append(objs, s)
	}
	if runsInPods(vc) {
		headless, api := services(vc, r)
		objs = append(objs, headless, api, dnsService(r),
			statefulSet(vc, r, image, res, configHash(config, opts.PKI), sortedKeys(opts.PKI), opts.Sleeping))
	}
	return objs, nil
}

// runsInPods reports whether the control plane of vc runs in pods on the
// host (driver "pod"). It is the one render-time choice that the driver
// makes: such a control plane needs its Services and StatefulSet, read
// access to them in its Role, a NetworkPolicy that admits its clients,
// pods that the namespace's guardrails admit, and a shared PKI when it has
// several replicas or an outside store. A process-driven control plane runs
// outside the host and needs none of these.
func runsInPods(vc *v1alpha1.VirtualCluster) bool {
	return vc.Spec.ControlPlane.Driver == v1alpha1.DriverPod
}

// checkOptions reports options that do not fit vc, and Secret names that
// would collide.
func checkOptions(vc *v1alpha1.VirtualCluster, r Ref, opts RenderOptions) error {
	var errs []error
	if strings.ContainsFunc(opts.Image, func(c rune) bool { return c == ' ' || c == '\t' || c == '\n' }) {
		errs = append(errs, fmt.Errorf("image %q: must not contain whitespace", opts.Image))
	}
	cp := &vc.Spec.ControlPlane
	if opts.PKI == nil && runsInPods(vc) {
		switch {
		case cp.Replicas != nil && *cp.Replicas > 1:
			errs = append(errs, fmt.Errorf("spec.controlPlane.replicas is %d: replicas must share one PKI, so it must be given (RenderOptions.PKI)", *cp.Replicas))
		case cp.BackingStore.Type == v1alpha1.BackingStoreDatabase || cp.BackingStore.Type == v1alpha1.BackingStoreExternalEtcd:
			errs = append(errs, fmt.Errorf("spec.controlPlane.backingStore.type is %q: the objects outlive the pod's data directory, so the PKI must too (RenderOptions.PKI)", cp.BackingStore.Type))
		}
	}
	if opts.PKI != nil && len(opts.PKI) == 0 {
		errs = append(errs, errors.New("PKI: no files; leave it nil for the control plane to generate its own"))
	}
	for _, k := range sortedKeys(opts.PKI) {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, fmt.Errorf("PKI file name %q: %s", k, msg))
		}
	}

	// Secrets Render writes, and Secrets the config names that something
	// else writes: no two may share a name.
	type owner struct{ name, what string }
	owners := []owner{{r.ConfigSecretName(), "the config Secret"}}
	if opts.PKI != nil {
		owners = append(owners, owner{r.PKISecretName(), "the PKI Secret"})
	}
	if e := &vc.Spec.ExportKubeConfig; isTrue(e.Enabled) {
		owners = append(owners, owner{e.SecretName, "spec.exportKubeConfig.secretName"})
	}
	bs := &cp.BackingStore
	if bs.Database != nil && bs.Database.DSNSecretRef != nil {
		owners = append(owners, owner{bs.Database.DSNSecretRef.Name, "spec.controlPlane.backingStore.database.dsnSecretRef"})
	}
	if bs.ExternalEtcd != nil && bs.ExternalEtcd.TLSSecretRef != nil {
		owners = append(owners, owner{bs.ExternalEtcd.TLSSecretRef.Name, "spec.controlPlane.backingStore.externalEtcd.tlsSecretRef"})
	}
	for i, a := range owners {
		for _, b := range owners[:i] {
			if a.name == b.name {
				errs = append(errs, fmt.Errorf("%s and %s both name Secret %q", b.what, a.what, a.name))
			}
		}
	}
	return errors.Join(errs...)
}

// sortedKeys returns the keys of m in order, for output that does not depend
// on map iteration.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
