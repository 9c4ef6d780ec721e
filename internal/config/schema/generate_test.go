package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// repoRoot is the repository root, two levels above this package.
const repoRoot = "../../.."

var (
	generateOnce  sync.Once
	generated     map[string][]byte
	generateError error
)

// files generates the files once for all tests.
func files(t *testing.T) map[string][]byte {
	t.Helper()
	generateOnce.Do(func() { generated, generateError = Files(repoRoot) })
	if generateError != nil {
		t.Fatalf("generating: %v", generateError)
	}
	return generated
}

// TestGeneratedFilesUpToDate fails while a committed generated file differs
// from what the generator writes now.
func TestGeneratedFilesUpToDate(t *testing.T) {
	t.Parallel()
	for path, want := range files(t) {
		got, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("%s: %v; run %q to write it", path, err, Command)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (%s); run %q to regenerate it", path, firstDifference(got, want), Command)
		}
	}
}

// firstDifference describes the first line where got and want differ.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d is %q, want %q", i+1, gl, wl)
		}
	}
	return "same lines"
}

func loadCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	// Strict: a misspelt schema keyword would be silently dropped by the API
	// server, so it must fail here.
	if err := yaml.UnmarshalStrict(files(t)[CRDPath], crd); err != nil {
		t.Fatalf("decoding the CRD: %v", err)
	}
	return crd
}

func TestCRD(t *testing.T) {
	t.Parallel()
	crd := loadCRD(t)

	if crd.Name != "virtualclusters.kubicle.dev" || crd.Spec.Group != "kubicle.dev" ||
		crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("name %q, group %q, scope %q", crd.Name, crd.Spec.Group, crd.Spec.Scope)
	}
	if !slices.Equal(crd.Spec.Names.ShortNames, []string{"vc"}) || crd.Spec.Names.Kind != "VirtualCluster" ||
		crd.Spec.Names.ListKind != "VirtualClusterList" || crd.Spec.Names.Plural != "virtualclusters" {
		t.Errorf("names: %+v", crd.Spec.Names)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("%d versions, want 1", len(crd.Spec.Versions))
	}
	v := crd.Spec.Versions[0]
	if v.Name != "v1alpha1" || !v.Served || !v.Storage {
		t.Errorf("version %q served %v storage %v", v.Name, v.Served, v.Storage)
	}
	if v.Subresources == nil || v.Subresources.Status == nil {
		t.Error("no status subresource")
	}
	var columns []string
	for _, c := range v.AdditionalPrinterColumns {
		if c.Priority == 0 {
			columns = append(columns, c.Name+"="+c.JSONPath)
		}
	}
	wantColumns := []string{
		"Phase=.status.phase",
		"Backing store=.spec.controlPlane.backingStore.type",
		"Driver=.spec.controlPlane.driver",
		"Age=.metadata.creationTimestamp",
	}
	if !slices.Equal(columns, wantColumns) {
		t.Errorf("printer columns %q, want %q", columns, wantColumns)
	}

	// The API server refuses a CRD whose schema is not structural.
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
		t.Fatalf("converting the schema: %v", err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatalf("schema is not structural: %v", err)
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
		t.Errorf("schema is not structural:\n%v", errs.ToAggregate())
	}

	// The API server refuses a list-map key that may be left out without a
	// default (a real apply of the CRD in test/e2e checks the rest).
	var checkListMapKeys func(path string, p *apiextensionsv1.JSONSchemaProps)
	checkListMapKeys = func(path string, p *apiextensionsv1.JSONSchemaProps) {
		for name, child := range p.Properties {
			checkListMapKeys(path+"."+name, &child)
		}
		if p.Items != nil && p.Items.Schema != nil {
			it := p.Items.Schema
			for _, key := range p.XListMapKeys {
				if k, ok := it.Properties[key]; ok && k.Default == nil && !slices.Contains(it.Required, key) {
					t.Errorf("%s: list-map key %q is neither required nor defaulted", path, key)
				}
			}
			checkListMapKeys(path+"[]", it)
		}
		if p.AdditionalProperties != nil && p.AdditionalProperties.Schema != nil {
			checkListMapKeys(path+"{}", p.AdditionalProperties.Schema)
		}
	}
	checkListMapKeys("openAPIV3Schema", v.Schema.OpenAPIV3Schema)

	// Spot checks of the walk.
	spec := v.Schema.OpenAPIV3Schema.Properties["spec"]
	bs := spec.Properties["controlPlane"].Properties["backingStore"].Properties["type"]
	if got := enumStrings(bs.Enum); !slices.Equal(got, []string{"sqlite", "embeddedEtcd", "externalEtcd", "database"}) {
		t.Errorf("backingStore.type enum %q", got)
	}
	if bs.Default == nil || string(bs.Default.Raw) != `"sqlite"` {
		t.Errorf("backingStore.type default %v, want \"sqlite\"", bs.Default)
	}
	quota := spec.Properties["isolation"].Properties["resourceQuota"]
	if quota.AdditionalProperties == nil || !quota.AdditionalProperties.Schema.XIntOrString {
		t.Errorf("resourceQuota values are not int-or-string quantities: %+v", quota.AdditionalProperties)
	}
	conds := v.Schema.OpenAPIV3Schema.Properties["status"].Properties["conditions"]
	if conds.XListType == nil || *conds.XListType != "map" || !slices.Equal(conds.XListMapKeys, []string{"type"}) {
		t.Errorf("status.conditions is not a map list keyed by type")
	}
}

