package maintenance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/upkeep-go/upkeep/update/maintenance"
)

func ExampleState_Middleware() {
	state := maintenance.NewState(maintenance.WithRetryAfter(2 * time.Minute))
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	srv := httptest.NewServer(state.Middleware(app,
		maintenance.WithHealthPaths("/healthz"),
		maintenance.WithBypassToken("operator-secret")))
	defer srv.Close()

	get := func(path string, header ...string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s %d", path, resp.StatusCode)
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Printf(" Retry-After=%s", ra)
		}
		if resp.Header.Get("Content-Type") == "application/json" {
			var v struct {
				Status string `json:"status"`
				Reason string `json:"reason"`
			}
			json.Unmarshal(body, &v)
			fmt.Printf(" %s: %s", v.Status, v.Reason)
		} else if resp.StatusCode == http.StatusOK {
			fmt.Printf(" %s", body)
		}
		fmt.Println()
	}

	get("/")
	// The engine turns maintenance on before it touches the live tree; On returns once
	// the requests already running have finished.
	if err := state.On(context.Background(), "installing shop 2.4.0"); err != nil {
		fmt.Println(err)
	}
	get("/", "Accept", "application/json")
	get("/healthz")
	get("/", maintenance.BypassHeader, "operator-secret")
	state.Off()
	get("/")

	// Output:
	// / 200 hello
	// / 503 Retry-After=120 maintenance: installing shop 2.4.0
	// /healthz 200 hello
	// / 200 hello
	// / 200 hello
}

func ExampleFlag() {
	dir, err := os.MkdirTemp("", "module")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	flag := maintenance.Flag{Name: maintenance.DefaultFlagName}

	if err := flag.Place(dir, "installing shop 2.4.0"); err != nil {
		fmt.Println(err)
	}
	present, ours, _ := flag.Present(dir)
	fmt.Println("placed:", present, "ours:", ours)
	if err := flag.Remove(dir); err != nil {
		fmt.Println(err)
	}
	present, _, _ = flag.Present(dir)
	fmt.Println("after remove:", present)

	// A page someone put there by hand is never replaced nor removed.
	os.WriteFile(filepath.Join(dir, flag.Name), []byte("<p>closed for inventory</p>"), 0o644)
	err = flag.Place(dir, "installing shop 2.4.0")
	fmt.Println(errors.Is(err, maintenance.ErrForeignFlag))
	err = flag.Remove(dir)
	fmt.Println(errors.Is(err, maintenance.ErrForeignFlag))

	// Output:
	// placed: true ours: true
	// after remove: false
	// true
	// true
}
