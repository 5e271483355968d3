// Command selfupdating-server is a small HTTP server that keeps itself up to date with
// upkeep and replaces its own executable without refusing a connection, through
// package update/selfupdate.
//
// It is module "selfupdating-server" of the repository given by --source: the folder
// holding its executable is the module's folder (swap strategy), so a pack of that
// module holds the executable "selfupdating-server" (".exe" on Windows) at its root.
// Every --check-interval it checks; after installing a new version it starts it with
// the same arguments, hands it the listening socket, and once the new process says it
// serves, finishes its in-flight requests and exits. A new version that does not
// become ready is killed, the swap is rolled back, and the old process keeps serving
// and does not install that version again on its own.
//
// By default clients never see a 503. With --maintenance they get 503 with
// Retry-After while the engine swaps the folder, and then the restart goes through the
// same handover.
//
//	GET /version   the version, set at build time with -ldflags "-X main.version=V"
//	GET /slow?d=D  answers after D (a Go duration, at most 10s): a long request
//	GET /status    JSON: version, pid, the module's status
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
	"syscall"
	"time"

	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/maintenance"
	"github.com/upkeep-go/upkeep/update/selfupdate"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.0".
var version = "0.0.0"

// module is the name of this program's module in the repository.
const module = "selfupdating-server"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
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
	fs.DurationVar(&c.readyTimeout, "ready-timeout", selfupdate.DefaultReadyTimeout, "how long a new version has to start serving")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", selfupdate.DefaultDrainTimeout, "how long in-flight requests may take to finish")
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
func run(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "selfupdating-server:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("version", version, "pid", os.Getpid())
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// serve is the whole self-updating server.
func serve(ctx context.Context, cfg *config, log *slog.Logger) error {
	// A program built for one publisher embeds the key instead: //go:embed publisher.pub
	keys, err := limited.ReadFile(cfg.pub, signature.MaxKeyFileSize)
	if err != nil {
		return err
	}
	u, err := selfupdate.New(selfupdate.Config{
		Module:        module,
		Version:       version,
		Source:        cfg.source,
		Keys:          keys,
		StateDir:      cfg.stateDir,
		CheckInterval: cfg.interval,
		ReadyTimeout:  cfg.readyTimeout,
		DrainTimeout:  cfg.drainTimeout,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	ln, err := u.Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		return err
	}
	var h http.Handler = handler(u)
	if cfg.maintenance {
		h = u.Maintenance().Middleware(h, maintenance.WithHealthPaths("/healthz", "/status"))
	}
	log.Info("listening", "addr", ln.Addr().String(), "maintenance_mode", cfg.maintenance)
	return u.Serve(ctx, &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	})
}

// status is the body of GET /status.
type status struct {
	Version string               `json:"version"`
	PID     int                  `json:"pid"`
	Module  *update.ModuleStatus `json:"module"`
}

func handler(u *selfupdate.Updater) http.Handler {
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
		st, err := u.Engine().ModuleStatus(r.Context(), module)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(status{Version: version, PID: os.Getpid(), Module: st})
	})
	return mux
}
