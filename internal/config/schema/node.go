// Package schema describes the shape of kubicle's config types, found by
// reflection, and renders it: the JSON schema for editors, the
// CustomResourceDefinition and the field reference in docs/config.md. The
// strict decoder in internal/config checks documents against the same shape,
// so the file format, the CRD and the docs cannot drift apart.
//
// Regenerate the committed files with `go run ./hack/gen-config`; a test in
// this package fails while they are out of date.
package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Kind is the JSON shape of a value.
type Kind int

// The shapes of values.
const (
	// Object is a struct: a JSON object with a fixed set of fields.
	Object Kind = iota + 1
	// Map is a JSON object with arbitrary string keys and values of one shape.
	Map
	// List is a JSON array.
	List
	// String is a JSON string.
	String
	// Bool is a JSON boolean.
	Bool
	// Integer is a JSON number without a fraction.
	Integer
	// Number is any JSON number.
	Number
	// Quantity is a resource.Quantity: an integer or a string such as "500m".
	Quantity
	// Duration is a metav1.Duration: a string such as "1h30m".
	Duration
	// Time is a metav1.Time: an RFC 3339 string.
	Time
	// IntOrString is an intstr.IntOrString: an integer or a string.
	IntOrString
	// Any is a value of any shape, for types that decode themselves.
	Any
)

// String returns the name of the shape used in error messages.
func (k Kind) String() string {
	switch k {
	case Object, Map:
		return "object"
	case List:
		return "list"
	case String:
		return "string"
	case Bool:
		return "bool"
	case Integer:
		return "integer"
	case Number:
		return "number"
	case Quantity:
		return "quantity"
	case Duration:
		return "duration"
	case Time:
		return "time"
	case IntOrString:
		return "integer or string"
	case Any:
		return "any value"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Node is the shape of one Go type as JSON sees it. Nodes of the same Go type
// are shared, so the tree is a directed acyclic graph.
type Node struct {
	// Kind is the JSON shape.
	Kind Kind
	// Type is the Go type, with pointers removed.
	Type reflect.Type
	// Fields are an Object's fields in declaration order, inlined fields
	// (such as TypeMeta's) in place.
	Fields []*Field
	// Elem is the shape of a Map's values or a List's items.
	Elem *Node
	// Enum are the allowed values of a String whose type lists them.
	Enum []string
	// Bits is the size of an Integer: 32 or 64.
	Bits int
}

// Field is one field of an Object.
type Field struct {
	// Name is the JSON name.
	Name string
	// GoName is the Go field name.
	GoName string
	// Owner is the struct type that declares the field.
	Owner reflect.Type
	// Node is the shape of the field's value.
	Node *Node
}

// Field returns the field named name (its JSON name), or nil.
func (n *Node) Field(name string) *Field {
	for _, f := range n.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// FieldNames returns the JSON names of an Object's fields.
func (n *Node) FieldNames() []string {
	names := make([]string, len(n.Fields))
	for i, f := range n.Fields {
		names[i] = f.Name
	}
	return names
}

// Enum is implemented by string types that accept a fixed set of values, as
// the enum types of kubicle's API do.
type Enum interface {
	AllowedValues() []string
}

var (
	quantityType    = reflect.TypeFor[resource.Quantity]()
	durationType    = reflect.TypeFor[metav1.Duration]()
	timeType        = reflect.TypeFor[metav1.Time]()
	microTimeType   = reflect.TypeFor[metav1.MicroTime]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	enumType        = reflect.TypeFor[Enum]()
)

var (
	cacheMu sync.Mutex
	cache   = map[reflect.Type]*Node{}
)

// For returns the shape of Go type t. Shapes are cached; callers must not
// change them.
func For(t reflect.Type) *Node {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	return walk(t)
}

func walk(t reflect.Type) *Node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n, ok := cache[t]; ok {
		return n
	}
	n := &Node{Type: t}
	// Stored before the fields are walked, so a recursive type ends.
	cache[t] = n

	switch t {
	case quantityType:
		n.Kind = Quantity
		return n
	case durationType:
		n.Kind = Duration
		return n
	case timeType, microTimeType:
		n.Kind = Time
		return n
	case intOrStringType:
		n.Kind = IntOrString
		return n
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		n.Kind = Any
		return n
	}

	switch t.Kind() {
	case reflect.Struct:
		n.Kind = Object
		n.Fields = structFields(t)
	case reflect.Map:
		n.Kind = Map
		n.Elem = walk(t.Elem())
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			// encoding/json writes []byte as a base64 string.
			n.Kind = String
			break
		}
		n.Kind = List
		n.Elem = walk(t.Elem())
	case reflect.String:
		n.Kind = String
		if t.Implements(enumType) {
			n.Enum = reflect.Zero(t).Interface().(Enum).AllowedValues()
		}
	case reflect.Bool:
		n.Kind = Bool
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		n.Kind, n.Bits = Integer, 64
	case reflect.Int32, reflect.Int16, reflect.Int8, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		n.Kind, n.Bits = Integer, 32
	case reflect.Float32, reflect.Float64:
		n.Kind = Number
	default:
		n.Kind = Any
	}
	return n
}

// structFields returns the JSON fields of struct type t, following
// encoding/json's rules for names, "-" and embedded structs.
func structFields(t reflect.Type) []*Field {
	var fields []*Field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				inner := walk(ft)
				fields = append(fields, inner.Fields...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fields = append(fields, &Field{Name: name, GoName: sf.Name, Owner: t, Node: walk(sf.Type)})
	}
	return fields
}
