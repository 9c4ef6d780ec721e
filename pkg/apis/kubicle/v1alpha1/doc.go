// Package v1alpha1 is version v1alpha1 of the kubicle.dev API: the
// VirtualCluster type, its defaults (Default) and its validation (Validate).
//
// One VirtualCluster document serves two uses: it is the file given to
// `kubicle create -f`, and the object applied to a host cluster that runs
// `kubicle operator`. Its metadata.name names the virtual cluster and its
// metadata.namespace is the host namespace that holds the virtual cluster's
// control plane and the objects synced from it.
//
// Every field's doc comment states its default. Lines starting with
// "+kubicle:" are markers read by the generator in internal/config/schema
// (`go run ./hack/gen-config`), which turns these types into the JSON schema
// for editors, the CustomResourceDefinition and docs/config.md.
//
// +groupName=kubicle.dev
package v1alpha1

//go:generate go run kubicle.dev/kubicle/hack/gen-config
