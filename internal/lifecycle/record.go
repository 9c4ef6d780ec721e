package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// ComponentRecord is the deploy.LabelComponent value of the ConfigMap that
// records a virtual cluster on the host.
const ComponentRecord = "record"

// Keys and annotations of the record ConfigMap.
const (
	// RecordKey holds the VirtualCluster, status included, as YAML.
	RecordKey = "virtualcluster.yaml"
	// AnnotationMachine names the machine that runs a process-driven
	// control plane, on the record ConfigMap or on the VirtualCluster object
	// of an operator-managed virtual cluster.
	AnnotationMachine = "kubicle.dev/machine"
	// AnnotationStateDir is the state directory of a process-driven control
	// plane on that machine.
	AnnotationStateDir = "kubicle.dev/state-dir"
)

// VirtualClusterResource is the resource of VirtualCluster objects, which
// record the virtual clusters that `kubicle operator` manages.
var VirtualClusterResource = v1alpha1.SchemeGroupVersion.WithResource(v1alpha1.VirtualClusterResource)

// RecordName is the name of the ConfigMap that records virtual cluster r.
func RecordName(r deploy.Ref) string { return r.Name + "-virtualcluster" }

// record is a virtual cluster as recorded on the host: by its record
// ConfigMap (made by `kubicle create`), or by its VirtualCluster object
// (managed by `kubicle operator`).
type record struct {
	VC       *v1alpha1.VirtualCluster
	Created  metav1.Time
	Machine  string
	StateDir string
	// Operator is true for a virtual cluster recorded by a VirtualCluster
	// object, which kubicle operator manages and the CLI must not change.
	Operator bool
}

// Values of [Info.ManagedBy].
const (
	// ManagedByCLI marks a virtual cluster created by `kubicle create`.
	ManagedByCLI = "kubicle"
	// ManagedByOperator marks a virtual cluster that `kubicle operator`
	// manages from a VirtualCluster object.
	ManagedByOperator = "operator"
)

// managedBy names who manages the recorded virtual cluster.
func (r *record) managedBy() string {
	if r.Operator {
		return ManagedByOperator
	}
	return ManagedByCLI
}

// recordObject returns the record ConfigMap of vc, whose status says what
// kubicle last saw.
func recordObject(vc *v1alpha1.VirtualCluster, machine, stateDir string) (*corev1.ConfigMap, error) {
	r := deploy.RefOf(vc)
	doc := &v1alpha1.VirtualCluster{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.VirtualClusterKind},
		ObjectMeta: metav1.ObjectMeta{Name: vc.Name, Namespace: vc.Namespace},
		Spec:       vc.Spec,
		Status:     vc.Status,
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the record of %s: %w", r, err)
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      RecordName(r),
			Namespace: r.Namespace,
			Labels:    r.Labels(ComponentRecord),
		},
		Data: map[string]string{RecordKey: string(data)},
	}
	if machine != "" {
		cm.Annotations = map[string]string{AnnotationMachine: machine, AnnotationStateDir: stateDir}
	}
	return cm, nil
}

// recordSelector selects the records of every virtual cluster, or of those
// named name when name is not empty.
func recordSelector(name string) labels.Selector {
	set := labels.Set{translate.LabelManagedBy: translate.ManagedBy, deploy.LabelComponent: ComponentRecord}
	if name != "" {
		set[translate.KeyVCluster] = translate.LabelValue(name)
	}
	return labels.SelectorFromSet(set)
}

// parseRecord reads a record ConfigMap.
func parseRecord(cm *corev1.ConfigMap) (*record, error) {
	vc := &v1alpha1.VirtualCluster{}
	if err := yaml.Unmarshal([]byte(cm.Data[RecordKey]), vc); err != nil {
		return nil, fmt.Errorf("reading record %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	if vc.Name == "" || vc.Namespace != cm.Namespace {
		return nil, fmt.Errorf("reading record %s/%s: it names %q in namespace %q", cm.Namespace, cm.Name, vc.Name, vc.Namespace)
	}
	return &record{
		VC:       vc,
		Created:  cm.CreationTimestamp,
		Machine:  cm.Annotations[AnnotationMachine],
		StateDir: cm.Annotations[AnnotationStateDir],
	}, nil
}

// getRecord returns the record of r, or nil when there is none: its record
// ConfigMap, else its VirtualCluster object.
func getRecord(ctx context.Context, h *Host, r deploy.Ref) (*record, error) {
	rec, err := getRecordConfigMap(ctx, h, r)
	if rec != nil || err != nil {
		return rec, err
	}
	return getVirtualClusterObject(ctx, h.Dynamic, r)
}

// getRecordConfigMap returns the record ConfigMap of r, or nil.
func getRecordConfigMap(ctx context.Context, h *Host, r deploy.Ref) (*record, error) {
	cm, err := h.Client.CoreV1().ConfigMaps(r.Namespace).Get(ctx, RecordName(r), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the record of %s: %w", r, err)
	}
	return parseRecord(cm)
}

// getVirtualClusterObject returns the VirtualCluster object of r as a
// record, or nil when there is none or the host does not serve the kind
// (the CRD is not installed).
func getVirtualClusterObject(ctx context.Context, dyn dynamic.Interface, r deploy.Ref) (*record, error) {
	u, err := dyn.Resource(VirtualClusterResource).Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || isNotServed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading VirtualCluster %s: %w", r, err)
	}
	return objectRecord(u)
}

