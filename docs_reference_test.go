package upkeep_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/fleet"
)

// The reference in docs/ cannot drift from the code: every configuration key, route
// and code the code has is documented, and the docs name none the code lacks. The
// code side is derived, not listed: configuration keys by reflection over the JSON
// tags of the configuration structs; routes from the patterns each package
// registers on its http.ServeMux (read from the HandleFunc/Handle calls, since a
// ServeMux cannot list its patterns); codes from the Code constants of each package
// and the code literals its errors carry.
func TestReferenceMatchesCode(t *testing.T) {
	t.Parallel()
	check := func(what, doc string, code, docs []string) {
		t.Helper()
		for _, k := range code {
			if !slices.Contains(docs, k) {
				t.Errorf("%s %q exists in the code but not in %s", what, k, doc)
			}
		}
		for _, k := range docs {
			if !slices.Contains(code, k) {
				t.Errorf("%s %q is in %s but not in the code", what, k, doc)
			}
		}
	}
	check("configuration key", "docs/configuration.md", configKeys(), docEntries(t, "docs/configuration.md"))
	check("route", "docs/api.md", routes(t, "update/portal"), docEntries(t, "docs/api.md"))
	check("route", "docs/fleet-api.md", routes(t, "update/fleet"), docEntries(t, "docs/fleet-api.md"))
	check("code", "docs/codes.md", codes(t, "update", "update/agent", "update/portal", "update/fleet", "update/trust",
		"update/dbscript", "manifest", "internal/pageguard"), docEntries(t, "docs/codes.md"))
}

// docEntries returns the first cell of each table row of a docs page, when it is a
// single `code span`.
func docEntries(t *testing.T, page string) []string {
	t.Helper()
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` +\\|").FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("%s: no table row names anything", page)
	}
	return out
}

// configKeys walks the JSON tags of the agent configuration, with the fleet block's
// keys under "fleet.": "modules[].database.driver", "auto_install.days".
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				walk(f.Type, prefix)
				continue
			}
			key := prefix + name
			keys = append(keys, key)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case key == "fleet":
				walk(reflect.TypeFor[fleet.Config](), "fleet.")
			case ft.Kind() == reflect.Struct && ft.PkgPath() != "time":
				walk(ft, key+".")
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), key+"[].")
			}
		}
	}
	walk(reflect.TypeFor[agent.Config](), "")
	return keys
}

// parseDir parses the non-test Go files of dir.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

func stringLit(e ast.Expr) (string, bool) {
	if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
		s, err := strconv.Unquote(bl.Value)
		return s, err == nil
	}
	return "", false
}

// routes returns the patterns ("GET /api/modules") registered by the package's
// HandleFunc and Handle calls with a literal pattern.
func routes(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, f := range parseDir(t, dir) {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle" {
				return true
			}
			if p, ok := stringLit(call.Args[0]); ok {
				out = append(out, p)
			}
			return true
		})
	}
	return out
}

var codeShape = regexp.MustCompile(`^[a-z][a-z_]*$`)

// codes returns the codes of the packages: the values of their constants named
// Code…, the literals their errors carry in a field or variable named Code, in the
// code argument of pageguard.WriteError, and in the tables that map an error to an
// HTTP status and a code.
func codes(t *testing.T, dirs ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	add := func(e ast.Expr) {
		if s, ok := stringLit(e); ok && codeShape.MatchString(s) {
			seen[s] = true
		}
	}
	isCodeName := func(e ast.Expr) bool {
		switch x := e.(type) {
		case *ast.Ident:
			return x.Name == "Code" || x.Name == "code"
		case *ast.SelectorExpr:
			return x.Sel.Name == "Code"
		}
		return false
	}
	for _, dir := range dirs {
		for _, f := range parseDir(t, dir) {
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.ValueSpec:
					for i, name := range x.Names {
						if strings.HasPrefix(name.Name, "Code") && i < len(x.Values) {
							add(x.Values[i])
						}
					}
				case *ast.KeyValueExpr:
					if isCodeName(x.Key) {
						add(x.Value)
					}
				case *ast.AssignStmt:
					for i, l := range x.Lhs {
						if isCodeName(l) && i < len(x.Rhs) {
							add(x.Rhs[i])
						}
					}
				case *ast.CallExpr:
					if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "WriteError" && len(x.Args) == 4 {
						add(x.Args[2])
					}
				case *ast.CompositeLit:
					// {ErrX, http.StatusConflict, "code"}: a row of an error table.
					status := false
					for _, e := range x.Elts {
						if sel, ok := e.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Status") {
							status = true
						}
					}
					if status {
						for _, e := range x.Elts {
							add(e)
						}
					}
				}
				return true
			})
		}
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
