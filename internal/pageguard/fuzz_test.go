package pageguard_test

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/upkeep-go/upkeep/internal/pageguard"
)

// FuzzHost checks the Host rule against its definition, for a guard served on
// 127.0.0.1:8080 and told of upkeep.example on any port: a Host is served exactly
// when it is localhost, 127.0.0.1 or [::1] on port 8080, or upkeep.example on a port,
// in any case, with one trailing dot, brackets around the IPv6 address only. Seeds
// and failures are in testdata/fuzz/FuzzHost.
func FuzzHost(f *testing.F) {
	for _, h := range []string{"127.0.0.1:8080", "localhost:8080", "LOCALHOST.:8080", "[::1]:8080", "upkeep.example:1"} {
		f.Add(h)
	}
	g, err := pageguard.New(pageguard.Options{Addr: "127.0.0.1:8080", Hosts: []string{"upkeep.example"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		got := g.HostAllowed(r)
		want := false
		if name, port, err := net.SplitHostPort(strings.ToLower(host)); err == nil && port != "" &&
			strings.HasPrefix(host, "[") == strings.Contains(name, ":") {
			switch strings.TrimSuffix(name, ".") {
			case "localhost", "127.0.0.1", "::1":
				want = port == "8080"
			case "upkeep.example":
				want = true
			}
		} else if err != nil && strings.TrimSuffix(strings.ToLower(host), ".") == "upkeep.example" {
			want = true // no port: port 80, and the name is served on any
		}
		if got != want {
			t.Fatalf("Host %q: served %v, want %v", host, got, want)
		}
	})
}
