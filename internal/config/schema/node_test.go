package schema

import (
	"reflect"
	"slices"
	"testing"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func TestWalk(t *testing.T) {
	t.Parallel()
	root := VirtualCluster()
	tests := []struct {
		path []string
		kind Kind
		enum []string
		bits int
	}{
		{path: []string{"apiVersion"}, kind: String},
		{path: []string{"kind"}, kind: String},
		{path: []string{"metadata"}, kind: Object},
		{path: []string{"metadata", "creationTimestamp"}, kind: Time},
		{path: []string{"spec", "controlPlane", "driver"}, kind: String, enum: []string{"pod", "process"}},
		{path: []string{"spec", "controlPlane", "replicas"}, kind: Integer, bits: 32},
		{path: []string{"spec", "controlPlane", "resources", "limits"}, kind: Map},
		{path: []string{"spec", "controlPlane", "backingStore", "persistence", "size"}, kind: Quantity},
		{path: []string{"spec", "controlPlane", "expose", "extraSANs"}, kind: List},
		{path: []string{"spec", "sync", "toHost", "pods", "enabled"}, kind: Bool},
		{path: []string{"spec", "sync", "fromHost", "nodes", "selector", "matchLabels"}, kind: Map},
		{path: []string{"spec", "isolation", "tolerations"}, kind: List},
		{path: []string{"spec", "sleep", "afterInactivity"}, kind: Duration},
		{path: []string{"status", "observedGeneration"}, kind: Integer, bits: 64},
		{path: []string{"status", "conditions"}, kind: List},
	}
	for _, tt := range tests {
		n := root
		for _, name := range tt.path {
			f := n.Field(name)
			if f == nil {
				t.Fatalf("%v: no field %q among %q", tt.path, name, n.FieldNames())
			}
			n = f.Node
		}
		if n.Kind != tt.kind || !slices.Equal(n.Enum, tt.enum) || n.Bits != tt.bits {
			t.Errorf("%v: kind %v enum %q bits %d, want %v %q %d", tt.path, n.Kind, n.Enum, n.Bits, tt.kind, tt.enum, tt.bits)
		}
	}
	if q := root.Field("spec").Node.Field("isolation").Node.Field("resourceQuota").Node; q.Elem.Kind != Quantity {
		t.Errorf("resourceQuota values are %v, want quantities", q.Elem.Kind)
	}
	if For(reflect.TypeFor[*v1alpha1.VirtualCluster]()) != root {
		t.Error("a pointer type walks to a different node than its element type")
	}
}