// objectRecord reads a VirtualCluster object as the record of an
// operator-managed virtual cluster, defaulted as the operator defaults it.
func objectRecord(u *unstructured.Unstructured) (*record, error) {
	vc := &v1alpha1.VirtualCluster{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, vc); err != nil {
		return nil, fmt.Errorf("reading VirtualCluster %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	v1alpha1.Default(vc)
	return &record{
		VC:       vc,
		Created:  vc.CreationTimestamp,
		Machine:  vc.Annotations[AnnotationMachine],
		StateDir: vc.Annotations[AnnotationStateDir],
		Operator: true,
	}, nil
}

// listRecords returns the records in namespace (all namespaces when empty)
// of virtual clusters named name (any name when empty): the record
// ConfigMaps, and the VirtualCluster objects of the operator where no
// ConfigMap records the same virtual cluster. Records that cannot be read,
// and VirtualCluster objects that cannot be listed, are reported through
// bad; a host without the CRD has no VirtualCluster objects.
func listRecords(ctx context.Context, h *Host, namespace, name string, bad func(error)) ([]*record, error) {
	if bad == nil {
		bad = func(error) {}
	}
	list, err := h.Client.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: recordSelector(name).String()})
	if err != nil {
		return nil, fmt.Errorf("listing virtual clusters: %w", err)
	}
	var out []*record
	seen := map[deploy.Ref]bool{}
	for i := range list.Items {
		rec, err := parseRecord(&list.Items[i])
		if err != nil {
			bad(err)
			continue
		}
		out = append(out, rec)
		seen[deploy.RefOf(rec.VC)] = true
	}

	opts := metav1.ListOptions{}
	if name != "" {
		opts.FieldSelector = "metadata.name=" + name
	}
	objs, err := h.Dynamic.Resource(VirtualClusterResource).Namespace(namespace).List(ctx, opts)
	switch {
	case apierrors.IsNotFound(err) || isNotServed(err):
		return out, nil
	case err != nil:
		bad(fmt.Errorf("listing VirtualCluster objects: %w", err))
		return out, nil
	}
	for i := range objs.Items {
		rec, err := objectRecord(&objs.Items[i])
		if err != nil {
			bad(err)
			continue
		}
		if !seen[deploy.RefOf(rec.VC)] {
			out = append(out, rec)
		}
	}
	return out, nil
}

// locate finds virtual cluster name: in namespace when given, else in the
// one namespace whose record names it, else in its default namespace.
func locate(ctx context.Context, h *Host, name, namespace string) (deploy.Ref, error) {
	if namespace != "" {
		return deploy.Ref{Name: name, Namespace: namespace}, nil
	}
	recs, err := listRecords(ctx, h, "", name, nil)
	if err != nil {
		return deploy.Ref{}, err
	}
	switch len(recs) {
	case 0:
		return deploy.Ref{Name: name, Namespace: v1alpha1.DefaultNamespace(name)}, nil
	case 1:
		return deploy.RefOf(recs[0].VC), nil
	}
	var nss []string
	for _, r := range recs {
		nss = append(nss, r.VC.Namespace)
	}
	return deploy.Ref{}, fmt.Errorf("there are virtual clusters named %q in host namespaces %v; pass -n", name, nss)
}

// managedByOperatorError is the error of a CLI command that would change
// (verb "change") or delete (verb "delete") a virtual cluster that the
// operator manages: its VirtualCluster object is the one place to do that.
func managedByOperatorError(r deploy.Ref, verb string) error {
	how := fmt.Sprintf("kubectl -n %s apply -f FILE", r.Namespace)
	if verb == "delete" {
		how = fmt.Sprintf("kubectl -n %s delete virtualcluster %s", r.Namespace, r.Name)
	}
	return fmt.Errorf("virtual cluster %s is managed by kubicle operator through its VirtualCluster object; %s it through that object (%s), not with kubicle",
		r, verb, how)
}

// RecordedByCLI reports whether `kubicle create` recorded virtual cluster r:
// its record ConfigMap exists. The operator leaves such a virtual cluster
// alone.
func RecordedByCLI(ctx context.Context, h *Host, r deploy.Ref) (bool, error) {
	rec, err := getRecordConfigMap(ctx, h, r)
	return rec != nil, err
}

// LocationAnnotations returns the annotations that say where the
// process-driven control plane with local state p runs: this machine
// ([AnnotationMachine]) and p's directory ([AnnotationStateDir]). The
// operator puts them on the VirtualCluster object, so that `kubicle
// connect` and `describe` on the same machine find the process.
func LocationAnnotations(p Paths) map[string]string {
	return map[string]string{AnnotationMachine: machineName(), AnnotationStateDir: p.Dir()}
}

// LocalStateDir returns the state directory that annotations (see
// [LocationAnnotations]) record, when it is on this machine; else "".
func LocalStateDir(annotations map[string]string) string {
	dir := annotations[AnnotationStateDir]
	if annotations[AnnotationMachine] != machineName() || !filepath.IsAbs(dir) {
		return ""
	}
	return dir
}

// MachineName names this machine in records and in the annotations of
// [LocationAnnotations]: its host name.
func MachineName() string { return machineName() }

// machineName names this machine in records.
func machineName() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
