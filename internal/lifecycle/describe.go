package lifecycle

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// describeTimeout bounds each request to the virtual API server in
// Describe, which must not hang on a stopped control plane.
const describeTimeout = 5 * time.Second

// DescribeOptions are the inputs of [Describe].
type DescribeOptions struct {
	// Name is the virtual cluster's name.
	Name string
	// Namespace is its host namespace. Default: the one namespace whose record
	// names it, else vc-NAME.
	Namespace string
	// Out receives the description.
	Out io.Writer
}

// Describe writes what a user wants to know about one virtual cluster: its
// state and endpoints, a summary of its config, its host objects and their
// health, and how many objects the virtual cluster holds.
func Describe(ctx context.Context, h *Host, o DescribeOptions) error {
	r, err := locate(ctx, h, o.Name, o.Namespace)
	if err != nil {
		return err
	}
	rec, err := getRecord(ctx, h, r)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("virtual cluster %q not found in host namespace %q (context %q); `kubicle list` shows the virtual clusters of this host", r.Name, r.Namespace, h.Context)
	}
	d := driverFor(recordedEnv(h, rec, newProgress(nil)), rec.VC)
	in := info(ctx, h, rec, d)
	vc := rec.VC
	now := time.Now()

	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	field := func(k, format string, args ...any) { fmt.Fprintf(w, "%s:\t"+format+"\n", append([]any{k}, args...)...) }
	field("Name", "%s", vc.Name)
	field("Host namespace", "%s", vc.Namespace)
	field("Host", "%s (context %q)", h.Server, h.Context)
	status := in.Status
	if in.Reason != "" {
		status += " (" + in.Reason + ")"
	}
	field("Status", "%s", status)
	field("Created", "%s (%s ago)", in.Created.Format(time.RFC3339), duration.HumanDuration(now.Sub(in.Created)))
	field("Kubernetes version", "%s", orDash(in.KubernetesVersion))
	field("Endpoint", "%s", orDash(in.Endpoint))
	field("Context", "%s", in.Context)
	if rec.Operator {
		field("Managed by", "kubicle operator (VirtualCluster %s/%s, generation %d, observed %d)", vc.Namespace, vc.Name, vc.Generation, vc.Status.ObservedGeneration)
	} else {
		field("Managed by", "kubicle (record ConfigMap %s/%s)", vc.Namespace, RecordName(r))
	}
	d.describe(field, in)
	writeConfigSummary(w, vc)
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(o.Out, "\nHost objects:")
	owned, err := listOwned(ctx, h.Dynamic, r)
	if err != nil {
		fmt.Fprintf(o.Out, "  cannot list: %v\n", err)
	} else {
		writeHostObjects(o.Out, owned)
	}

	fmt.Fprintln(o.Out, "\nVirtual cluster objects:")
	kubeconfigPath := d.localKubeconfig()
	if in.Status != StatusRunning || kubeconfigPath == "" {
		fmt.Fprintf(o.Out, "  not available (%s)\n", strings.ToLower(in.Status))
		return nil
	}
	counts, err := virtualCounts(ctx, kubeconfigPath)
	if err != nil {
		fmt.Fprintf(o.Out, "  cannot count: %v\n", err)
		return nil
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	for _, c := range counts {
		fmt.Fprintf(tw, "  %s:\t%d\n", c.what, c.n)
	}
	return tw.Flush()
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// writeConfigSummary writes the parts of the config that decide how the
// virtual cluster behaves.
func writeConfigSummary(w io.Writer, vc *v1alpha1.VirtualCluster) {
	s := &vc.Spec
	store := string(s.ControlPlane.BackingStore.Type)
	if db := s.ControlPlane.BackingStore.Database; db != nil && db.DSNSecretRef != nil {
		store += fmt.Sprintf(" (%s, DSN in Secret %s key %s)", db.Driver, db.DSNSecretRef.Name, db.DSNSecretRef.Key)
	}
	fmt.Fprintf(w, "Backing store:\t%s\n", store)
	fmt.Fprintf(w, "Scheduler:\t%s\n", onOff(s.ControlPlane.Scheduler.Enabled))
	fmt.Fprintf(w, "Expose:\t%s\n", s.ControlPlane.Expose.Type)
	iso := &s.Isolation
	guard := []string{"Pod Security " + string(iso.PodSecurityStandard)}
	if len(iso.ResourceQuota) > 0 {
		guard = append(guard, "resource quota")
	}
	if len(iso.LimitRange.Default)+len(iso.LimitRange.Max)+len(iso.LimitRange.Min)+len(iso.LimitRange.DefaultRequest) > 0 {
		guard = append(guard, "limit range")
	}
	if iso.NetworkPolicy.Enabled != nil && *iso.NetworkPolicy.Enabled {
		guard = append(guard, "network policy")
	}
	fmt.Fprintf(w, "Isolation:\t%s (%s)\n", iso.Mode, strings.Join(guard, ", "))
	fmt.Fprintf(w, "Sync to host:\t%s\n", strings.Join(enabledSyncs(s), ", "))
	sleep := "never"
	if s.Sleep.AfterInactivity != nil {
		sleep = "after " + s.Sleep.AfterInactivity.Duration.String() + " without requests"
	}
	if s.Sleep.Schedule != nil {
		sleep += ", on a schedule"
	}
	fmt.Fprintf(w, "Sleep:\t%s\n", sleep)
	export := "off"
	if e := &s.ExportKubeConfig; e.Enabled != nil && *e.Enabled {
		export = fmt.Sprintf("Secret %s (context %q)", e.SecretName, e.Context)
	}
	fmt.Fprintf(w, "Exported kubeconfig:\t%s\n", export)
}

func onOff(b *bool) string {
	if b != nil && *b {
		return "on"
	}
	return "off"
}

// enabledSyncs names the kinds spec.sync.toHost copies to the host.
func enabledSyncs(s *v1alpha1.VirtualClusterSpec) []string {
	t := &s.Sync.ToHost
	kinds := []struct {
		name string
		on   *bool
	}{
		{"pods", t.Pods.Enabled}, {"services", t.Services.Enabled}, {"endpoints", t.Endpoints.Enabled},
		{"configMaps", t.ConfigMaps.Enabled}, {"secrets", t.Secrets.Enabled},
		{"persistentVolumeClaims", t.PersistentVolumeClaims.Enabled}, {"ingresses", t.Ingresses.Enabled},
		{"serviceAccounts", t.ServiceAccounts.Enabled}, {"networkPolicies", t.NetworkPolicies.Enabled},
		{"resourceClaims", t.ResourceClaims.Enabled}, {"workloads", t.Workloads.Enabled},
	}
	var on []string
	for _, k := range kinds {
		if k.on != nil && *k.on {
			on = append(on, k.name)
		}
	}
	if len(on) == 0 {
		return []string{"nothing"}
	}
	return on
}

// writeHostObjects lists the host objects with their health: first those
// kubicle rendered, then a count per kind of the syncer's copies.
func writeHostObjects(out io.Writer, owned []hostObject) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KIND\tNAME\tHEALTH")
	synced := map[string]int{}
	var syncedKinds []string
	for _, o := range owned {
		if _, rendered := o.Obj.GetLabels()[deploy.LabelHostNamespace]; !rendered {
			if synced[o.Kind.Kind] == 0 {
				syncedKinds = append(syncedKinds, o.Kind.Kind)
			}
			synced[o.Kind.Kind]++
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Kind.Kind, o.Obj.GetName(), health(o))
	}
	_ = tw.Flush()
	if len(syncedKinds) > 0 {
		slices.Sort(syncedKinds)
		parts := make([]string, len(syncedKinds))
		for i, k := range syncedKinds {
			parts[i] = fmt.Sprintf("%d %s", synced[k], k)
		}
		fmt.Fprintf(out, "  Synced from the virtual cluster: %s\n", strings.Join(parts, ", "))
	}
}

