package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Patterns of values whose Go types check them when they decode.
const (
	// QuantityPattern is the form of a resource.Quantity string, as Kubernetes
	// publishes it in its OpenAPI.
	QuantityPattern = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`
	// DurationPattern is the form of a non-negative Go duration string.
	DurationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// DNS1035LabelPattern is the form of a virtual cluster's name.
	DNS1035LabelPattern = `^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// DNS1123LabelPattern is the form of a namespace name.
	DNS1123LabelPattern = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
)

// props is a JSON schema (draft-07) with the Kubernetes extensions that a
// CustomResourceDefinition's structural schema uses. Field order is the output
// order of the JSON schema file.
type props struct {
	Schema               string            `json:"$schema,omitempty"`
	Title                string            `json:"title,omitempty"`
	Description          string            `json:"description,omitempty"`
	Type                 string            `json:"type,omitempty"`
	Format               string            `json:"format,omitempty"`
	Enum                 []string          `json:"enum,omitempty"`
	Default              json.RawMessage   `json:"default,omitempty"`
	Minimum              *float64          `json:"minimum,omitempty"`
	Maximum              *float64          `json:"maximum,omitempty"`
	MaxLength            *int64            `json:"maxLength,omitempty"`
	Pattern              string            `json:"pattern,omitempty"`
	AnyOf                []*props          `json:"anyOf,omitempty"`
	AllOf                []*props          `json:"allOf,omitempty"`
	Not                  *props            `json:"not,omitempty"`
	Required             []string          `json:"required,omitempty"`
	Properties           map[string]*props `json:"properties,omitempty"`
	AdditionalProperties any               `json:"additionalProperties,omitempty"`
	Items                *props            `json:"items,omitempty"`
	XIntOrString         bool              `json:"x-kubernetes-int-or-string,omitempty"`
	XPreserveUnknown     *bool             `json:"x-kubernetes-preserve-unknown-fields,omitempty"`
	XListType            string            `json:"x-kubernetes-list-type,omitempty"`
	XListMapKeys         []string          `json:"x-kubernetes-list-map-keys,omitempty"`
}

// builder turns a Node tree into props, for a CRD (crd) or for editors.
type builder struct {
	docs *Docs
	crd  bool
	errs []error
	// defaulted caches whether a node's subtree carries marker defaults.
	defaulted map[*Node]bool
}

var objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()

// kubicleMarkers are the "+kubicle:" markers the builder understands.
var kubicleMarkers = []string{"kubicle:default", "kubicle:minimum", "kubicle:maximum", "kubicle:pattern", "kubicle:required"}

// ownPackage reports whether t is declared in kubicle's API package.
func ownPackage(t reflect.Type) bool {
	return t.PkgPath() == reflect.TypeFor[v1alpha1.VirtualCluster]().PkgPath()
}

// root returns the props of the VirtualCluster type.
func (b *builder) root(n *Node) *props {
	p := b.node(n)
	p.Description = Description(b.docs.TypeDoc(n.Type))
	return p
}

// node returns the props of n in a context without a field doc comment.
func (b *builder) node(n *Node) *props {
	p := &props{}
	switch n.Kind {
	case Object:
		p.Type = "object"
		if n.Type.Kind() == reflect.Struct {
			p.Description = Description(b.docs.TypeDoc(n.Type))
		}
		p.Properties = map[string]*props{}
		for _, f := range n.Fields {
			fp, required := b.field(f)
			p.Properties[f.Name] = fp
			if required {
				p.Required = append(p.Required, f.Name)
			}
		}
		if !b.crd {
			p.AdditionalProperties = false
		}
	case Map:
		p.Type = "object"
		p.AdditionalProperties = b.node(n.Elem)
	case List:
		p.Type = "array"
		p.Items = b.node(n.Elem)
	case String:
		p.Type = "string"
		p.Enum = n.Enum
	case Bool:
		p.Type = "boolean"
	case Integer:
		p.Type = "integer"
		p.Format = "int" + strconv.Itoa(n.Bits)
	case Number:
		p.Type = "number"
	case Quantity:
		p.AnyOf = []*props{{Type: "integer"}, {Type: "string"}}
		p.Pattern = QuantityPattern
		p.XIntOrString = b.crd
	case Duration:
		p.Type = "string"
		p.Pattern = DurationPattern
	case Time:
		p.Type = "string"
		p.Format = "date-time"
	case IntOrString:
		p.AnyOf = []*props{{Type: "integer"}, {Type: "string"}}
		p.XIntOrString = b.crd
	case Any:
		if b.crd {
			t := true
			p.XPreserveUnknown = &t
		}
	}
	return p
}

