package portal_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/portal"
)

// Example mounts the portal under /upkeep/ in a host program's own admin server. The
// program owns the listener; the portal needs its address to know which Host headers
// are its own. The backend is the agent in a real program.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	p, err := portal.New(staticBackend{}, portal.WithAddr(ln.Addr().String()))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "the host program's own page")
	})
	mux.Handle("/upkeep/", http.StripPrefix("/upkeep", p))
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	base := "http://" + ln.Addr().String()
	for _, path := range []string{"/upkeep/healthz", "/upkeep/api/modules"} {
		resp, err := http.Get(base + path)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(b)))
	}
	// A POST without the page's token changes nothing.
	resp, err := http.Post(base+"/upkeep/api/check", "application/json", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200 ok
	// 200 {"modules":[{"name":"web","installed":"1.0.0","latest":"1.1.0","status":"update","code":null,"reason":null,"notes":null,"downloaded":true,"maintenance":false,"operation":null,"last_check":null,"last_result":"","last_error":"","backups":[],"hold":null,"next_check":null,"window":null,"diagnostics":{"source_reachable":null,"manifest_serial":null,"manifest_expires":null,"problem":""},"database":null}]}
	// 403
}

// staticBackend shows one module and starts nothing; the agent is the real Backend.
type staticBackend struct{}

func (staticBackend) Modules(ctx context.Context) ([]agent.ModuleView, error) {
	installed, latest := "1.0.0", "1.1.0"
	return []agent.ModuleView{{Name: "web", Installed: &installed, Latest: &latest, Status: "update",
		Downloaded: true, Backups: []string{}}}, nil
}

func (staticBackend) Install(ctx context.Context, module, version string) (string, error) {
	return "", fmt.Errorf("example: install %s: not in this example", module)
}

func (staticBackend) Rollback(ctx context.Context, module string) (string, error) {
	return "", fmt.Errorf("example: rollback %s: not in this example", module)
}

func (staticBackend) Check(ctx context.Context) (string, error) {
	return "", fmt.Errorf("example: check: not in this example")
}

func (staticBackend) Operations(ctx context.Context, module string, limit int) ([]agent.Operation, error) {
	return nil, nil
}

func (staticBackend) Operation(ctx context.Context, id string) (agent.Operation, error) {
	return agent.Operation{}, fmt.Errorf("%w: %q", agent.ErrNoOperation, id)
}

func (staticBackend) Subscribe(ctx context.Context) <-chan agent.Event {
	ch := make(chan agent.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}