func enumStrings(enum []apiextensionsv1.JSON) []string {
	var out []string
	for _, e := range enum {
		var s string
		_ = json.Unmarshal(e.Raw, &s)
		out = append(out, s)
	}
	return out
}

func TestJSONSchema(t *testing.T) {
	t.Parallel()
	var s map[string]any
	if err := json.Unmarshal(files(t)[SchemaPath], &s); err != nil {
		t.Fatalf("the JSON schema is not JSON: %v", err)
	}
	if s["$schema"] != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("$schema = %v", s["$schema"])
	}
	// Strict like the decoder: unknown fields are errors in editors too.
	spec := s["properties"].(map[string]any)["spec"].(map[string]any)
	if spec["additionalProperties"] != false {
		t.Errorf("spec.additionalProperties = %v, want false", spec["additionalProperties"])
	}
}

// TestMarkerDefaultsMatchDefault checks every +kubicle:default marker (which
// becomes a default the API server applies from the CRD) against Default:
// for configs that leave the field out, Default must give the same value, or
// objects applied to a host would differ from the same file given to the CLI.
func TestMarkerDefaultsMatchDefault(t *testing.T) {
	t.Parallel()
	docs, err := LoadDocs(repoRoot, VirtualCluster())
	if err != nil {
		t.Fatal(err)
	}
	type marker struct {
		path  string
		value any
	}
	var markers []marker
	var visit func(path string, n *Node)
	visit = func(path string, n *Node) {
		for _, f := range n.Fields {
			if !ownPackage(f.Owner) {
				continue
			}
			p := strings.TrimPrefix(path+"."+f.Name, ".")
			if raw, ok := Markers(docs.FieldDoc(f))["kubicle:default"]; ok {
				var v any
				if err := json.Unmarshal([]byte(raw), &v); err != nil {
					t.Errorf("%s: marker default %s: %v", p, raw, err)
				}
				markers = append(markers, marker{p, v})
			}
			if f.Node.Kind == Object {
				visit(p, f.Node)
			}
		}
	}
	visit("", VirtualCluster())
	if len(markers) < 10 {
		t.Fatalf("found only %d default markers", len(markers))
	}

	i32 := func(v int32) *int32 { return &v }
	yes := true
	variants := map[string]v1alpha1.VirtualClusterSpec{
		"empty":   {},
		"private": {Isolation: v1alpha1.Isolation{Mode: v1alpha1.IsolationPrivate}},
		"process": {ControlPlane: v1alpha1.ControlPlane{Driver: v1alpha1.DriverProcess}},
		"ha database": {ControlPlane: v1alpha1.ControlPlane{Replicas: i32(3), BackingStore: v1alpha1.BackingStore{
			Type: v1alpha1.BackingStoreDatabase, Database: &v1alpha1.Database{Driver: v1alpha1.DatabasePostgres}}}},
		"dedicated gpu": {Isolation: v1alpha1.Isolation{Mode: v1alpha1.IsolationDedicated,
			GPU: v1alpha1.GPU{MaxGPUs: i32(8)}}},
		"ingresses and priority classes": {Sync: v1alpha1.Sync{ToHost: v1alpha1.SyncToHost{
			Ingresses: v1alpha1.ResourceSync{Enabled: &yes}, PriorityClasses: v1alpha1.ResourceSync{Enabled: &yes}}}},
	}
	for name, spec := range variants {
		vc := &v1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, Spec: spec}
		input := toMap(t, vc)
		v1alpha1.Default(vc)
		defaulted := toMap(t, vc)
		for _, m := range markers {
			if _, set := lookup(input, m.path); set {
				continue
			}
			got, _ := lookup(defaulted, m.path)
			if obj, ok := m.value.(map[string]any); ok {
				// An object default holds only some of the fields.
				gotObj, _ := got.(map[string]any)
				for k, want := range obj {
					if fmt.Sprint(gotObj[k]) != fmt.Sprint(want) {
						t.Errorf("%s: %s.%s defaults to %v, marker says %v", name, m.path, k, gotObj[k], want)
					}
				}
				continue
			}
			if fmt.Sprint(got) != fmt.Sprint(m.value) {
				t.Errorf("%s: %s defaults to %v, marker says %v", name, m.path, got, m.value)
			}
		}
	}
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVersionPatternMarker(t *testing.T) {
	t.Parallel()
	p := loadCRD(t).Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["controlPlane"].Properties["version"].Pattern
	if p != v1alpha1.VersionPattern {
		t.Errorf("controlPlane.version pattern marker %q differs from v1alpha1.VersionPattern %q", p, v1alpha1.VersionPattern)
	}
}

func TestCheckDocsNamesUndocumentedFields(t *testing.T) {
	t.Parallel()
	empty := &Docs{types: map[typeKey]*typeDoc{}}
	err := checkDocs(empty, VirtualCluster())
	if err == nil || !strings.Contains(err.Error(), "\n  spec.controlPlane.driver (ControlPlane.Driver): no doc comment\n") {
		t.Errorf("checkDocs without docs = %v, want it to name spec.controlPlane.driver", err)
	}
}
