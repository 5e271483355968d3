package pack

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// documentedRules reads the package's sources for the constants of type Rule and
// returns their values, checking that each has a doc comment starting with its
// name and that no two share a value.
func documentedRules(tb testing.TB) map[Rule]string {
	tb.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(tb, err)
	rules := map[Rule]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		require.NoError(tb, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Rule" {
					continue
				}
				doc := vs.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				for i, n := range vs.Names {
					require.NotNil(tb, doc, "%s: no doc comment", n.Name)
					require.True(tb, strings.HasPrefix(doc.Text(), n.Name+" "), "%s: doc comment does not start with its name", n.Name)
					v, err := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
					require.NoError(tb, err)
					prev, dup := rules[Rule(v)]
					require.False(tb, dup, "%s and %s share the value %q", prev, n.Name, v)
					rules[Rule(v)] = n.Name
				}
			}
		}
	}
	require.NotEmpty(tb, rules)
	return rules
}

func TestRules(t *testing.T) {
	t.Parallel()
	rules := documentedRules(t)
	require.Equal(t, "RuleMaxDepth", rules[RuleMaxDepth])
	require.Equal(t, "RuleRead", rules[RuleRead])
	for _, c := range hostileCases() {
		_, ok := rules[c.wantRule]
		require.True(t, ok, "%s: rule %q is not a documented Rule constant", c.name, c.wantRule)
	}
}

func TestRuleInError(t *testing.T) {
	t.Parallel()
	z := rawZip(stored("a/b/c", "x", 0o644))
	_, err := ReadInfo(bytes.NewReader(z), int64(len(z)), WithLimits(Limits{MaxDepth: 2}))
	require.EqualError(t, err, `pack: entry "a/b/c": max-depth: limit exceeded: 3 path segments, more than 2`)
	require.ErrorIs(t, err, ErrLimit)
	var ee *EntryError
	require.ErrorAs(t, err, &ee)
	var rule Rule = ee.Rule
	require.Equal(t, RuleMaxDepth, rule)
	require.Equal(t, "max-depth", rule.String())
	wrapped := errors.Join(errors.New("installing"), err)
	require.ErrorIs(t, wrapped, ErrLimit)
	require.ErrorAs(t, wrapped, &ee)
	require.Equal(t, RuleMaxDepth, ee.Rule)
}
