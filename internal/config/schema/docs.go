package schema

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// Docs holds the doc comments of Go struct types and their fields, read from
// source with go/ast.
type Docs struct {
	types map[typeKey]*typeDoc
}

type typeKey struct{ pkg, name string }

type typeDoc struct {
	doc    string
	fields map[string]string // Go field name → raw doc comment
}

// LoadDocs parses the Go source of every package that declares a struct type
// in the trees rooted at roots. moduleDir is a directory inside the module,
// from which import paths are resolved.
func LoadDocs(moduleDir string, roots ...*Node) (*Docs, error) {
	pkgs := map[string]bool{}
	seen := map[*Node]bool{}
	var visit func(*Node)
	visit = func(n *Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.Kind == Object && n.Type.PkgPath() != "" {
			pkgs[n.Type.PkgPath()] = true
		}
		for _, f := range n.Fields {
			if f.Owner.PkgPath() != "" {
				pkgs[f.Owner.PkgPath()] = true
			}
			visit(f.Node)
		}
		visit(n.Elem)
	}
	for _, r := range roots {
		visit(r)
	}

	paths := make([]string, 0, len(pkgs))
	for p := range pkgs {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	d := &Docs{types: map[typeKey]*typeDoc{}}
	for _, path := range paths {
		pkg, err := build.Default.Import(path, moduleDir, build.FindOnly)
		if err != nil {
			return nil, fmt.Errorf("finding package %s: %w", path, err)
		}
		if err := d.parseDir(path, pkg.Dir); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Docs) parseDir(pkgPath, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading package %s: %w", pkgPath, err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parsing package %s: %w", pkgPath, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				td := &typeDoc{doc: ts.Doc.Text(), fields: map[string]string{}}
				if td.doc == "" && len(gd.Specs) == 1 {
					td.doc = gd.Doc.Text()
				}
				for _, fl := range st.Fields.List {
					doc := fl.Doc.Text()
					if len(fl.Names) == 0 {
						td.fields[embeddedName(fl.Type)] = doc
					}
					for _, n := range fl.Names {
						td.fields[n.Name] = doc
					}
				}
				d.types[typeKey{pkgPath, ts.Name.Name}] = td
			}
		}
	}
	return nil
}

// embeddedName returns the field name of an embedded field of type expr.
func embeddedName(expr ast.Expr) string {
	switch e := expr.(type) {
	case *ast.StarExpr:
		return embeddedName(e.X)
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.Ident:
		return e.Name
	}
	return ""
}

// TypeDoc returns the raw doc comment of struct type t.
func (d *Docs) TypeDoc(t reflect.Type) string {
	if td := d.types[typeKey{t.PkgPath(), t.Name()}]; td != nil {
		return td.doc
	}
	return ""
}

// FieldDoc returns the raw doc comment of field f.
func (d *Docs) FieldDoc(f *Field) string {
	if td := d.types[typeKey{f.Owner.PkgPath(), f.Owner.Name()}]; td != nil {
		return td.fields[f.GoName]
	}
	return ""
}

// Description returns a doc comment without its marker lines ("+..."), TODO
// lines and anything after a "---" line, with surrounding space trimmed.
func Description(doc string) string {
	var out []string
	for line := range strings.SplitSeq(doc, "\n") {
		t := strings.TrimSpace(line)
		if t == "---" {
			break
		}
		if strings.HasPrefix(t, "+") || strings.HasPrefix(t, "TODO") {
			continue
		}
		out = append(out, strings.TrimRight(line, " \t"))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// Markers returns the marker lines of a doc comment: "+name=value" as
// name → value, "+name" as name → "".
func Markers(doc string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(doc, "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "+") {
			continue
		}
		name, value, _ := strings.Cut(t[1:], "=")
		m[name] = value
	}
	return m
}

// DefaultText returns the text of a description's "Default:" statement, or
// "" when it has none.
func DefaultText(desc string) string {
	_, after, ok := strings.Cut(desc, "Default:")
	if !ok {
		return ""
	}
	return strings.Join(strings.Fields(after), " ")
}
