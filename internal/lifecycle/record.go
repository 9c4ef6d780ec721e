package lifecycle

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
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
	// control plane.
	AnnotationMachine = "kubicle.dev/machine"
	// AnnotationStateDir is the state directory of a process-driven control
	// plane on that machine.
	AnnotationStateDir = "kubicle.dev/state-dir"
)

// RecordName is the name of the ConfigMap that records virtual cluster r.
func RecordName(r deploy.Ref) string { return r.Name + "-virtualcluster" }

// record is a virtual cluster as recorded on the host.
type record struct {
	VC       *v1alpha1.VirtualCluster
	Created  metav1.Time
	Machine  string
	StateDir string
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

// getRecord returns the record of r, or nil when there is none.
func getRecord(ctx context.Context, c kubernetes.Interface, r deploy.Ref) (*record, error) {
	cm, err := c.CoreV1().ConfigMaps(r.Namespace).Get(ctx, RecordName(r), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the record of %s: %w", r, err)
	}
	return parseRecord(cm)
}

// listRecords returns the records in namespace (all namespaces when empty)
// of virtual clusters named name (any name when empty). Records that cannot
// be read are reported through bad.
func listRecords(ctx context.Context, c kubernetes.Interface, namespace, name string, bad func(error)) ([]*record, error) {
	list, err := c.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: recordSelector(name).String()})
	if err != nil {
		return nil, fmt.Errorf("listing virtual clusters: %w", err)
	}
	var out []*record
	for i := range list.Items {
		rec, err := parseRecord(&list.Items[i])
		if err != nil {
			if bad != nil {
				bad(err)
			}
			continue
		}
		out = append(out, rec)
	}
	return out, nil
}

// locate finds virtual cluster name: in namespace when given, else in the
// one namespace whose record names it, else in its default namespace.
func locate(ctx context.Context, c kubernetes.Interface, name, namespace string) (deploy.Ref, error) {
	if namespace != "" {
		return deploy.Ref{Name: name, Namespace: namespace}, nil
	}
	recs, err := listRecords(ctx, c, "", name, nil)
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

// machineName names this machine in records.
func machineName() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
