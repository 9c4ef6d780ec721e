package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// TestScheme checks what a controller-runtime client needs of the scheme:
// the kinds are registered, objects decode to the typed structs, and
// scheme.Default applies Default.
func TestScheme(t *testing.T) {
	t.Parallel()
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{VirtualClusterKind, VirtualClusterListKind} {
		if !scheme.Recognizes(SchemeGroupVersion.WithKind(kind)) {
			t.Errorf("scheme does not recognize %s", kind)
		}
	}
	gvks, _, err := scheme.ObjectKinds(&VirtualCluster{})
	if err != nil || len(gvks) != 1 || gvks[0] != SchemeGroupVersion.WithKind(VirtualClusterKind) {
		t.Errorf("ObjectKinds(VirtualCluster) = %v, %v", gvks, err)
	}

	doc := []byte("apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata:\n  name: demo\n  namespace: team-a\nspec:\n  controlPlane:\n    driver: process\n")
	obj, gvk, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode(doc, nil, nil)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	vc, ok := obj.(*VirtualCluster)
	if !ok || gvk.Kind != VirtualClusterKind {
		t.Fatalf("decoded %T (%v), want *VirtualCluster", obj, gvk)
	}
	if vc.Spec.ControlPlane.Driver != DriverProcess || vc.Namespace != "team-a" {
		t.Errorf("decoded %+v", vc)
	}

	scheme.Default(vc)
	if vc.Spec.ControlPlane.Expose.Type != ExposePortForward || vc.Spec.ExportKubeConfig.Context != "kubicle-demo.team-a" {
		t.Errorf("scheme.Default did not apply Default: expose %q, context %q",
			vc.Spec.ControlPlane.Expose.Type, vc.Spec.ExportKubeConfig.Context)
	}
	list := &VirtualClusterList{Items: []VirtualCluster{{}}}
	list.Items[0].Name = "a"
	scheme.Default(list)
	if list.Items[0].Namespace != "vc-a" {
		t.Errorf("scheme.Default did not default list items: namespace %q", list.Items[0].Namespace)
	}

	if got := Resource(VirtualClusterResource).String(); got != "virtualclusters.kubicle.dev" {
		t.Errorf("Resource = %q", got)
	}
	if got := Kind(VirtualClusterKind).String(); got != "VirtualCluster.kubicle.dev" {
		t.Errorf("Kind = %q", got)
	}
}
