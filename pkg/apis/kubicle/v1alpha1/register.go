package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of kubicle's types.
const GroupName = "kubicle.dev"

// SchemeGroupVersion is the group and version of the types in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Kind names of the types in this package.
const (
	// VirtualClusterKind is the kind of a VirtualCluster.
	VirtualClusterKind = "VirtualCluster"
	// VirtualClusterListKind is the kind of a VirtualClusterList.
	VirtualClusterListKind = "VirtualClusterList"
	// VirtualClusterResource is the plural resource name of VirtualCluster.
	VirtualClusterResource = "virtualclusters"
)

var (
	// SchemeBuilder registers the types of this package and their defaulting
	// functions with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes, addDefaultingFuncs)
	// AddToScheme adds the types of this package and their defaulting
	// functions to a scheme, as a controller-runtime client's scheme needs.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Kind returns a group-qualified kind of this package's group.
func Kind(kind string) schema.GroupKind {
	return SchemeGroupVersion.WithKind(kind).GroupKind()
}

// Resource returns a group-qualified resource of this package's group.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &VirtualCluster{}, &VirtualClusterList{})
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

// addDefaultingFuncs lets scheme.Default apply Default, as the operator does
// for objects read from the host.
func addDefaultingFuncs(scheme *runtime.Scheme) error {
	scheme.AddTypeDefaultingFunc(&VirtualCluster{}, func(obj any) {
		Default(obj.(*VirtualCluster))
	})
	scheme.AddTypeDefaultingFunc(&VirtualClusterList{}, func(obj any) {
		list := obj.(*VirtualClusterList)
		for i := range list.Items {
			Default(&list.Items[i])
		}
	})
	return nil
}
