package v1alpha1

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxNameLength is the longest metadata.name a VirtualCluster may have.
//
// The control plane runs as a StatefulSet named after the virtual cluster, and
// the StatefulSet controller labels every pod with controller-revision-hash
// "<name>-<hash>", a label value of at most 63 characters whose hash takes up
// to 10 characters plus a dash: 63-11 = 52. The same budget leaves room for
// the derived host objects whose names must be DNS labels (at most 63):
// Services "<name>" and "<name>-headless" (at most 61), pods "<name>-<ordinal>"
// and the default host namespace DefaultNamespacePrefix+"<name>" (55).
const MaxNameLength = 52

// DefaultNamespacePrefix prefixes the virtual cluster's name to give the
// default host namespace.
const DefaultNamespacePrefix = "vc-"

// AutoNodeLabel is the label and taint key that isolation mode "auto" sets on
// the nodes provisioned for one virtual cluster; its value is the host
// namespace.
const AutoNodeLabel = "kubicle.dev/virtual-cluster"

// ReservedNames are the names a virtual cluster may not have, each with the
// reason.
var ReservedNames = map[string]string{
	"kubicle":    "it names kubicle's own host objects (operator, chart)",
	"host":       "it names the host cluster in the CLI and in kubeconfig contexts (kubicle-host)",
	"kubernetes": "it is the name of the API server Service in every cluster",
	"default":    "it is the name of Kubernetes' default namespace and service account",
}

// ReservedNamePrefix starts names that Kubernetes reserves for its own objects
// and namespaces (kube-system, kube-public, kube-node-lease).
const ReservedNamePrefix = "kube-"

// DefaultNamespace returns the host namespace of a virtual cluster named name
// whose metadata.namespace is not set.
func DefaultNamespace(name string) string {
	return DefaultNamespacePrefix + name
}

// reservedNameReason returns why name is reserved, or "" when it is not.
func reservedNameReason(name string) string {
	if reason, ok := ReservedNames[name]; ok {
		return reason
	}
	if strings.HasPrefix(name, ReservedNamePrefix) {
		return "names starting with \"" + ReservedNamePrefix + "\" are reserved for Kubernetes"
	}
	return ""
}

// usableName reports whether name is long and well-formed enough for Default
// to derive other names from it. Names derived from a bad name would only
// repeat the problem that Validate reports for the name itself.
func usableName(name string) bool {
	return name != "" && len(name) <= MaxNameLength && len(validation.IsDNS1035Label(name)) == 0
}
