package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/internal/pageguard"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/agent/service"
	"github.com/upkeep-go/upkeep/update/dbscript"
	"github.com/upkeep-go/upkeep/update/dbscript/dbagent"
	"github.com/upkeep-go/upkeep/update/fleet"
	"github.com/upkeep-go/upkeep/update/portal"
)

func init() {
	register(&command{name: "agent", summary: "run the agent: scheduled checks, background downloads, automatic installs, the local portal", run: runAgent})
	register(&command{name: "service", summary: "install, remove or show the agent as a system service (systemd, Windows)", run: runService})
}

// defaultAgentAddr is where the portal listens unless told otherwise: loopback only.
const defaultAgentAddr = "127.0.0.1:8080"

func runAgent(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("agent", "upkeep agent --config FILE [--addr 127.0.0.1:8080] [--token-file FILE] [--host NAME]...")
	config := fs.String("config", "", "agent configuration `file`")
	addr := fs.String("addr", defaultAgentAddr, "`address` the portal listens on")
	tokenFile := fs.String("token-file", "", "`file` holding a secret that every request but /healthz must carry (Authorization: Bearer, or the portal's login); required when --addr is not loopback")
	var hosts multiFlag
	fs.Var(&hosts, "host", "Host `name` the portal (and a fleet master's pages) answer besides the loopback ones and --addr's own host: NAME:PORT, or NAME for any port (repeatable; the name a browser reaches a non-loopback --addr by)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if *config == "" {
		return usagef("--config is required")
	}
	if err := openAddrNeedsToken(*addr, *tokenFile); err != nil {
		return err
	}
	if err := validHosts(hosts); err != nil {
		return err
	}
	cfg, err := agent.LoadConfig(*config)
	if err != nil {
		return err
	}
	var fc *fleet.Config
	if len(cfg.Fleet) > 0 {
		if fc, err = fleet.ParseConfig(cfg.Fleet, filepath.Dir(*config)); err != nil {
			return fleetConfigErr(cfg, fmt.Errorf("%s: %w", *config, err))
		}
	}
	var secret string
	if *tokenFile != "" {
		b, err := limited.ReadFile(*tokenFile, 64<<10)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if secret = strings.TrimSpace(string(b)); len(secret) < 16 {
			return fmt.Errorf("--token-file %s: the secret is shorter than 16 characters", *tokenFile)
		}
	}
	log := slog.New(slog.NewTextHandler(cl.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	eng, err := cfg.NewEngine(update.WithLogger(log), update.WithApplier(update.KindDatabase, dbagent.Appliers(cfg.StateDir)))
	if err != nil {
		return err
	}
	run := func(ctx context.Context) error {
		if fc == nil {
			return serveAgent(ctx, cl, cfg, eng, *addr, hosts, secret, log)
		}
		// The fleet role runs beside the agent, over the same engine.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		fleetDone := make(chan error, 1)
		go func() { fleetDone <- runFleetSide(ctx, cl, cfg, fc, eng, hosts, log) }()
		err := serveAgent(ctx, cl, cfg, eng, *addr, hosts, secret, log)
		cancel()
		if ferr := <-fleetDone; err == nil && ferr != nil && !errors.Is(ferr, context.Canceled) {
			err = fmt.Errorf("fleet %s: %w", fc.Role, ferr)
		}
		return err
	}
	if service.IsWindowsService() {
		return service.RunWindows(service.DefaultName, run)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx)
}

// openAddrNeedsToken refuses, as a usage error, a portal address other than
// loopback without a token file: whoever reaches that address could install and roll
// back modules, and a Host check is no barrier to a client that is not a browser.
func openAddrNeedsToken(addr, tokenFile string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--addr %s: %v", addr, err)
	}
	if tokenFile != "" || isLoopback(host) {
		return nil
	}
	return usagef("--addr %s: not a loopback address, so anyone who reaches it could install and roll back modules: "+
		"give --token-file FILE (a secret every request but /healthz must carry), or listen on 127.0.0.1", addr)
}

// validHosts refuses, as a usage error, a --host value that is not a host name.
func validHosts(hosts []string) error {
	for _, h := range hosts {
		if _, err := pageguard.New(pageguard.Options{Hosts: []string{h}}); err != nil {
			return usagef("--host %q: not a host name (NAME:PORT, or NAME)", h)
		}
	}
	return nil
}

// isLoopback reports whether host names this machine's loopback only: localhost, or
// an address in 127.0.0.0/8 or ::1. An empty host, 0.0.0.0 or :: listens everywhere.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveAgent runs the agent and its portal until ctx is done, then stops both: the
// running operations end (an interrupted install is undone by the engine) and the
// server drains.
func serveAgent(ctx context.Context, cl *cli, cfg *agent.Config, eng *update.Engine, addr string, hosts []string, secret string, log *slog.Logger) error {
	a, err := agent.New(cfg, eng, agent.WithLogger(log), agent.WithDatabase(dbagent.Opener(eng, dbscript.WithLogger(log))))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	opts := []portal.Option{portal.WithAddr(ln.Addr().String()), portal.WithLogger(log)}
	if len(hosts) > 0 {
		opts = append(opts, portal.WithHosts(hosts...))
	}
	if secret != "" {
		opts = append(opts, portal.WithBearer(secret))
	}
	p, err := portal.New(a, opts...)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(cl.stderr, "listening on http://%s/\n", ln.Addr())
	n := service.NotifierFromEnv()
	n.Ready()
	wctx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	go n.RunWatchdog(wctx)

	runErr := a.Run(ctx)
	n.Stopping()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// The event streams end with the agent's subscriptions; Shutdown waits for the rest.
	serr := srv.Shutdown(sctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) && err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	return serr
}

const serviceUsage = `usage: upkeep service SUBCOMMAND [flags]

subcommands:
  install --config FILE [--name upkeep] [--addr ADDR] [--token-file FILE] [--host NAME]... [--print]
        install the agent as a systemd unit or a Windows service; --print writes the
        definition to stdout and installs nothing
  uninstall [--name upkeep]
  status [--name upkeep]
`

func runService(ctx context.Context, cl *cli, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: install, uninstall or status")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(cl.stdout, serviceUsage)
		return errHelpShown
	}
	sub, args := args[0], args[1:]
	fs := cl.newFlags("service "+sub, "upkeep service install --config FILE [--name upkeep] [--addr …] [--token-file FILE] [--print]\n       upkeep service uninstall [--name upkeep]\n       upkeep service status [--name upkeep]")
	name := fs.String("name", service.DefaultName, "service `name`")
	var config, addr, tokenFile *string
	var print *bool
	var hosts multiFlag
	if sub == "install" {
		config = fs.String("config", "", "agent configuration `file`")
		addr = fs.String("addr", defaultAgentAddr, "`address` the portal listens on")
		tokenFile = fs.String("token-file", "", "`file` holding the portal's secret")
		fs.Var(&hosts, "host", "Host `name` the portal also answers (repeatable), as for agent")
		print = fs.Bool("print", false, "print the service definition and install nothing")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no positional argument"); err != nil {
		return err
	}
	if err := service.ValidName(*name); err != nil {
		return usagef("--name: %v", err)
	}
	mgr, err := service.Native()
	if err != nil {
		return err
	}
	switch sub {
	case "install":
		if *config == "" {
			return usagef("--config is required")
		}
		if err := openAddrNeedsToken(*addr, *tokenFile); err != nil {
			return err
		}
		if err := validHosts(hosts); err != nil {
			return err
		}
		abs, err := filepath.Abs(*config)
		if err != nil {
			return err
		}
		if _, err := agent.LoadConfig(abs); err != nil {
			return err
		}
		d := service.Definition{Name: *name, Args: []string{"agent", "--config", abs, "--addr", *addr}}
		for _, h := range hosts {
			d.Args = append(d.Args, "--host", h)
		}
		if *tokenFile != "" {
			tf, err := filepath.Abs(*tokenFile)
			if err != nil {
				return err
			}
			d.Args = append(d.Args, "--token-file", tf)
		}
		if *print {
			s, err := mgr.Render(d)
			if err != nil {
				return err
			}
			fmt.Fprint(cl.stdout, s)
			return nil
		}
		if err := mgr.Install(ctx, d); err != nil {
			return err
		}
		fmt.Fprintf(cl.stdout, "installed service %s\n", *name)
		return nil
	case "uninstall":
		if err := mgr.Uninstall(ctx, *name); err != nil {
			return err
		}
		fmt.Fprintf(cl.stdout, "removed service %s\n", *name)
		return nil
	case "status":
		s, err := mgr.Status(ctx, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(cl.stdout, s)
		return nil
	}
	return usagef("unknown subcommand %q: want install, uninstall or status", sub)
}
