package fleet_test

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update/fleet"
)

// The master's pages in the browser's language, or the one the switch chose; <html
// lang> says which.
func TestPagesLanguage(t *testing.T) {
	d := newDomain(t)
	c := newPagesClient(t, d)
	bearer := "Bearer " + adminToken
	resp, body := c.do("GET", "/ui/", nil, map[string]string{"Authorization": bearer})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `<html lang="en">`)
	require.Contains(t, body, "<h2>Servers</h2>")
	require.Contains(t, body, `<noscript><p class="bad">The buttons of this page need JavaScript`)

	resp, body = c.do("GET", "/ui/", nil, map[string]string{"Authorization": bearer, "Accept-Language": "fr-FR,fr;q=0.9"})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `<html lang="fr">`)
	for _, want := range []string{"<h2>Serveurs</h2>", ">Ajouter une mise à jour<", ">Propager<", "<noscript><p class=\"bad\">Les boutons de cette page ont besoin de JavaScript", `"running":"en cours"`} {
		require.Contains(t, body, want)
	}
	require.Regexp(t, `<time datetime="[^"]+">\d\d/\d\d/20\d\d \d\d:\d\d:\d\d UTC</time>`, body, "French dates")

	resp, body = c.do("GET", "/ui/?lang=en", nil, map[string]string{"Authorization": bearer, "Accept-Language": "fr"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `<html lang="en">`)
	require.True(t, strings.HasPrefix(resp.Header.Get("Set-Cookie"), "upkeep_fleet_lang=en;"))

	resp, body = c.do("GET", "/ui/login", nil, map[string]string{"Accept-Language": "fr"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `<html lang="fr">`)
	require.Contains(t, body, "Jeton d&#39;administration")
}

// Every message the pages, their Go code and pages.js write exists in French, and the
// catalog holds no other.
func TestPagesMessagesInBothLanguages(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	scan := func(file string, re *regexp.Regexp) {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			s, err := strconv.Unquote(`"` + strings.ReplaceAll(m[1], `\'`, `'`) + `"`)
			require.NoError(t, err, m[1])
			used[s] = true
		}
	}
	tmpl := regexp.MustCompile(`\bt \$?\.Lang "((?:[^"\\]|\\.)*)"`)
	scan("pages/page.html", tmpl)
	scan("pages/login.html", tmpl)
	scan("pages/pages.js", regexp.MustCompile(`\bt\('((?:[^'\\]|\\.)*)'`))
	scan("pages.go", regexp.MustCompile(`pageMessages\.T\(l, "((?:[^"\\]|\\.)*)"`))
	scan("pages_lang.go", regexp.MustCompile(`(?:Kind\w+|State\w+): "((?:[^"\\]|\\.)*)"`))
	catalog := fleet.PageMessages
	require.NoError(t, catalog.Check())
	for msg := range used {
		_, ok := catalog[msg]
		require.True(t, ok, "%q is in English only", msg)
	}
	for msg := range catalog {
		require.True(t, used[msg], "%q is in French only", msg)
	}
}
