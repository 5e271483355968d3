package upkeep_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// README.md and doc.go name every package of the module, the README says how to
// install the command, and its count of the kinds of people matches its list.
func TestDocsNameEveryPackage(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	tour, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]bool{}
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && p != ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") && filepath.Dir(p) != "." {
			pkgs[filepath.ToSlash(filepath.Dir(p))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range pkgs {
		name := strings.TrimPrefix(p, "examples/")
		if !strings.Contains(string(readme), "`"+p+"`") && !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not name package %s", p)
		}
		if !regexp.MustCompile(`(^|[\s(,])` + regexp.QuoteMeta(p) + `\b`).Match(tour) {
			t.Errorf("doc.go does not name package %s", p)
		}
	}
	if !strings.Contains(string(readme), "go install github.com/upkeep-go/upkeep/examples/upkeep@latest") {
		t.Error("README.md does not say how to install the command")
	}
	m := regexp.MustCompile(`It is for (\w+) kinds of people:\n\n((?:- .*\n(?:  .*\n)*)+)`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md: no list of the kinds of people")
	}
	n := strings.Count(string(m[2]), "\n- ") + 1
	words := map[string]int{"two": 2, "three": 3, "four": 4, "five": 5}
	if words[string(m[1])] != n {
		t.Errorf("README.md says %s kinds of people and lists %d", m[1], n)
	}
}
