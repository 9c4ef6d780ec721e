package syncer

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// pseudoNodeLabels are the host node labels that pseudo nodes keep: what a
// workload selects on (OS, architecture, instance type, zone, GPU product), none
// that names or locates the host's machines.
var pseudoNodeLabels = []string{
	corev1.LabelOSStable, corev1.LabelArchStable, corev1.LabelInstanceTypeStable,
	corev1.LabelTopologyRegion, corev1.LabelTopologyZone,
	"nvidia.com/gpu.present", "nvidia.com/gpu.product", "nvidia.com/gpu.count", "nvidia.com/gpu.memory", "nvidia.com/gpu.family",
}

// pseudoNodes reports whether the virtual cluster shows made-up nodes
// (spec.sync.fromHost.nodes.mode "pseudo").
func (s *Syncer) pseudoNodes() bool {
	return s.vc.Spec.Sync.FromHost.Nodes.Mode == v1alpha1.NodeSyncPseudo
}

// virtualNodeName is the name of the virtual node that stands for host node host.
func (s *Syncer) virtualNodeName(host string) string {
	if !s.pseudoNodes() {
		return translate.VirtualNodeName(host)
	}
	v := translate.PseudoNodeName(s.cfg.Name, host)
	s.pseudoToHost.Store(v, host)
	return v
}

// hostNodeName returns the host node that virtual node name stands for, or ""
// when none does.
func (s *Syncer) hostNodeName(ctx context.Context, name string) (string, error) {
	if !s.pseudoNodes() {
		return translate.HostNodeName(name), nil
	}
	if h, ok := s.pseudoToHost.Load(name); ok {
		return h.(string), nil
	}
	var nodes corev1.NodeList
	if err := s.host.GetCache().List(ctx, &nodes); err != nil {
		return "", err
	}
	for _, n := range nodes.Items {
		if s.virtualNodeName(n.Name) == name {
			return n.Name, nil
		}
	}
	return "", nil
}

// hideHostNodeNames replaces the host's node names in text (an event message)
// with the names the virtual cluster shows, in pseudo mode.
func (s *Syncer) hideHostNodeNames(ctx context.Context, text string) string {
	if !s.pseudoNodes() {
		return text
	}
	var nodes corev1.NodeList
	if err := s.host.GetCache().List(ctx, &nodes); err != nil {
		return text
	}
	for _, n := range nodes.Items {
		text = replaceName(text, n.Name, s.virtualNodeName(n.Name))
	}
	return text
}

// replaceName replaces old in text where it stands as a whole name: not part of a
// longer name ("node-1" in "node-10" or "mynode-1" stays), though a sentence's
// full stop may follow it.
func replaceName(text, old, repl string) string {
	if old == "" {
		return text
	}
	nameChar := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	var b strings.Builder
	for i := 0; ; {
		j := strings.Index(text[i:], old)
		if j < 0 {
			b.WriteString(text[i:])
			return b.String()
		}
		start, end := i+j, i+j+len(old)
		before := start == 0 || !(nameChar(text[start-1]) || text[start-1] == '.')
		after := end == len(text) || !nameChar(text[end]) && !(text[end] == '.' && end+1 < len(text) && nameChar(text[end+1]))
		b.WriteString(text[i:start])
		if before && after {
			b.WriteString(repl)
		} else {
			b.WriteString(old)
		}
		i = end
	}
}

// pseudoNode makes a mirror of a host node hide the host in pseudo mode: only the
// labels of pseudoNodeLabels, the made-up name as hostname, and no machine
// identities.
func (s *Syncer) pseudoNode(n *corev1.Node, host *corev1.Node) {
	if !s.pseudoNodes() {
		return
	}
	labels := map[string]string{virtualNodeLabel: "true", corev1.LabelHostname: n.Name}
	for _, k := range pseudoNodeLabels {
		if v, ok := host.Labels[k]; ok {
			labels[k] = v
		}
	}
	n.Labels = labels
	info := &n.Status.NodeInfo
	info.MachineID, info.SystemUUID, info.BootID = "", "", ""
	for i := range n.Status.Addresses {
		if n.Status.Addresses[i].Type == corev1.NodeHostName {
			n.Status.Addresses[i].Address = n.Name
		}
	}
}
