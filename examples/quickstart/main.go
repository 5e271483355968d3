// Command quickstart runs the whole upkeep story on one machine, with nothing to set
// up: it creates a publisher key, publishes version 1.0.0 of a small web module into a
// local repository, serves the repository on 127.0.0.1, installs 1.0.0 and starts the
// module, then publishes 1.1.0, finds it, installs it (hooks print each phase, and the
// module answers 503 while it is swapped) and shows the module answering with the new
// version. Everything lives in a temporary folder that is removed at the end; ports are
// chosen by the system.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/maintenance"
	"github.com/upkeep-go/upkeep/update/portal"
	"github.com/upkeep-go/upkeep/update/publish"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var keep, stay bool
	for _, a := range os.Args[1:] {
		switch a {
		case "--keep":
			keep = true
		case "--portal":
			stay = true
		default:
			fmt.Fprintf(os.Stderr, "quickstart: unknown argument %q (known: --keep, --portal)\n", a)
			os.Exit(2)
		}
	}
	if err := run(ctx, os.Stdout, keep, stay); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run tells the story on w. With keep, the temporary folder is left for exploring;
// with stay, the local portal stays open until the program is interrupted.
func run(ctx context.Context, w io.Writer, keep, stay bool) error {
	if !stay {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
	}
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	root, err := os.MkdirTemp("", "upkeep-quickstart-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(root)
	}
	say("== upkeep quickstart, working in %s", root)

	// 1. The publisher: a key pair and a repository.
	pub, sec, err := signature.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pubText, _ := pub.MarshalText()
	secText, err := signature.MarshalPrivateKey(sec, "")
	if err != nil {
		return err
	}
	pubFile, secFile := filepath.Join(root, "publisher.pub"), filepath.Join(root, "publisher.key")
	if err := os.WriteFile(pubFile, pubText, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(secFile, secText, 0o600); err != nil {
		return err
	}
	say("1. created a publisher key (ID %s)", pub.ID())

	repo := filepath.Join(root, "repo")
	platform := runtime.GOOS + "/" + runtime.GOARCH
	release := func(version string) error {
		build := filepath.Join(root, "build-"+version)
		if err := writeSample(build, version); err != nil {
			return err
		}
		m, err := publish.Publish(ctx, repo, sec, publish.Build{Module: "hello", Version: version, Platform: platform, Dir: build})
		if err != nil {
			return err
		}
		say("   published hello %s for %s (manifest serial %d)", version, platform, m.Serial)
		return nil
	}
	if err := release("1.0.0"); err != nil {
		return err
	}

	// 2. The update server: any static web server does; here, upkeep's own.
	repoURL, stopRepo, err := serve(publish.FileServer(repo))
	if err != nil {
		return err
	}
	defer stopRepo()
	say("2. serving the repository on %s", repoURL)

	// 3. The server being kept up to date: one module, swapped atomically, with hooks.
	module := filepath.Join(root, "srv", "hello")
	if err := os.MkdirAll(filepath.Dir(module), 0o755); err != nil {
		return err
	}
	cfg := update.Config{
		Source:   repoURL,
		Keys:     []string{pubFile},
		StateDir: filepath.Join(root, "state"),
		Modules:  []update.ModuleConfig{{Name: "hello", Path: module, Strategy: update.Swap}},
	}
	maint := maintenance.NewState(maintenance.WithDrainTimeout(5 * time.Second))
	phases := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		say("   hook %-11s %s %s → %s", ev.Phase, ev.Module, orNothing(ev.FromVersion), ev.ToVersion)
		return nil
	})
	eng, err := update.New(cfg, update.WithHook("hello", phases), update.WithMaintenance("hello", maint))
	if err != nil {
		return err
	}
	say("3. installing hello on this server (module folder %s)", module)
	res, err := eng.Install(ctx, "hello", update.InstallOptions{})
	if err != nil {
		return err
	}
	say("   installed %s", strings.Join(res.Installed, ", "))

	// 4. The module runs: a small web server over its folder, behind the maintenance
	// middleware, so that users see "back in a moment" while it is swapped.
	site := maint.Middleware(http.FileServer(http.Dir(module)), maintenance.WithHealthPaths("/healthz"))
	siteURL, stopSite, err := serve(site)
	if err != nil {
		return err
	}
	defer stopSite()
	v, err := get(ctx, siteURL+"version.txt")
	if err != nil {
		return err
	}
	say("4. the module answers on %sversion.txt: %s", siteURL, v)

	// 5. A new release appears; the server finds it and installs it.
	say("5. the publisher releases 1.1.0")
	if err := release("1.1.0"); err != nil {
		return err
	}
	rep, err := eng.Check(ctx)
	if err != nil {
		return err
	}
	for _, m := range rep.Modules {
		say("   check: %s installed %s, %s %s", m.Name, orNothing(deref(m.Installed)), m.Status, m.Version)
	}
	res, err = eng.Install(ctx, "hello", update.InstallOptions{})
	if err != nil {
		return err
	}
	say("   installed %s; the module was in maintenance for %s", strings.Join(res.Installed, ", "), res.Window.Round(time.Millisecond))
	v, err = get(ctx, siteURL+"version.txt")
	if err != nil {
		return err
	}
	say("6. the module now answers: %s", v)
	if v != "1.1.0" {
		return fmt.Errorf("the module answers %q, want 1.1.0", v)
	}

	sts, err := eng.Status(ctx)
	if err != nil {
		return err
	}
	for _, s := range sts {
		say("   status: %s installed %s, last result %q, backups %v", s.Name, deref(s.Installed), s.LastResult, s.Backups)
	}

	// 7. The local portal: the agent behind it, on a free loopback port.
	a, err := agent.New(&agent.Config{Config: cfg}, eng)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p, err := portal.New(a, portal.WithAddr(ln.Addr().String()))
	if err != nil {
		return err
	}
	psrv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go psrv.Serve(ln)
	defer psrv.Close()
	portalURL := "http://" + ln.Addr().String() + "/"
	mods, err := get(ctx, portalURL+"api/modules")
	if err != nil {
		return err
	}
	var view struct {
		Modules []struct {
			Name      string  `json:"name"`
			Installed *string `json:"installed"`
			Status    string  `json:"status"`
			Backups   []string
		} `json:"modules"`
	}
	if err := json.Unmarshal([]byte(mods), &view); err != nil {
		return fmt.Errorf("%sapi/modules: %w", portalURL, err)
	}
	for _, m := range view.Modules {
		say("7. the local portal at %s shows %s: installed %s, %s, kept backups %v", portalURL, m.Name, deref(m.Installed), m.Status, m.Backups)
	}
	if stay {
		say("   open %s in a browser; Ctrl-C ends the quickstart", portalURL)
		go a.Run(ctx)
		<-ctx.Done()
	}

	agentFile := filepath.Join(root, "agent.json")
	if b, err := json.MarshalIndent(cfg, "", "  "); err == nil {
		os.WriteFile(agentFile, b, 0o644)
	}
	say(`
Done: the story completed. To go further with the command-line tool:
  go run ./examples/upkeep -h
  go run ./examples/upkeep keygen --pub my.pub --sec my.key
  go run ./examples/upkeep publish --repo ./repo --sec my.key --module web --version 1.0.0 --platform %s --from ./build
  go run ./examples/upkeep serve ./repo --addr 127.0.0.1:8090
  go run ./examples/upkeep check --config agent.json --json
  go run ./examples/upkeep install --config agent.json web
  go run ./examples/upkeep rollback --config agent.json web
  go run ./examples/upkeep status --config agent.json --json
  go run ./examples/upkeep agent --config agent.json       # the portal on 127.0.0.1:8080
Run with --keep to keep the temporary folder: %s is then an agent configuration
for this story's server, e.g. go run ./examples/upkeep status --config %s
Run with --portal to keep the local portal open and look at it in a browser.`, platform, agentFile, agentFile)
	return nil
}

// writeSample writes the sample module's build folder.
func writeSample(dir, version string) error {
	if err := os.MkdirAll(filepath.Join(dir, "static"), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"version.txt":      version,
		"index.html":       "<!doctype html><title>hello</title><h1>hello " + version + "</h1>\n",
		"static/style.css": "h1 { font-family: sans-serif }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// serve serves h on a free 127.0.0.1 port and returns its base URL.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(url + ": " + resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

func orNothing(s string) string {
	if s == "" {
		return "(nothing)"
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
