package hostsim

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// SimulatedLabel marks the nodes this package creates and may delete.
	SimulatedLabel = "node.kubicle.dev/simulated"
	// GPUResource is the extended resource GPU nodes advertise.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
	// kwokAnnotation makes kwok manage a node (see --manage-nodes-with-annotation-selector).
	kwokAnnotation = "kwok.x-k8s.io/node"
)

// NodeSpec describes one simulated node.
type NodeSpec struct {
	// Name is the node's name.
	Name string
	// CPU, Memory and Pods are its capacity (and allocatable).
	CPU, Memory resource.Quantity
	// Pods is how many pods it takes.
	Pods resource.Quantity
	// GPUs is its nvidia.com/gpu capacity; 0 for an ordinary node.
	GPUs int
	// GPUProduct is the GPU model label value of a GPU node.
	GPUProduct string
}

// NodeSpecs returns the nodes that o asks for: worker-0…N-1 and gpu-0…M-1.
func (o *Options) NodeSpecs() ([]NodeSpec, error) {
	cpu, err := resource.ParseQuantity(o.NodeCPU)
	if err != nil {
		return nil, fmt.Errorf("--node-cpu %q: %w", o.NodeCPU, err)
	}
	mem, err := resource.ParseQuantity(o.NodeMemory)
	if err != nil {
		return nil, fmt.Errorf("--node-memory %q: %w", o.NodeMemory, err)
	}
	pods := *resource.NewQuantity(int64(o.NodePods), resource.DecimalSI)
	var out []NodeSpec
	for i := 0; i < o.Nodes; i++ {
		out = append(out, NodeSpec{Name: fmt.Sprintf("kubicle-worker-%d", i), CPU: cpu, Memory: mem, Pods: pods})
	}
	for i := 0; i < o.GPUNodes; i++ {
		out = append(out, NodeSpec{Name: fmt.Sprintf("kubicle-gpu-%d", i), CPU: cpu, Memory: mem, Pods: pods, GPUs: o.GPUsPerNode, GPUProduct: o.GPUProduct})
	}
	return out, nil
}

// Node returns the Node object for s, as kwok expects it: annotated for kwok, with
// capacity in status. GPU nodes carry the labels GPU feature discovery would set and
// the nvidia.com/gpu:NoSchedule taint that GPU pools carry on managed clouds, so only
// pods that tolerate it land there.
func (s NodeSpec) Node() *corev1.Node {
	res := corev1.ResourceList{corev1.ResourceCPU: s.CPU, corev1.ResourceMemory: s.Memory, corev1.ResourcePods: s.Pods}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        s.Name,
			Annotations: map[string]string{kwokAnnotation: "fake"},
			Labels: map[string]string{
				SimulatedLabel:           "true",
				"kubernetes.io/hostname": s.Name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy()},
	}
	if s.GPUs > 0 {
		q := *resource.NewQuantity(int64(s.GPUs), resource.DecimalSI)
		n.Status.Capacity[GPUResource] = q
		n.Status.Allocatable[GPUResource] = q
		n.Labels["nvidia.com/gpu.present"] = "true"
		n.Labels["nvidia.com/gpu.count"] = strconv.Itoa(s.GPUs)
		n.Labels["nvidia.com/gpu.product"] = s.GPUProduct
		n.Spec.Taints = []corev1.Taint{{Key: string(GPUResource), Value: "present", Effect: corev1.TaintEffectNoSchedule}}
	}
	return n
}

// EnsureNodes creates the nodes in specs that are missing, updates the capacity of
// those that exist, and deletes simulated nodes no longer asked for. Nodes without
// SimulatedLabel are never touched.
func EnsureNodes(ctx context.Context, client kubernetes.Interface, specs []NodeSpec) error {
	want := map[string]bool{}
	for _, s := range specs {
		want[s.Name] = true
		desired := s.Node()
		existing, err := client.CoreV1().Nodes().Get(ctx, s.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := client.CoreV1().Nodes().Create(ctx, desired, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating node %s: %w", s.Name, err)
			}
			continue
		case err != nil:
			return fmt.Errorf("reading node %s: %w", s.Name, err)
		}
		if existing.Labels[SimulatedLabel] != "true" {
			return fmt.Errorf("node %s exists and was not created by kubicle; refusing to change it", s.Name)
		}
		changed := existing.DeepCopy()
		for k, v := range desired.Labels {
			changed.Labels[k] = v
		}
		changed.Spec.Taints = desired.Spec.Taints
		if _, err := client.CoreV1().Nodes().Update(ctx, changed, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating node %s: %w", s.Name, err)
		}
		changed, err = client.CoreV1().Nodes().Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading node %s: %w", s.Name, err)
		}
		changed.Status.Capacity = desired.Status.Capacity
		changed.Status.Allocatable = desired.Status.Allocatable
		if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, changed, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating node %s status: %w", s.Name, err)
		}
	}
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: SimulatedLabel + "=true"})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	for _, n := range list.Items {
		if !want[n.Name] {
			if err := client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting node %s: %w", n.Name, err)
			}
		}
	}
	return nil
}

// NodesReady reports how many of the named nodes have condition Ready=True.
func NodesReady(ctx context.Context, client kubernetes.Interface, names []string) (int, error) {
	ready := 0
	for _, name := range names {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ready, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, nil
}
