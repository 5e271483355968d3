package portal

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// Every message the page, the login form, their Go code and portal.js write exists in
// French and English, and the catalog holds no message none of them writes.
func TestMessagesInBothLanguages(t *testing.T) {
	t.Parallel()
	if err := messages.Check(); err != nil {
		t.Fatal(err)
	}
	used := map[string]string{} // message → where
	scan := func(file string, re *regexp.Regexp, unquote func(string) string) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if m[1] != "" {
				used[unquote(m[1])] = file
			}
		}
	}
	goString := func(s string) string {
		u, err := strconv.Unquote(`"` + s + `"`)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return u
	}
	jsString := func(s string) string { return regexp.MustCompile(`\\(.)`).ReplaceAllString(s, "$1") }
	tmplCall := regexp.MustCompile(`\bt \$?\.Lang "((?:[^"\\]|\\.)*)"`)
	scan("assets/page.html", tmplCall, goString)
	scan("assets/login.html", tmplCall, goString)
	scan("assets/portal.js", regexp.MustCompile(`\bt\('((?:[^'\\]|\\.)*)'`), jsString)
	goCall := regexp.MustCompile(`\b(?:tr\(l|renderLogin\(w, r, [^,]+), "((?:[^"\\]|\\.)*)"`)
	scan("page.go", goCall, goString)
	scan("lang.go", goCall, goString)
	for _, v := range stateLabels {
		used[v[0]] = "stateLabels"
	}
	for _, v := range dbStates {
		used[v[0]] = "dbStates"
	}
	for _, v := range runningLabels {
		used[v] = "runningLabels"
	}
	used["Working"] = "page.go"
	for _, v := range stepLabels {
		used[v] = "stepLabels"
	}
	for _, v := range kindLabels {
		used[v] = "kindLabels"
	}
	for _, v := range holdLabels {
		used[v] = "holdLabels"
	}
	for _, v := range resultLabels {
		used[v] = "resultLabels"
	}
	for _, d := range weekDays {
		used[d[1]] = "weekDays"
	}
	for _, v := range dayNames {
		used[v] = "dayNames"
	}
	for msg, where := range used {
		if _, ok := messages[msg]; !ok {
			t.Errorf("%s: %q is in English only", where, msg)
		}
	}
	var unused []string
	for msg := range messages {
		if _, ok := used[msg]; !ok {
			unused = append(unused, msg)
		}
	}
	slices.Sort(unused)
	for _, msg := range unused {
		t.Errorf("%q is in French only: nothing writes it", msg)
	}
}
