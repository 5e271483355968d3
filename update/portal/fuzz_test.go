package portal_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/upkeep-go/upkeep/update/portal"
)

// FuzzHost checks the Host allowlist against its definition: a request is served
// exactly when its Host is localhost, 127.0.0.1 or [::1] (any case, one trailing dot;
// brackets for the IPv6 address only) on the portal's port.
func FuzzHost(f *testing.F) {
	for _, h := range []string{"127.0.0.1:8080", "localhost:8080", "LOCALHOST.:8080", "[::1]:8080",
		"[::1]", "localhost", "evil.example:8080", "localhost..:8080", "[localhost]:8080", "127.0.0.1:08080",
		"127.1:8080", "0x7f.1:8080", "localhost:8080:8080", "[::ffff:127.0.0.1]:8080", ":8080", ""} {
		f.Add(h)
	}
	p, err := portal.New(staticBackend{}, portal.WithAddr("127.0.0.1:8080"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest("GET", "/healthz", nil)
		r.Host = host
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		served := w.Code == http.StatusOK
		want := false
		if name, port, err := net.SplitHostPort(strings.ToLower(host)); err == nil && port == "8080" &&
			strings.HasPrefix(host, "[") == strings.Contains(name, ":") {
			switch strings.TrimSuffix(name, ".") {
			case "localhost", "127.0.0.1", "::1":
				want = true
			}
		}
		if served != want {
			t.Fatalf("Host %q: served %v (status %d), want %v", host, served, w.Code, want)
		}
	})
}
