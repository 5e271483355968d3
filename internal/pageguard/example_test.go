package pageguard_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/upkeep-go/upkeep/internal/pageguard"
)

// Example puts a page and its API behind the guard: the Host must be a loopback name
// on the served port, a POST needs the page token (or the bearer secret), and every
// refusal is a JSON error with a code.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	const script = "console.log('page')"
	g, err := pageguard.New(pageguard.Options{
		Addr: ln.Addr().String(), Secret: "secret-of-the-token-file", Public: []string{"/healthz"},
		Scripts: []string{script},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /api/check", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	srv := &http.Server{Handler: g.Wrap(pageguard.Routes(mux))}
	go srv.Serve(ln)
	defer srv.Close()

	base := "http://" + ln.Addr().String()
	show := func(method, path, host string, header ...string) {
		req, _ := http.NewRequest(method, base+path, nil)
		if host != "" {
			req.Host = host
		}
		for _, h := range header {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, b)))
	}
	show("GET", "/healthz", "")
	show("GET", "/healthz", "rebound.example:80")
	show("POST", "/api/check", "")
	show("POST", "/api/check", "", "Authorization: Bearer secret-of-the-token-file")
	show("POST", "/api/check", "", "Authorization: Bearer secret-of-the-token-file", "Sec-Fetch-Site: cross-site")
	// Output:
	// GET /healthz: 200 ok
	// GET /healthz: 421 {"error":"host \"rebound.example:80\" is not served here","code":"misdirected"}
	// POST /api/check: 401 {"error":"a bearer token or a login is required","code":"unauthorized"}
	// POST /api/check: 202
	// POST /api/check: 403 {"error":"cross-origin request refused: cross-origin request detected from Sec-Fetch-Site header","code":"forbidden"}
}