// field returns the props of field f and whether it is required.
func (b *builder) field(f *Field) (*props, bool) {
	raw := b.docs.FieldDoc(f)
	if f.Node.Type == objectMetaType {
		return b.metadata(), !b.crd
	}
	p := b.node(f.Node)
	if desc := Description(raw); desc != "" {
		p.Description = desc
	}
	if f.Name == "apiVersion" || f.Name == "kind" {
		if !b.crd {
			switch f.Name {
			case "apiVersion":
				p.Enum = []string{v1alpha1.SchemeGroupVersion.String()}
			case "kind":
				p.Enum = []string{v1alpha1.VirtualClusterKind}
			}
		}
		return p, !b.crd
	}

	markers := Markers(raw)
	own := ownPackage(f.Owner)
	for name, value := range markers {
		if !strings.HasPrefix(name, "kubicle:") {
			continue
		}
		if !slices.Contains(kubicleMarkers, name) {
			b.errs = append(b.errs, fmt.Errorf("%s.%s: unknown marker +%s", f.Owner.Name(), f.GoName, name))
			continue
		}
		switch name {
		case "kubicle:default":
			if !json.Valid([]byte(value)) {
				b.errs = append(b.errs, fmt.Errorf("%s.%s: +kubicle:default=%s is not JSON", f.Owner.Name(), f.GoName, value))
				continue
			}
			p.Default = json.RawMessage(value)
		case "kubicle:minimum", "kubicle:maximum":
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				b.errs = append(b.errs, fmt.Errorf("%s.%s: +%s=%s is not a number", f.Owner.Name(), f.GoName, name, value))
				continue
			}
			if name == "kubicle:minimum" {
				p.Minimum = &v
			} else {
				p.Maximum = &v
			}
		case "kubicle:pattern":
			p.Pattern = value
		}
	}
	if b.crd {
		if lt, ok := markers["listType"]; ok {
			p.XListType = lt
		}
		if key, ok := markers["listMapKey"]; ok {
			p.XListMapKeys = []string{key}
			// The API server refuses a CRD whose list-map key may be left
			// out without a default. Kubernetes' own types mark such keys
			// required by leaving out omitempty (corev1.ResourceClaim.Name),
			// not always with +required.
			if it := p.Items; it != nil && it.Properties[key] != nil && it.Properties[key].Default == nil && !slices.Contains(it.Required, key) {
				it.Required = append(it.Required, key)
			}
		}
		// A struct value whose fields have defaults defaults to {} itself, so
		// that the API server applies the nested defaults when a parent is
		// left out.
		if p.Default == nil && f.Node.Kind == Object && f.Node.Type.Kind() == reflect.Struct &&
			!isPointer(f) && b.hasDefaults(f.Node) {
			p.Default = json.RawMessage("{}")
		}
	}
	_, kubicleRequired := markers["kubicle:required"]
	_, k8sRequired := markers["required"]
	return p, kubicleRequired || (!own && k8sRequired)
}

// isPointer reports whether field f holds a pointer.
func isPointer(f *Field) bool {
	sf, ok := f.Owner.FieldByName(f.GoName)
	return ok && sf.Type.Kind() == reflect.Pointer
}

// hasDefaults reports whether a field below n carries a default marker.
func (b *builder) hasDefaults(n *Node) bool {
	if v, ok := b.defaulted[n]; ok {
		return v
	}
	b.defaulted[n] = false
	found := false
	for _, f := range n.Fields {
		if _, ok := Markers(b.docs.FieldDoc(f))["kubicle:default"]; ok {
			found = true
		} else if f.Node.Kind == Object && !isPointer(f) && b.hasDefaults(f.Node) {
			found = true
		}
	}
	b.defaulted[n] = found
	return found
}

// metadata returns the props of a VirtualCluster's metadata. A CRD may only
// constrain metadata.name; the editor schema also describes the namespace,
// labels and annotations, and allows every other ObjectMeta field.
func (b *builder) metadata() *props {
	maxName := int64(v1alpha1.MaxNameLength)
	reserved := make([]string, 0, len(v1alpha1.ReservedNames))
	for name := range v1alpha1.ReservedNames {
		reserved = append(reserved, name)
	}
	slices.Sort(reserved)
	name := &props{
		Type: "string",
		Description: fmt.Sprintf("Name of the virtual cluster: a DNS-1035 label (lower case letters, digits "+
			"and '-', starting with a letter) of at most %d characters, so that the host objects named after it "+
			"fit in 63. Reserved: %s, and names starting with %q.",
			v1alpha1.MaxNameLength, strings.Join(reserved, ", "), v1alpha1.ReservedNamePrefix),
		MaxLength: &maxName,
		Pattern:   DNS1035LabelPattern,
		AllOf: []*props{
			{Not: &props{Enum: reserved}},
			{Not: &props{Pattern: "^" + v1alpha1.ReservedNamePrefix}},
		},
	}
	p := &props{Type: "object", Properties: map[string]*props{"name": name}}
	if b.crd {
		// A CRD's metadata schema may constrain name and nothing else, not
		// even carry a description.
		return p
	}
	p.Description = "Standard object metadata. metadata.name names the virtual cluster; metadata.namespace is the host namespace that holds it."
	maxNS := int64(63)
	p.Required = []string{"name"}
	p.Properties["namespace"] = &props{
		Type: "string",
		Description: fmt.Sprintf("Host namespace that holds the virtual cluster's control plane and synced objects. "+
			"Not default and not a kube- namespace. Default: %s<name>.", v1alpha1.DefaultNamespacePrefix),
		MaxLength: &maxNS,
		Pattern:   DNS1123LabelPattern,
		AllOf: []*props{
			{Not: &props{Enum: []string{metav1.NamespaceDefault}}},
			{Not: &props{Pattern: "^" + v1alpha1.ReservedNamePrefix}},
		},
	}
	stringMap := func(desc string) *props {
		return &props{Type: "object", Description: desc, AdditionalProperties: &props{Type: "string"}}
	}
	p.Properties["labels"] = stringMap("Labels of the VirtualCluster object.")
	p.Properties["annotations"] = stringMap("Annotations of the VirtualCluster object.")
	p.AdditionalProperties = true
	return p
}

// err returns the builder's collected errors.
func (b *builder) err() error {
	return errors.Join(b.errs...)
}