// health summarises the state of one host object.
func health(o hostObject) string {
	u := o.Obj
	if u.GetDeletionTimestamp() != nil {
		return "deleting"
	}
	str := func(fields ...string) string { s, _, _ := unstructured.NestedString(u.Object, fields...); return s }
	num := func(fields ...string) int64 { n, _, _ := unstructured.NestedInt64(u.Object, fields...); return n }
	switch o.Kind.Kind {
	case "Namespace":
		return str("status", "phase")
	case "StatefulSet":
		want, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !ok {
			want = 1
		}
		return fmt.Sprintf("%d/%d ready", num("status", "readyReplicas"), want)
	case "Pod":
		return str("status", "phase")
	case "Service":
		return fmt.Sprintf("%s %s", str("spec", "type"), str("spec", "clusterIP"))
	case "PersistentVolumeClaim":
		return str("status", "phase")
	}
	return "ok"
}

type count struct {
	what string
	n    int
}

// virtualCounts counts the objects of the virtual cluster whose admin
// kubeconfig is given.
func virtualCounts(ctx context.Context, kubeconfigPath string) ([]count, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = describeTimeout
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists := []struct {
		what string
		n    func() (int, error)
	}{
		{"Namespaces", func() (int, error) {
			l, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
		{"Nodes", func() (int, error) {
			l, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
		{"Pods", func() (int, error) {
			l, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
		{"Deployments", func() (int, error) {
			l, err := c.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
		{"Services", func() (int, error) {
			l, err := c.CoreV1().Services("").List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
		{"ConfigMaps", func() (int, error) {
			l, err := c.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
		{"Secrets", func() (int, error) {
			l, err := c.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
		{"PersistentVolumeClaims", func() (int, error) {
			l, err := c.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
			return lenOr(l, err)
		}},
	}
	out := make([]count, 0, len(lists))
	for _, l := range lists {
		n, err := l.n()
		if err != nil {
			return nil, fmt.Errorf("counting %s: %w", l.what, cause(err))
		}
		out = append(out, count{l.what, n})
	}
	return out, nil
}

// lenOr returns the number of items of a list, or err.
func lenOr(l runtime.Object, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return meta.LenList(l), nil
}
