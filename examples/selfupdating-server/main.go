// Command selfupdating-server is a small HTTP server that keeps itself up to date with
// upkeep and replaces its own executable without refusing a connection.
//
// It is module "selfupdating-server" of the repository given by --source: the folder
// holding its executable is the module's folder (swap strategy), so a pack of that
// module holds the executable "selfupdating-server" (".exe" on Windows) at its root.
// Every --check-interval it checks; after installing a new version it starts it with
// the same arguments, hands it the listening socket (update/handoff), and once the new
// process says it serves, finishes its in-flight requests and exits. A new version
// that does not become ready is killed, the swap is rolled back, and the old process
// keeps serving and does not retry that version.
//
// By default clients never see a 503. With --maintenance the engine also turns the
// maintenance middleware on while it swaps the folder (clients get 503 with
// Retry-After for that window), and then restarts through the same handoff.
//
//	GET /version   the version, set at build time with -ldflags "-X main.version=V"
//	GET /slow?d=D  answers after D (a Go duration, at most 10s): a long request
//	GET /status    JSON: version, pid, the module's status, versions that failed here
//	GET /healthz   "ok", even in maintenance
//
// See README.md for a walk-through with `upkeep publish`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/handoff"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.0".
var version = "0.0.0"

// module is the name of this program's module in the repository.
const module = "selfupdating-server"

func main() {
	// Captured at start-up: after a swap of the folder it names the new version.
	exe, _ := handoff.Executable()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, exe, os.Args[1:], os.Stderr))
}

// config is the command line.
type config struct {
	addr, source, pub, stateDir string
	interval                    time.Duration
	readyTimeout, drainTimeout  time.Duration
	maintenance                 bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	var c config
	fs := flag.NewFlagSet("selfupdating-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&c.source, "source", "", "repository URL or folder (required)")
	fs.StringVar(&c.pub, "pub", "", "publisher's public key file (required)")
	fs.StringVar(&c.stateDir, "state-dir", "", "upkeep's state folder: status, journal, downloads (required)")
	fs.DurationVar(&c.interval, "check-interval", time.Minute, "time between update checks")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", handoff.DefaultReadyTimeout, "how long a new version has to start serving")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 30*time.Second, "how long in-flight requests may take to finish")
	fs.BoolVar(&c.maintenance, "maintenance", false, "answer 503 while the folder is swapped")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.source == "" || c.pub == "" || c.stateDir == "":
		return nil, errors.New("--source, --pub and --state-dir are required")
	case c.interval <= 0 || c.readyTimeout <= 0 || c.drainTimeout <= 0:
		return nil, errors.New("durations must be positive")
	}
	return &c, nil
}

// run serves until ctx ends or a new version takes over, and returns the exit code.
func run(ctx context.Context, exe string, args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "selfupdating-server:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("version", version, "pid", os.Getpid())
	s, err := newServer(cfg, exe, args, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := s.serve(ctx); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	return 0
}

type server struct {
	cfg   *config
	exe   string
	args  []string
	log   *slog.Logger
	h     *handoff.Handoff
	eng   *update.Engine
	maint *maintenance.State

	mu     sync.Mutex
	failed map[string]string // version → why it did not become ready, in this process
}

func newServer(cfg *config, exe string, args []string, log *slog.Logger) (*server, error) {
	if exe == "" {
		return nil, errors.New("cannot tell where this program's executable is")
	}
	h, err := handoff.New(handoff.WithLogger(log), handoff.WithReadyTimeout(cfg.readyTimeout))
	if err != nil {
		return nil, err
	}
	ucfg := update.Config{
		Source:   cfg.source,
		Keys:     []string{cfg.pub},
		StateDir: cfg.stateDir,
		Modules: []update.ModuleConfig{{
			Name:     module,
			Path:     filepath.Dir(exe),
			Strategy: update.Swap,
			// Adopts the running build when the state dir has no status yet.
			Installed: version,
		}},
	}
	maint := maintenance.NewState(maintenance.WithLogger(log),
		maintenance.WithDrainTimeout(cfg.drainTimeout), maintenance.WithRetryAfter(time.Second))
	opts := []update.Option{update.WithLogger(log)}
	if cfg.maintenance {
		opts = append(opts, update.WithMaintenance(module, maint))
	}
	eng, err := update.New(ucfg, opts...)
	if err != nil {
		return nil, err
	}
	return &server{cfg: cfg, exe: exe, args: args, log: log, h: h, eng: eng, maint: maint, failed: map[string]string{}}, nil
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, version+"\n")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 || d > 10*time.Second {
			http.Error(w, "d: want a Go duration up to 10s", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, version+"\n")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.eng.ModuleStatus(module)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		failed := make(map[string]string, len(s.failed))
		for v, why := range s.failed {
			failed[v] = why
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(status{Version: version, PID: os.Getpid(), Module: st, NotReady: failed})
	})
	if !s.cfg.maintenance {
		return mux
	}
	return s.maint.Middleware(mux, maintenance.WithHealthPaths("/healthz", "/status"))
}

