package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// podDriver runs a control plane as the StatefulSet that deploy renders in
// the host namespace, from the kubicle image. Applying the host objects
// starts it; the host runs and restarts it. It writes the exported
// kubeconfig Secret itself, and is reached through its Service.
type podDriver struct {
	env driverEnv
	r   deploy.Ref
	// vc is the defaulted VirtualCluster; nil for a driver found by its
	// traces ([runningDriver]).
	vc *v1alpha1.VirtualCluster
}

func (d *podDriver) name() v1alpha1.ControlPlaneDriver { return v1alpha1.DriverPod }

func (d *podDriver) defaultReason() string { return "" }

// found reports whether the virtual cluster's StatefulSet exists.
func (d *podDriver) found(ctx context.Context) (bool, error) {
	r := d.r
	sts, err := d.env.h.Client.AppsV1().StatefulSets(r.Namespace).Get(ctx, r.StatefulSetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading StatefulSet %s/%s: %w", r.Namespace, r.StatefulSetName(), err)
	}
	return belongsTo(sts.Labels, r, true), nil
}

// adopt has nothing to check: the control plane's state is on the host.
func (d *podDriver) adopt(*record) error { return nil }

// prepare gives Render the PKI that the replicas share, when they need one.
func (d *podDriver) prepare(ctx context.Context, o *deploy.RenderOptions) error {
	var err error
	o.PKI, err = podPKI(ctx, d.env.h, d.vc)
	return err
}

func (d *podDriver) location() map[string]string { return nil }

// start has nothing to do: applying the StatefulSet started the control
// plane.
func (d *podDriver) start(context.Context) (bool, error) { return false, nil }

// endpoint is the URL of the control plane's Service inside the host.
func (d *podDriver) endpoint() string {
	return fmt.Sprintf("https://%s.%s.svc:%d", d.r.ServiceName(), d.r.Namespace, deploy.ServicePort)
}

// wait waits for every replica of the StatefulSet to be ready. Its version
// is the one the spec names: this machine may not reach the API server.
func (d *podDriver) wait(ctx context.Context, timeout time.Duration, noWait bool) (*serving, error) {
	p, r := d.env.p, d.r
	if noWait {
		p.done("Applied; not waiting for StatefulSet %s/%s (--wait=false). Watch it with:\n    kubicle describe %s -n %s", r.Namespace, r.StatefulSetName(), r.Name, r.Namespace)
		return nil, nil
	}
	start := time.Now()
	if err := waitStatefulSet(ctx, d.env.h.Client, r, timeout, p); err != nil {
		return nil, err
	}
	p.done("Control plane StatefulSet %s/%s ready (%s)", r.Namespace, r.StatefulSetName(), time.Since(start).Round(100*time.Millisecond))
	return &serving{endpoint: d.endpoint(), version: d.vc.Spec.ControlPlane.Version}, nil
}

// export does nothing: the control plane writes its kubeconfig Secret
// itself.
func (d *podDriver) export(context.Context, string) error { return nil }

// readyKubeconfig waits for the kubeconfig Secret that the control plane
// writes once it is usable, and turns it into one for this machine. With
// the export off, or the Service out of this machine's reach, there is
// none.
func (d *podDriver) readyKubeconfig(ctx context.Context, name string, timeout time.Duration) (*clientcmdapi.Config, error) {
	p, r := d.env.p, d.r
	e := &d.vc.Spec.ExportKubeConfig
	if e.Enabled == nil || !*e.Enabled {
		p.line("Virtual cluster %q is ready at %s (inside the host); spec.exportKubeConfig is off, so only the control plane holds its credentials.", r.Name, d.endpoint())
		return nil, nil
	}
	exported, err := waitExportedKubeconfig(ctx, d.env.h, d.vc, timeout)
	if err != nil {
		return nil, err
	}
	p.done("The control plane wrote its kubeconfig to Secret %s/%s", r.Namespace, e.SecretName)
	cfg, err := podUserKubeconfig(ctx, d.env.h, d.vc, exported, name, reachWait)
	if err != nil {
		p.line("Virtual cluster %q is ready at %s (inside the host); %v", r.Name, d.endpoint(), err)
		return nil, nil
	}
	return cfg, nil
}

// connect reads the kubeconfig Secret the control plane wrote and turns it
// into one for this machine: through the Service's ClusterIP when this machine
// reaches it, else (or with expose type PortForward, or when asked) through a
// local port forwarded to the control plane's pod by the host API server, as
// vCluster's connect does.
func (d *podDriver) connect(ctx context.Context, name string, portForward bool) (*clientcmdapi.Config, *forward, error) {
	exported, err := exportedKubeconfig(ctx, d.env.h, d.vc)
	if err != nil {
		return nil, nil, err
	}
	if !portForward && d.vc.Spec.ControlPlane.Expose.Type != v1alpha1.ExposePortForward {
		cfg, err := podUserKubeconfig(ctx, d.env.h, d.vc, exported, name, 0)
		if !errors.Is(err, errUnreachable) {
			return cfg, nil, err
		}
		d.env.p.line("The API server's Service is not reachable from this machine; forwarding a local port to it through the host API server")
	}
	f, err := startForward(ctx, d.env.h, d.r.Namespace, d.r.StatefulSetName()+"-0", 0, d.env.p.w)
	if err != nil {
		return nil, nil, fmt.Errorf("virtual cluster %s: %w", d.r, err)
	}
	cfg, err := forwardedKubeconfig(exported, name, f)
	if err != nil {
		f.close()
		return nil, nil, fmt.Errorf("virtual cluster %s: %w", d.r, err)
	}
	return cfg, f, nil
}

