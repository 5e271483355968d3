package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/internal/seam"
	"github.com/upkeep-go/upkeep/update/source"
)

// SlaveOptions are the optional parts of a Slave. Zero values are the defaults.
type SlaveOptions struct {
	// Keyring verifies packs before they are staged. Default: the engine
	// configuration's keys and threshold (the engine verifies again when it installs).
	Keyring *signature.Keyring
	// Logger receives what the slave does. Default: discard.
	Logger *slog.Logger
	// Client talks to the master. Default: HTTPClient(cfg.Master, cfg.MasterCAFile).
	Client *http.Client
	// MirrorClient fetches packs from a mirror URL. Default: a client with the
	// system's roots.
	MirrorClient *http.Client
	// OnListen is called by a push slave's Run with its address once it listens.
	OnListen func(addr string)
}

// Slave is a fleet's slave: it polls its master (or is woken by it, in push mode),
// stages and installs through its engine what the master asks, and reports.
type Slave struct {
	cfg    *Config
	eng    *update.Engine
	kr     *signature.Keyring
	log    *slog.Logger
	client *http.Client
	mirror *http.Client
	opts   SlaveOptions
	dir    string // state_dir/fleet
	wake   chan struct{}
	url    string // a push slave's own URL, once it listens

	mu     sync.Mutex
	state  slaveState
	outbox []Event
}

// slaveState is what a slave keeps in its state dir.
type slaveState struct {
	Master string                `json:"master"`
	Name   string                `json:"name"`
	Secret string                `json:"secret"`
	Done   map[string]doneRecord `json:"done"` // operation → its last event
	// Installing is the apply under way, written before the engine installs: a
	// slave killed meanwhile finds it at its next start (see recoverInstall).
	Installing *Event `json:"installing,omitempty"`
}

type doneRecord struct {
	Event Event     `json:"event"`
	At    time.Time `json:"at"`
}

// maxDone bounds the operations a slave remembers having finished.
const maxDone = 1000