// status is the body of GET /status.
type status struct {
	Version string               `json:"version"`
	PID     int                  `json:"pid"`
	Module  *update.ModuleStatus `json:"module"`
	// NotReady lists the versions this process installed that did not become ready,
	// with why; they were rolled back and are not installed again by this process.
	NotReady map[string]string `json:"not_ready,omitempty"`
}

// serve runs the server and the update loop until ctx ends or a new version serves.
func (s *server) serve(ctx context.Context) error {
	if res, err := s.eng.Recover(ctx); err != nil {
		s.log.Error("recovery at start-up", "err", err)
	} else {
		for _, r := range res {
			if r.Action != "none" {
				s.log.Warn("recovered an interrupted operation", "action", r.Action, "installed", r.Version, "detail", r.Detail)
			}
		}
	}
	ln, err := s.h.Listen(ctx, "tcp", s.cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	drainer := handoff.NewDrainer(srv)
	served := make(chan error, 1)
	go func() { served <- drainer.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "inherited", handoff.Inherited(), "maintenance_mode", s.cfg.maintenance)
	if err := s.h.Ready(); err != nil {
		s.log.Warn("the previous process will not see this one ready", "err", err)
	}

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	restart := make(chan struct{})
	looped := make(chan struct{})
	go func() { defer close(looped); s.loop(loopCtx, restart) }()

	var why string
	select {
	case <-ctx.Done():
		why = "signal"
	case <-s.h.Exit():
		why = "the new version serves"
	case <-restart:
		why = "restarting into the new version"
	case err := <-served:
		stopLoop()
		<-looped
		return err
	}
	s.log.Info("draining", "why", why)
	stopLoop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.drainTimeout)
	defer cancel()
	if err := drainer.Drain(sctx, ln); err != nil {
		s.log.Warn("in-flight requests cut at the drain timeout", "err", err)
	}
	<-looped
	select {
	case <-restart:
		// Without a handover (Windows) the new version starts after this one stopped
		// listening: a short gap.
		s.log.Info("restarting")
		if err := handoff.Restart(); !errors.Is(err, handoff.ErrRestarted) {
			return err
		}
	default:
	}
	s.log.Info("stopped")
	return nil
}

// loop checks at once, then every interval, until ctx ends or a new version took over.
func (s *server) loop(ctx context.Context, restart chan struct{}) {
	t := time.NewTicker(s.cfg.interval)
	defer t.Stop()
	for {
		if s.checkOnce(ctx, restart) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkOnce installs what is offered and starts it; it reports whether this process
// should now stop.
func (s *server) checkOnce(ctx context.Context, restart chan struct{}) bool {
	rep, err := s.eng.Check(ctx)
	if err != nil {
		s.log.Warn("check", "err", err)
		return false
	}
	i := slices.IndexFunc(rep.Modules, func(m update.ModuleCheck) bool { return m.Name == module })
	if i < 0 || rep.Modules[i].Status != "update" {
		return false
	}
	offered := rep.Modules[i].Version
	if st, err := s.eng.ModuleStatus(module); err == nil && st.FailedVersion == offered {
		return false // its install failed; the engine does not retry it on its own
	}
	s.mu.Lock()
	_, failedHere := s.failed[offered]
	s.mu.Unlock()
	if failedHere {
		return false
	}
	s.log.Info("update offered", "to", offered, "path", rep.Modules[i].Path)
	res, err := s.eng.Install(ctx, module, update.InstallOptions{})
	if errors.Is(err, update.ErrNoUpdate) {
		return false
	}
	if err != nil {
		s.log.Error("install failed", "err", err)
		return false
	}
	to := res.Installed[len(res.Installed)-1]
	s.log.Info("installed", "from", res.From, "to", to, "window", res.Window, "self_update", res.SelfUpdate)
	if !res.SelfUpdate {
		s.log.Warn("the module's folder does not hold this executable: nothing to restart", "exe", s.exe)
		return false
	}
	child, err := s.h.Upgrade(ctx)
	switch {
	case err == nil:
		s.log.Info("handed over to the new version", "to", to, "child_pid", child.PID, "ready_after", child.Ready)
		return true
	case errors.Is(err, handoff.ErrUnsupported):
		close(restart)
		return true
	}
	s.log.Error("the new version did not become ready: rolling back", "to", to, "err", err)
	s.mu.Lock()
	s.failed[to] = err.Error()
	s.mu.Unlock()
	s.rollback(ctx, fmt.Errorf("%s did not become ready: %w", to, err))
	return false
}

// rollback puts the running version back in the folder, recording why, so that the
// engine marks the new version as failed and does not install it again on its own.
func (s *server) rollback(ctx context.Context, why error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if st, err := s.eng.ModuleStatus(module); err == nil && st.Installed != nil && *st.Installed == version {
		return
	}
	res, err := s.eng.Rollback(ctx, module, update.RollbackTo(version), update.RollbackReason(why))
	if err != nil {
		s.log.Error("rollback failed: the folder does not hold the running version", "err", err)
		return
	}
	s.log.Info("rolled back", "from", res.From, "to", res.Installed, "window", res.Window)
}