// check looks at the StatefulSet, whose changes the operator watches.
func (d *podDriver) check(ctx context.Context) Readiness {
	ready, why := statefulSetReady(ctx, d.env.h.Client, d.r)
	return Readiness{Ready: ready, Reason: why, Endpoint: d.endpoint(), KubernetesVersion: d.vc.Spec.ControlPlane.Version, Watched: true}
}

func (d *podDriver) status(ctx context.Context) (status, reason string, pid int) {
	status, reason = podStatus(ctx, d.env.h, d.r)
	return status, reason, 0
}

// localKubeconfig is "": the control plane runs on the host.
func (d *podDriver) localKubeconfig() string { return "" }

func (d *podDriver) describe(field func(key, format string, args ...any), _ Info) {
	r := d.r
	field("Driver", "pod (StatefulSet %s/%s, %d replicas)", r.Namespace, r.StatefulSetName(), ptrOr(d.vc.Spec.ControlPlane.Replicas, 1))
}

// stop scales the StatefulSet to zero replicas; the store (its volumes, or
// a database) and every host object stay. Applying the host objects again
// starts it, unless they are rendered with deploy.RenderOptions.Sleeping.
func (d *podDriver) stop(ctx context.Context) error {
	r := d.r
	patch := []byte(`{"spec":{"replicas":0}}`)
	_, err := d.env.h.Client.AppsV1().StatefulSets(r.Namespace).Patch(ctx, r.StatefulSetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("scaling StatefulSet %s/%s to zero: %w", r.Namespace, r.StatefulSetName(), err)
	}
	d.env.p.done("Scaled StatefulSet %s/%s to zero replicas", r.Namespace, r.StatefulSetName())
	return nil
}

// delete has nothing to do: the StatefulSet is a host object, deleted with
// the others.
func (d *podDriver) delete(context.Context) error { return nil }

// podStatus observes a pod-driven control plane through its StatefulSet.
func podStatus(ctx context.Context, h *Host, r deploy.Ref) (status, reason string) {
	sts, err := h.Client.AppsV1().StatefulSets(r.Namespace).Get(ctx, r.StatefulSetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return StatusFailed, "StatefulSet " + r.Namespace + "/" + r.StatefulSetName() + " is missing"
	}
	if err != nil {
		return StatusUnknown, err.Error()
	}
	if sts.Spec.Replicas != nil && *sts.Spec.Replicas == 0 {
		return StatusSleeping, "scaled to zero"
	}
	if stsReady(sts) {
		return StatusRunning, ""
	}
	_, why := statefulSetReady(ctx, h.Client, r)
	return StatusStarting, why
}

// waitStatefulSet waits until every replica of the control plane's
// StatefulSet is ready, saying why not every few seconds.
func waitStatefulSet(ctx context.Context, c kubernetes.Interface, r deploy.Ref, timeout time.Duration, p *progress) error {
	w := p.waiter("the control plane's StatefulSet")
	deadline := time.Now().Add(timeout)
	for {
		ready, why := statefulSetReady(ctx, c, r)
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the control plane's StatefulSet %s/%s was not ready after %s: %s", r.Namespace, r.StatefulSetName(), timeout, why)
		}
		w.still(why)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// statefulSetReady reports whether the StatefulSet has all replicas ready and
// the control plane's Service routes to one of them, and otherwise what its
// pods are doing. Until the Service's EndpointSlices list a ready pod, clients
// of the Service (tenant pods, the exported kubeconfig) have their connections
// refused, so a control plane is not ready before that.
func statefulSetReady(ctx context.Context, c kubernetes.Interface, r deploy.Ref) (bool, string) {
	sts, err := c.AppsV1().StatefulSets(r.Namespace).Get(ctx, r.StatefulSetName(), metav1.GetOptions{})
	if err != nil {
		return false, err.Error()
	}
	if stsReady(sts) {
		return serviceRoutes(ctx, c, r)
	}
	want := int32(1)
	if sts.Spec.Replicas != nil {
		want = *sts.Spec.Replicas
	}
	why := fmt.Sprintf("%d/%d replicas ready", sts.Status.ReadyReplicas, want)
	pods, err := c.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(sts.Spec.Selector)})
	if err == nil {
		for _, pod := range pods.Items {
			why += "; pod " + pod.Name + ": " + podState(&pod)
		}
	}
	return false, why
}

func stsReady(sts *appsv1.StatefulSet) bool {
	want := int32(1)
	if sts.Spec.Replicas != nil {
		want = *sts.Spec.Replicas
	}
	return sts.Status.ObservedGeneration >= sts.Generation && sts.Status.ReadyReplicas >= want && sts.Status.UpdatedReplicas >= want
}

// podState summarises why a pod is not ready.
func podState(pod *corev1.Pod) string {
	var parts []string
	parts = append(parts, string(pod.Status.Phase))
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue && cond.Message != "" {
			parts = append(parts, cond.Message)
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			parts = append(parts, w.Reason)
		}
	}
	return strings.Join(parts, ", ")
}

// serviceRoutes reports whether an EndpointSlice of the control plane's Service
// lists a ready endpoint, and otherwise why not.
func serviceRoutes(ctx context.Context, c kubernetes.Interface, r deploy.Ref) (bool, string) {
	slices, err := c.DiscoveryV1().EndpointSlices(r.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + r.ServiceName()})
	if err != nil {
		return false, fmt.Sprintf("reading the endpoints of Service %s/%s: %v", r.Namespace, r.ServiceName(), err)
	}
	for _, slice := range slices.Items {
		for _, ep := range slice.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				return true, ""
			}
		}
	}
	return false, fmt.Sprintf("the pods are ready; Service %s/%s has no ready endpoint yet", r.Namespace, r.ServiceName())
}