// NewSlave returns the slave of cfg (role slave) running beside eng.
func NewSlave(cfg *Config, eng *update.Engine, opts SlaveOptions) (*Slave, error) {
	if cfg.Role != RoleSlave {
		return nil, cfgErr("role", "%q: NewSlave needs \"slave\"", cfg.Role)
	}
	s := &Slave{cfg: cfg, eng: eng, kr: opts.Keyring, log: opts.Logger, client: opts.Client, mirror: opts.MirrorClient, opts: opts,
		dir: filepath.Join(eng.Config().StateDir, "fleet"), wake: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.kr == nil {
		ec := eng.Config()
		switch {
		case len(ec.RootKeys) > 0:
			// The signing keys come from the repository's keys.json: the engine's
			// current keyring is asked for at each verification (trustedKeyring).
		case len(ec.Keys) == 0:
			return nil, &ConfigError{Field: "keys", Err: errors.New("a fleet slave verifies packs with the configured keys (or root_keys): none are configured")}
		default:
			kr, err := signature.LoadKeyring(ec.Keys, signature.WithThreshold(ec.Threshold))
			if err != nil {
				return nil, &ConfigError{Field: "keys", Err: err}
			}
			s.kr = kr
		}
	}
	if s.client == nil {
		c, err := HTTPClient(cfg.Master, cfg.MasterCAFile)
		if err != nil {
			return nil, err
		}
		s.client = c
	}
	if s.mirror == nil {
		s.mirror = &http.Client{}
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	b, err := limited.ReadFile(filepath.Join(s.dir, "slave.json"), 16<<20)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s.state); err != nil {
			return nil, fmt.Errorf("fleet: %s: %w", filepath.Join(s.dir, "slave.json"), err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if s.state.Master != cfg.Master || s.state.Name != cfg.Name {
		s.state = slaveState{Master: cfg.Master, Name: cfg.Name}
	}
	if s.state.Done == nil {
		s.state.Done = map[string]doneRecord{}
	}
	return s, nil
}

func (s *Slave) save() error {
	s.mu.Lock()
	b, err := json.Marshal(s.state)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.dir, "slave.json"), b, 0o600)
}

// errUnauthorized is the master refusing the slave's secret: enrol again.
var errUnauthorized = errors.New("fleet: the master refused this server's secret")

// Run enrols if needed, then takes work from the master until ctx ends. A push slave
// also serves its listen address, where the master wakes it.
func (s *Slave) Run(ctx context.Context) error {
	if s.cfg.Mode == ModePush {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("fleet: listen %s: %w", s.cfg.Listen, err)
		}
		s.url = "http://" + ln.Addr().String()
		mux := http.NewServeMux()
		mux.HandleFunc("POST /fleet/v1/wake", func(w http.ResponseWriter, _ *http.Request) {
			select {
			case s.wake <- struct{}{}:
			default:
			}
			w.WriteHeader(http.StatusNoContent)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		if s.opts.OnListen != nil {
			s.opts.OnListen(ln.Addr().String())
		}
	}
	if err := s.recoverInstall(ctx); err != nil {
		s.log.Error("fleet: recovering an interrupted install", "err", err)
	}
	interval := time.Duration(s.cfg.PollInterval)
	backoff := time.Second
	for ctx.Err() == nil {
		worked, err := s.round(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			s.log.Warn("fleet poll failed", "master", s.cfg.Master, "err", err)
			if errors.Is(err, errUnauthorized) {
				s.mu.Lock()
				s.state.Secret = ""
				s.mu.Unlock()
			}
			if !sleep(ctx, jitter(min(backoff, interval))) {
				break
			}
			backoff = min(backoff*2, interval)
			continue
		}
		backoff = time.Second
		if s.cfg.Mode == ModePush && !worked {
			select {
			case <-ctx.Done():
			case <-s.wake:
			case <-time.After(jitter(interval)):
			}
		}
	}
	return nil
}

func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// round enrols if needed, sends pending events, polls once and does the work
// received; it reports whether there was work (then the versions changed, and the next
// poll tells the master at once).
func (s *Slave) round(ctx context.Context) (bool, error) {
	s.mu.Lock()
	secret := s.state.Secret
	s.mu.Unlock()
	if secret == "" {
		if err := s.enrol(ctx); err != nil {
			return false, err
		}
	}
	if err := s.flush(ctx); err != nil {
		return false, err
	}
	wait := time.Duration(0)
	if s.cfg.Mode == ModeMailbox {
		wait = min(time.Duration(s.cfg.PollInterval), MaxLongPoll)
	}
	var resp pollResponse
	if err := s.call(ctx, "/fleet/v1/poll?wait="+url.QueryEscape(wait.String()), pollRequest{Versions: versionsJSON(s.versions(ctx))}, &resp); err != nil {
		return false, err
	}
	for _, t := range resp.Tasks {
		s.do(ctx, t)
		if err := s.flush(ctx); err != nil {
			return true, err
		}
	}
	return len(resp.Tasks) > 0, nil
}

func (s *Slave) versions(ctx context.Context) map[string]string {
	out := map[string]string{}
	sts, err := s.eng.Status(ctx)
	if err != nil {
		s.log.Warn("fleet: engine status", "err", err)
		return out
	}
	for _, st := range sts {
		v := ""
		if st.Installed != nil {
			v = *st.Installed
		}
		out[st.Name] = v
	}
	return out
}

// versionsJSON is a poll's versions: JSON writes a map's keys in order, so the same
// versions are the same bytes (the master then decodes nothing).
func versionsJSON(v map[string]string) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (s *Slave) enrol(ctx context.Context) error {
	tok, err := ReadToken(s.cfg.EnrolTokenFile)
	if err != nil {
		return err
	}
	req := enrolRequest{Name: s.cfg.Name, Mode: s.cfg.Mode, URL: s.url, Interval: s.cfg.PollInterval, Token: tok, Versions: s.versions(ctx)}
	b, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint("/fleet/v1/enrol"), bytes.NewReader(b))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.client.Do(hr)
	if err != nil {
		return fmt.Errorf("fleet: enrol at %s: %w", s.cfg.Master, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fleet: enrol at %s: %w", s.cfg.Master, readAPIError(resp))
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&out); err != nil || out.Secret == "" {
		return fmt.Errorf("fleet: enrol at %s: no secret in the answer", s.cfg.Master)
	}
	s.mu.Lock()
	s.state.Secret = out.Secret
	s.mu.Unlock()
	s.log.Info("fleet: enrolled", "master", s.cfg.Master, "name", s.cfg.Name)
	return s.save()
}

func (s *Slave) endpoint(path string) string {
	u := s.cfg.Master
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u + path
}

func (s *Slave) authorize(r *http.Request) {
	s.mu.Lock()
	secret := s.state.Secret
	s.mu.Unlock()
	r.Header.Set("X-Upkeep-Server", s.cfg.Name)
	r.Header.Set("Authorization", "Bearer "+secret)
}

// call POSTs in as JSON to the master and decodes the answer into out (if not nil).
func (s *Slave) call(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint(path), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	s.authorize(req)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("fleet: master %s: %w", s.cfg.Master, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return errUnauthorized
	}
	if resp.StatusCode/100 != 2 {
		return readAPIError(resp)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out)
}

// report queues an event for the master; flush sends the queue.
func (s *Slave) report(ev Event) {
	ev.Reason, ev.Output = bound(ev.Reason), bound(ev.Output)
	s.mu.Lock()
	s.outbox = append(s.outbox, ev)
	s.mu.Unlock()
}

func (s *Slave) flush(ctx context.Context) error {
	s.mu.Lock()
	evs := s.outbox
	s.mu.Unlock()
	if len(evs) == 0 {
		return nil
	}
	if err := s.call(ctx, "/fleet/v1/events", eventsRequest{Events: evs}, nil); err != nil {
		return err
	}
	s.mu.Lock()
	s.outbox = s.outbox[len(evs):]
	s.mu.Unlock()
	return nil
}

// finish records the final event of an operation, so that a second delivery of the
// same work is answered with it instead of being done again.
func (s *Slave) finish(ev Event) {
	s.report(ev)
	s.mu.Lock()
	if s.state.Installing != nil && s.state.Installing.Op == ev.Op {
		s.state.Installing = nil
	}
	s.state.Done[ev.Op] = doneRecord{Event: ev, At: time.Now()}
	if len(s.state.Done) > maxDone {
		var oldest string
		for k, v := range s.state.Done {
			if oldest == "" || v.At.Before(s.state.Done[oldest].At) {
				oldest = k
			}
		}
		delete(s.state.Done, oldest)
	}
	s.mu.Unlock()
	if err := s.save(); err != nil {
		s.log.Error("fleet: saving state", "err", err)
	}
}

// do carries out one piece of work and queues its events.
func (s *Slave) do(ctx context.Context, t WireTask) {
	s.mu.Lock()
	done, ok := s.state.Done[t.Op]
	s.mu.Unlock()
	if ok {
		s.report(done.Event)
		return
	}
	u := t.Update
	base := Event{Op: t.Op, Module: u.Module, Version: u.Version}
	start := time.Now()
	ev := func(kind string) Event { e := base; e.Kind = kind; e.Duration = time.Since(start); return e }
	failed := func(code string, err error) {
		e := ev("failed")
		e.Code, e.Reason = code, err.Error()
		s.log.Warn("fleet work failed", "operation", t.Op, "kind", t.Kind, "update", u.Name, "code", code, "err", err)
		s.finish(e)
	}
	switch t.Kind {
	case KindPropagate:
		s.report(ev("started"))
		s.flush(ctx)
		if _, _, err := s.stage(ctx, t.Op, u); err != nil {
			failed(codeOf(err), err)
			return
		}
		s.report(ev("downloaded"))
		s.finish(ev("staged"))
	case KindApply:
		s.report(ev("installing"))
		s.flush(ctx)
		packFile, sigFile, err := s.stage(ctx, t.Op, u)
		if err != nil {
			failed(codeOf(err), err)
			return
		}
		mark := ev("installing")
		s.mu.Lock()
		s.state.Installing = &mark
		s.mu.Unlock()
		if err := s.save(); err != nil {
			failed("error", err)
			return
		}
		res, err := s.eng.Install(ctx, u.Module, update.InstallOptions{PackFile: packFile, SigFile: sigFile})
		if err != nil && !errors.Is(err, update.ErrNoUpdate) {
			if ctx.Err() != nil {
				return // stopped: the next start recovers and reports (recoverInstall)
			}
			failed(string(update.CodeOf(err)), err)
			return
		}
		e := ev("installed")
		if res != nil && len(res.Installed) > 0 {
			e.Version = res.Installed[len(res.Installed)-1]
		} else if st, serr := s.eng.ModuleStatus(ctx, u.Module); serr == nil && st.Installed != nil {
			e.Version = *st.Installed
		}
		s.finish(e)
	default:
		failed("bad_request", fmt.Errorf("fleet: work of kind %q unknown", t.Kind))
	}
}

// recoverInstall runs the engine's Recover when this slave stopped during an apply
// (killed, or the machine went down): the engine completes the install or restores the
// previous version, and the operation's final event says which: installed, or failed
// with CodeInterrupted. The work is then answered from Done, not done again.
func (s *Slave) recoverInstall(ctx context.Context) error {
	s.mu.Lock()
	mark := s.state.Installing
	s.mu.Unlock()
	if mark == nil {
		return nil
	}
	results, rerr := s.eng.Recover(ctx)
	action := update.RecoverNone
	for _, r := range results {
		if r.Module == mark.Module {
			action = r.Action
		}
	}
	now := ""
	if st, err := s.eng.ModuleStatus(ctx, mark.Module); err == nil && st.Installed != nil {
		now = *st.Installed
	}
	e := *mark
	e.Duration = 0
	if rerr == nil && now == mark.Version {
		e.Kind, e.Reason = "installed", fmt.Sprintf("this server stopped during the install; recovery at its restart: %s", action)
	} else {
		e.Kind, e.Code, e.Version = "failed", CodeInterrupted, now
		e.Reason = fmt.Sprintf("this server stopped during the install of %s; recovery at its restart: %s, %s runs %q", mark.Version, action, mark.Module, now)
		if rerr != nil {
			e.Reason += ": " + rerr.Error()
		}
	}
	s.log.Warn("fleet: an install was interrupted", "operation", mark.Op, "module", mark.Module, "recover", action, "version", now)
	s.finish(e)
	return rerr
}

// codedError carries a stable code.
type codedError struct {
	code string
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func codeOf(err error) string {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if c := update.CodeOf(err); c != "" {
		return string(c)
	}
	return "error"
}

func coded(code string, format string, args ...any) error {
	return &codedError{code: code, err: fmt.Errorf(format, args...)}
}

// stage has the engine download the update's pack from the master (or the mirror
// the master names), resuming what an earlier attempt left, and check its size,
// SHA-256, signature and binding with this server's keys, as it checks what its own
// source offers; it returns the verified pack and its signature file, which Install
// checks again. This server trusts the master for nothing but the bytes' location.
func (s *Slave) stage(ctx context.Context, op string, u Update) (packFile, sigFile string, err error) {
	if err := ValidateName(u.File); err != nil || strings.ContainsAny(u.File, " \t") || len(u.SHA256) != 64 || u.Size <= 0 {
		return "", "", coded(CodeBadPack, "fleet: update %q: bad file %q, size %d or sha256 %q", u.Name, u.File, u.Size, u.SHA256)
	}
	ec := s.eng.Config()
	if _, err := ec.Module(u.Module); err != nil {
		return "", "", coded(CodeUnknown, "fleet: update %q is for module %q, which this server does not run", u.Name, u.Module)
	}
	plat, err := manifest.Platform(u.Platform)
	if err != nil {
		return "", "", coded(CodeBadPack, "fleet: update %q: platform %q: %v", u.Name, u.Platform, err)
	}
	if mine, err := manifest.Platform(ec.Platform); err == nil && mine != plat {
		return "", "", coded(string(manifest.CodeNoPackForPlatform), "fleet: %s is for %s, this server is %s", u.File, plat, mine)
	}
	src, err := s.taskSource(op, u)
	if err != nil {
		return "", "", err
	}
	opts := []update.Option{update.WithSource(src), update.WithLogger(s.log)}
	if s.kr != nil {
		opts = append(opts, update.WithKeyring(s.kr))
	}
	stager, err := update.New(ec, opts...)
	if err != nil {
		return "", "", err
	}
	pk := manifest.Pack{Platform: u.Platform, File: u.File, Size: u.Size, SHA256: u.SHA256}
	rel := &manifest.Release{Module: u.Module, Version: u.Version, Packs: []manifest.Pack{pk}}
	if err := stager.Download(ctx, u.Module, &manifest.Selection{Status: manifest.StatusUpdate, Release: rel, Pack: &rel.Packs[0],
		Path: []manifest.Step{{Release: rel, Pack: &rel.Packs[0]}}}); err != nil {
		return "", "", err
	}
	packFile = seam.DownloadPath(stager, u.Module, u.Version, u.File)
	if _, err := os.Stat(packFile); err != nil {
		return "", "", fmt.Errorf("fleet: the engine staged %s but kept no pack at %s: %w", u.File, packFile, err)
	}
	sigFile = filepath.Join(s.dir, "staged", u.SHA256+".minisig")
	if err := os.MkdirAll(filepath.Dir(sigFile), 0o700); err != nil {
		return "", "", err
	}
	if err := atomicfile.WriteFile(sigFile, u.Sig, 0o600); err != nil {
		return "", "", err
	}
	s.log.Info("fleet: staged", "update", u.Name, "module", u.Module, "version", u.Version)
	return packFile, sigFile, nil
}

// taskSource is the engine's source for one task: the master's files of the
// operation, authenticated with this server's secret over the pinned client, with
// the pack's bytes from the mirror the master names, if any.
func (s *Slave) taskSource(op string, u Update) (source.Source, error) {
	s.mu.Lock()
	secret := s.state.Secret
	s.mu.Unlock()
	master, err := source.NewHTTP(s.endpoint("/fleet/v1/files/"+url.PathEscape(op)+"/"), source.WithHTTPClient(s.client),
		source.WithHeader("X-Upkeep-Server", s.cfg.Name), source.WithBearerToken(secret), source.WithLogger(s.log))
	if err != nil {
		return nil, err
	}
	if u.Mirror == "" {
		return master, nil
	}
	mu, err := url.Parse(u.Mirror)
	if err != nil || mu.Path == "" || strings.HasSuffix(mu.Path, "/") {
		return nil, coded(CodeBadPack, "fleet: update %q: mirror %q names no file", u.Name, u.Mirror)
	}
	name := path.Base(mu.Path)
	mu.Path, mu.RawPath = path.Dir(mu.Path)+"/", ""
	mirror, err := source.NewHTTP(mu.String(), source.WithHTTPClient(s.mirror), source.WithLogger(s.log))
	if err != nil {
		return nil, coded(CodeBadPack, "fleet: update %q: mirror: %v", u.Name, err)
	}
	return &mirroredSource{Source: master, file: u.File, mirror: mirror, name: name}, nil
}

// mirroredSource fetches one file, the pack, from a mirror under its name there, and
// every other one (its signature) from the master.
type mirroredSource struct {
	source.Source
	file   string
	mirror source.Source
	name   string
}

func (m *mirroredSource) Fetch(ctx context.Context, req source.Request) (*source.Response, error) {
	if req.Name == m.file {
		req.Name = m.name
		return m.mirror.Fetch(ctx, req)
	}
	return m.Source.Fetch(ctx, req)
}
