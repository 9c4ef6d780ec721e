package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// runPod waits for a pod-driven control plane's StatefulSet to be ready.
// The control plane writes the exported kubeconfig Secret itself.
func (c *creation) runPod(ctx context.Context) error {
	p, r := c.p, c.r
	endpoint := fmt.Sprintf("https://%s.%s.svc:%d", r.ServiceName(), r.Namespace, deploy.ServicePort)
	if c.o.NoWait {
		p.done("Applied; not waiting for StatefulSet %s/%s (--wait=false). Watch it with:\n    kubicle describe %s -n %s", r.Namespace, r.StatefulSetName(), r.Name, r.Namespace)
		return nil
	}
	start := time.Now()
	if err := waitStatefulSet(ctx, c.h.Client, r, c.o.Timeout, p); err != nil {
		return err
	}
	p.done("Control plane StatefulSet %s/%s ready (%s)", r.Namespace, r.StatefulSetName(), time.Since(start).Round(100*time.Millisecond))
	c.vc.Status = v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseRunning, Endpoint: endpoint, KubernetesVersion: c.vc.Spec.ControlPlane.Version}
	if err := c.writeRecord(ctx); err != nil {
		return err
	}
	e := &c.vc.Spec.ExportKubeConfig
	if e.Enabled == nil || !*e.Enabled {
		p.line("Virtual cluster %q is ready at %s (inside the host); spec.exportKubeConfig is off, so only the control plane holds its credentials.", r.Name, endpoint)
		return nil
	}
	exported, err := waitExportedKubeconfig(ctx, c.h, c.vc, c.o.Timeout)
	if err != nil {
		return err
	}
	p.done("The control plane wrote its kubeconfig to Secret %s/%s", r.Namespace, e.SecretName)
	ctxName := ContextName(r.Name, r.Namespace, c.h.Context)
	userCfg, err := podUserKubeconfig(ctx, c.h, c.vc, exported, ctxName)
	if err != nil {
		p.line("Virtual cluster %q is ready at %s (inside the host); %v", r.Name, endpoint, err)
		return nil
	}
	return c.publishContext(userCfg, ctxName)
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

// statefulSetReady reports whether the StatefulSet has all replicas ready,
// and otherwise what its pods are doing.
func statefulSetReady(ctx context.Context, c kubernetes.Interface, r deploy.Ref) (bool, string) {
	sts, err := c.AppsV1().StatefulSets(r.Namespace).Get(ctx, r.StatefulSetName(), metav1.GetOptions{})
	if err != nil {
		return false, err.Error()
	}
	if stsReady(sts) {
		return true, ""
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
