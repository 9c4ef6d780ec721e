// Package config loads VirtualCluster documents, the files given to
// `kubicle create -f`: strict decoding that names the field path of every
// unknown field and wrongly typed value, the apiVersion and kind check,
// defaults (v1alpha1.Default) and validation (v1alpha1.Validate). Every
// problem in a document comes back at once, in one *Error.
//
// The shape the decoder checks against is the one internal/config/schema
// finds in the Go types, the same that gives the JSON schema and the CRD.
package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/internal/config/schema"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// Problem is one thing wrong with a config document.
type Problem struct {
	// Field is the path of the field, such as "spec.controlPlane.replicas";
	// empty for a problem of the document as a whole, such as bad YAML.
	Field string
	// Detail says what is wrong.
	Detail string
}

// String returns "field: detail", or the detail alone for the whole document.
func (p Problem) String() string {
	if p.Field == "" {
		return p.Detail
	}
	return p.Field + ": " + p.Detail
}

// Error lists every problem found in a config document.
type Error struct {
	// Problems are sorted by field path.
	Problems []Problem
}

// Error returns a summary line followed by one line per problem.
func (e *Error) Error() string {
	var b strings.Builder
	s := "s"
	if len(e.Problems) == 1 {
		s = ""
	}
	fmt.Fprintf(&b, "invalid VirtualCluster config (%d problem%s):", len(e.Problems), s)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// LoadFile reads and loads the config file at path; see Load.
func LoadFile(path string) (*v1alpha1.VirtualCluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading config: %w", err)
	}
	vc, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("loading config %s: %w", path, err)
	}
	return vc, nil
}

// Load decodes one VirtualCluster document (YAML or JSON) strictly, checks
// its apiVersion and kind, applies the defaults and validates the result. It
// returns a defaulted, valid VirtualCluster, or an *Error that lists every
// problem with its field path.
func Load(data []byte) (*v1alpha1.VirtualCluster, error) {
	doc, problem := singleDocument(data)
	if problem != "" {
		return nil, &Error{Problems: []Problem{{Detail: problem}}}
	}
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, &Error{Problems: yamlProblems(err)}
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, &Error{Problems: []Problem{{Detail: "decoding: " + err.Error()}}}
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return nil, &Error{Problems: []Problem{{Detail: "expected a VirtualCluster object, got " + describe(tree)}}}
	}

	// A document of another kind would bury this one line under a list of
	// unknown fields, so it stops here.
	typeProblems, otherKind := checkTypeMeta(obj)
	if otherKind {
		return nil, &Error{Problems: typeProblems}
	}

	c := &checker{}
	clean, _ := c.check(schema.VirtualCluster(), obj, nil)
	problems := append(typeProblems, c.problems...)

	cleanJSON, err := json.Marshal(clean)
	if err != nil {
		return nil, fmt.Errorf("re-encoding config: %w", err)
	}
	vc := &v1alpha1.VirtualCluster{}
	if err := json.Unmarshal(cleanJSON, vc); err != nil {
		// The checker let through a value that the Go types refuse: a bug
		// in the checker, but still the user's document at fault.
		problems = append(problems, Problem{Detail: "decoding: " + err.Error()})
		return nil, newError(problems)
	}

	v1alpha1.Default(vc)
	for _, fe := range v1alpha1.Validate(vc) {
		// A field that failed to decode was dropped, so validation may
		// report it missing; the decoding problem already says what is wrong.
		if c.covers(fe.Field) {
			continue
		}
		problems = append(problems, Problem{Field: fe.Field, Detail: fe.ErrorBody()})
	}
	if len(problems) > 0 {
		return nil, newError(problems)
	}
	return vc, nil
}

func newError(problems []Problem) *Error {
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
	return &Error{Problems: problems}
}

// singleDocument returns the one YAML document in data, or a problem when
// data holds none or several.
func singleDocument(data []byte) ([]byte, string) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "reading YAML: " + err.Error()
		}
		if !isEmptyDocument(doc) {
			docs = append(docs, doc)
		}
	}
	switch len(docs) {
	case 0:
		return nil, "the config is empty; it must hold one VirtualCluster document"
	case 1:
		return docs[0], ""
	}
	return nil, fmt.Sprintf("the config holds %d YAML documents; it must hold one VirtualCluster document", len(docs))
}

// isEmptyDocument reports whether a YAML document holds only blank lines,
// comments and document markers.
func isEmptyDocument(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") && t != "---" && t != "..." {
			return false
		}
	}
	return true
}

// yamlProblems turns a YAML parse error into problems, one per line it names.
func yamlProblems(err error) []Problem {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	var problems []Problem
	if rest, ok := strings.CutPrefix(msg, "unmarshal errors:"); ok {
		for line := range strings.SplitSeq(rest, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				problems = append(problems, Problem{Detail: "YAML: " + line})
			}
		}
	}
	if len(problems) == 0 {
		problems = []Problem{{Detail: "YAML: " + msg}}
	}
	return problems
}

// checkTypeMeta checks apiVersion and kind. otherKind is true when the
// document names a kind other than VirtualCluster.
func checkTypeMeta(obj map[string]any) (problems []Problem, otherKind bool) {
	check := func(name, want string) {
		p := field.NewPath(name)
		v, present := obj[name]
		s, isString := v.(string)
		var fe *field.Error
		switch {
		case !present || v == nil || s == "" && isString:
			fe = field.Required(p, fmt.Sprintf("must be %q", want))
		case !isString:
			return // the checker reports the type
		case s != want:
			fe = field.NotSupported(p, s, []string{want})
			if name == "kind" {
				otherKind = true
			}
		default:
			return
		}
		problems = append(problems, Problem{Field: fe.Field, Detail: fe.ErrorBody()})
	}
	check("apiVersion", v1alpha1.SchemeGroupVersion.String())
	check("kind", v1alpha1.VirtualClusterKind)
	return problems, otherKind
}
