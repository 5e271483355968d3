package maintenance

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The built-in page in the visitor's language: French for a French browser, English
// otherwise, <html lang> saying which; a flag file, served as it is to everyone, in
// both, each section marked with its language.
func TestPageLanguages(t *testing.T) {
	t.Parallel()
	s := NewState(WithRetryAfter(120 * time.Second))
	require.NoError(t, s.On(t.Context(), ""))
	h := s.Middleware(http.NotFoundHandler())
	get := func(accept string) (string, http.Header) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Accept-Language", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		return rec.Body.String(), rec.Header()
	}
	fr, hdr := get("fr-FR,fr;q=0.9,en;q=0.5")
	require.Contains(t, fr, `<html lang="fr">`)
	require.Contains(t, fr, "<h1>Maintenance en cours</h1>")
	require.Contains(t, fr, "Merci de réessayer dans 2 minutes environ.")
	require.Contains(t, hdr.Values("Vary"), "Accept-Language")
	en, _ := get("de-DE")
	require.Contains(t, en, `<html lang="en">`)
	require.Contains(t, en, "Please try again in about 2 minutes.")

	dir := t.TempDir()
	p := filepath.Join(dir, "app_offline.htm")
	require.NoError(t, place(p, "", nil))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, string(b), `<section lang="en">`)
	require.Contains(t, string(b), `<section lang="fr">`)
	require.Contains(t, string(b), "Maintenance en cours")
	require.Contains(t, string(b), "Maintenance in progress")
}

// Every message the page writes exists in French, and the catalog holds no other.
func TestPageMessagesInBothLanguages(t *testing.T) {
	t.Parallel()
	require.NoError(t, pageMessages.Check())
	src, err := os.ReadFile("page.go")
	require.NoError(t, err)
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bt\((?:l|langs\[0\]), "((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(string(src), -1) {
		s, err := strconv.Unquote(`"` + m[1] + `"`)
		require.NoError(t, err)
		used[s] = true
	}
	for msg := range used {
		_, ok := pageMessages[msg]
		require.True(t, ok, "%q is in English only", msg)
	}
	for msg := range pageMessages {
		require.True(t, used[msg], "%q is in French only", msg)
	}
}
