package portal_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The page's language: the switch (?lang=, then its cookie), else the configuration's
// lang, else Accept-Language, else English; <html lang> says which.
func TestPageLanguage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "web")
	f.repo.Publish("web", "1.0.0", platform, map[string]string{"index.html": "v1"})
	a, _ := fileAgent(t, f)
	s := serve(t, a)
	s.page()
	s.waitEnd(s.started("/api/check"))

	page := s.page()
	require.Contains(t, page, `<html lang="en">`)
	require.Contains(t, page, `>Update available<`)
	require.Contains(t, page, `<noscript><p class="flash">The buttons of this page need JavaScript`)

	page = s.page("Accept-Language: fr-FR,fr;q=0.9,en;q=0.8")
	require.Contains(t, page, `<html lang="fr">`)
	for _, want := range []string{">Mise à jour disponible<", ">Mettre à jour vers 1.0.0<", "<noscript><p class=\"flash\">Les boutons de cette page ont besoin de JavaScript",
		">Prochaine vérification<", ">Aucune installation automatique<", `<a href="?lang=en" hreflang="en" lang="en">English</a>`, `aria-current="true">Français</a>`} {
		require.Contains(t, page, want)
	}
	require.NotContains(t, page, ">Update available<")
	require.Regexp(t, `data-field="next_check" datetime="[^"]+">\d\d/\d\d/20\d\d \d\d:\d\d:\d\d UTC<`, page, "a French date")
	require.Contains(t, page, `"Up to date":"À jour"`, "portal.js gets the French of its messages")

	page = s.page("Accept-Language: de-DE")
	require.Contains(t, page, `<html lang="en">`)

	// The configuration's lang wins over the browser's.
	st, body := s.post("/api/settings", `{"lang":"fr"}`)
	require.Equal(t, http.StatusOK, st, body)
	require.Contains(t, s.page("Accept-Language: en-US"), `<html lang="fr">`)

	// The switch wins over both, and is kept in a cookie.
	st, body, h := s.do("GET", "/?lang=en", "", "Accept-Language: fr")
	require.Equal(t, http.StatusOK, st)
	require.Contains(t, body, `<html lang="en">`)
	c := h.Get("Set-Cookie")
	require.True(t, strings.HasPrefix(c, "upkeep_lang=en;"), c)
	require.Contains(t, s.page("Cookie: upkeep_lang=en"), `<html lang="en">`)
	require.Contains(t, h.Get("Vary"), "Accept-Language")
}
