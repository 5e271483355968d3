package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/upkeep-go/upkeep/internal/pageguard"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/internal/seam"
	"github.com/upkeep-go/upkeep/update/trust"
)

// MaxPackSize is the default bound of an uploaded pack (MasterOptions.MaxPackSize).
const MaxPackSize = 4 << 30

// DefaultExpiry is how long an operation's work stays valid when the request names
// no expiry.
const DefaultExpiry = 24 * time.Hour

// MaxLongPoll bounds the wait of one mailbox poll.
const MaxLongPoll = 5 * time.Minute

// Bounds of the master's connections (Run): what a client that connects and then
// sends nothing, or one byte now and then, may hold.
const (
	// HeaderTimeout is the time a client has to send a request's headers.
	HeaderTimeout = 10 * time.Second
	// ReadTimeout is the time a client has to send a whole request, body included,
	// except for an admin's upload (bounded by MaxPackSize).
	ReadTimeout = 30 * time.Second
	// IdleTimeout closes a kept-alive connection with no request for that long.
	IdleTimeout = 2 * time.Minute
	// PollGrace is the time a long poll's answer has to be written, once its wait
	// (at most MaxLongPoll) ended or work arrived.
	PollGrace = 30 * time.Second
	// DefaultMaxConnsPerClient is MasterOptions.MaxConnsPerClient's default.
	DefaultMaxConnsPerClient = 256
)

// MasterOptions are the optional parts of a Master. Zero values are the defaults.
type MasterOptions struct {
	// PackDir is where accepted packs are kept. Required.
	PackDir string
	// Engine, if set, is the master's own engine: its versions are the master's row
	// in the servers list and count for convergence. Default: none.
	Engine *update.Engine
	// Logger receives what the master does. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// MaxPackSize bounds an upload. Default: MaxPackSize.
	MaxPackSize int64
	// Client calls push slaves. Default: a client with a 10 s timeout.
	Client *http.Client
	// OnListen is called by Run with the address once it listens. Default: none.
	OnListen func(addr string)
	// MaxConnsPerClient bounds the connections one client address holds open at
	// once; the ones beyond are closed as soon as they are accepted. Negative: no
	// bound (a benchmark simulating many hosts from one address). Default: the
	// configuration's max_conns_per_client, else DefaultMaxConnsPerClient.
	MaxConnsPerClient int
	// Hosts are the Host values ("name:port", or "name" for any port) that the
	// pages under PagesPath answer besides localhost, 127.0.0.1, [::1] and the host
	// of the listen address on the port they are served on; others get 421.
	// Default: none.
	Hosts []string
	// Lang is the language of the pages: "en", "fr", or "" for the browser's
	// Accept-Language (a person's switch on the pages wins). Default: "".
	Lang string
}

// Master is a fleet's master: an http.Handler serving the fleet API (slaves' and
// admins') over a Store. Build it with NewMaster; serve it with Run or any server.
type Master struct {
	cfg        *Config
	store      Store
	kr         *signature.Keyring
	opts       MasterOptions
	log        *slog.Logger
	now        func() time.Time
	enrolToken string
	adminToken string
	mux        http.Handler

	mu        sync.Mutex
	slaves    map[string]*slaveView // what this master holds of each slave (view.go)
	dirty     int                   // slaves whose contact is not written yet
	heldAll   int                   // long polls open
	syncing   bool                  // the sync loop runs
	syncedAt  time.Time             // when the last read of open work began
	secretsAt time.Time             // when the secrets' hashes were last read

	opMu sync.Mutex // serialises wave decisions

	advMu sync.Mutex
	adv   map[string]*advanceState // operation → its decisions under way

	cacheMu sync.Mutex
	ops     map[string]*Operation // operation headers (their fields that never change)
	updates map[string]*Update
}

// NewMaster returns the master of cfg (role master) over store, accepting updates
// that kr verifies; with kr nil, the keyring of opts.Engine at each upload
// (the keys it verifies packs with: the signing keys of keys.json when root_keys
// are configured). It reads the token files now.
func NewMaster(cfg *Config, store Store, kr *signature.Keyring, opts MasterOptions) (*Master, error) {
	if cfg.Role != RoleMaster {
		return nil, cfgErr("role", "%q: NewMaster needs \"master\"", cfg.Role)
	}
	if opts.PackDir == "" {
		return nil, errors.New("fleet: MasterOptions.PackDir is required")
	}
	if kr == nil && opts.Engine == nil {
		return nil, errors.New("fleet: NewMaster needs a keyring, or MasterOptions.Engine to ask for one")
	}
	if err := os.MkdirAll(opts.PackDir, 0o700); err != nil {
		return nil, fmt.Errorf("fleet: pack folder: %w", err)
	}
	m := &Master{cfg: cfg, store: store, kr: kr, opts: opts, log: opts.Logger, now: opts.Now, slaves: map[string]*slaveView{},
		adv: map[string]*advanceState{}, ops: map[string]*Operation{}, updates: map[string]*Update{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.opts.MaxPackSize <= 0 {
		m.opts.MaxPackSize = MaxPackSize
	}
	if m.opts.Client == nil {
		m.opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if m.opts.MaxConnsPerClient == 0 {
		m.opts.MaxConnsPerClient = cfg.MaxConnsPerClient
	}
	if m.opts.MaxConnsPerClient == 0 {
		m.opts.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	var err error
	if m.enrolToken, err = ReadToken(cfg.EnrolTokenFile); err != nil {
		return nil, &ConfigError{Field: "fleet.enrol_token_file", Err: err}
	}
	if m.adminToken, err = ReadToken(cfg.AdminTokenFile); err != nil {
		return nil, &ConfigError{Field: "fleet.admin_token_file", Err: err}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fleet/v1/enrol", m.handleEnrol)
	mux.HandleFunc("POST /fleet/v1/poll", m.slave(m.handlePoll))
	mux.HandleFunc("POST /fleet/v1/events", m.slave(m.handleEvents))
	mux.HandleFunc("GET /fleet/v1/files/{op}/{file}", m.slave(m.handleFile))
	mux.HandleFunc("PUT /fleet/v1/admin/updates", m.admin(m.handleAddUpdate))
	mux.HandleFunc("POST /fleet/v1/admin/operations", m.admin(m.handleCreateOp))
	mux.HandleFunc("GET /fleet/v1/admin/operations", m.admin(m.handleOps))
	mux.HandleFunc("GET /fleet/v1/admin/operations/{id}", m.admin(m.handleOp))
	mux.HandleFunc("GET /fleet/v1/admin/servers", m.admin(m.handleServers))
	mux.HandleFunc("POST /fleet/v1/admin/servers/{name}/rekey", m.admin(m.handleRekey))
	mux.HandleFunc("GET /fleet/v1/admin/converged", m.admin(m.handleConverged))
	mux.HandleFunc("GET /fleet/v1/admin/events", m.admin(m.handleEventsList))
	pg, err := newPages(m)
	if err != nil {
		return nil, err
	}
	mux.Handle(PagesPath, pg)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	m.mux = pageguard.Routes(mux) // an unknown route or method is a JSON error too
	return m, nil
}

// ServeHTTP serves the fleet API, and the pages under PagesPath.
func (m *Master) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	m.mux.ServeHTTP(w, r)
}

// Server returns a server of the master with its connection bounds: HeaderTimeout,
// ReadTimeout, IdleTimeout, 64 KiB of headers. Run serves through it, with the
// per-client cap (MasterOptions.MaxConnsPerClient) on its listener.
func (m *Master) Server() *http.Server {
	return &http.Server{Handler: m, ReadHeaderTimeout: HeaderTimeout, ReadTimeout: ReadTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
}

// Run listens on the configured address (TLS when the configuration names a
// certificate) and serves until ctx ends, then shuts down.
func (m *Master) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", m.cfg.Listen)
	if err != nil {
		return fmt.Errorf("fleet: listen %s: %w", m.cfg.Listen, err)
	}
	return m.Serve(ctx, ln)
}

// Serve serves on ln as Run does on the address it listens on: with the per-client
// cap (MasterOptions.MaxConnsPerClient) and, when the configuration names a
// certificate, TLS over it; until ctx ends, then shuts down. It closes ln.
func (m *Master) Serve(ctx context.Context, ln net.Listener) error {
	return m.serve(ctx, ln, m)
}

func (m *Master) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	// The cap goes under TLS: a refused client costs no handshake.
	if m.opts.MaxConnsPerClient > 0 {
		ln = &capListener{Listener: ln, max: m.opts.MaxConnsPerClient, open: map[string]int{}, log: m.log}
	}
	srv := m.Server()
	srv.Handler = h
	if m.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(m.cfg.TLSCertFile, m.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("fleet: tls_cert_file: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	if m.opts.OnListen != nil {
		m.opts.OnListen(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx) // long polls end with the shutdown deadline
	if err := m.flushContacts(sctx); err != nil {
		m.log.Warn("fleet: writing contacts", "err", err)
	}
	return nil
}

// apiError is a JSON error answer: {"error":…,"code":…}.
type apiError struct {
	Status int    `json:"-"`
	Code   string `json:"code,omitempty"`
	Msg    string `json:"error"`
}

func (e *apiError) Error() string { return e.Msg }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (m *Master) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, ErrNotFound):
		ae = &apiError{Status: http.StatusNotFound, Code: "not_found", Msg: err.Error()}
	case errors.Is(err, ErrExists):
		ae = &apiError{Status: http.StatusConflict, Code: "exists", Msg: err.Error()}
	default:
		m.log.Error("fleet request failed", "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "error", Msg: err.Error()}
	}
	pageguard.WriteError(w, ae.Status, ae.Code, ae.Msg)
}

func bearer(r *http.Request) string {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return v
}

func (m *Master) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !sameSecret(bearer(r), m.adminToken) {
			m.fail(w, r, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "fleet: admin token missing or wrong"})
			return
		}
		h(w, r)
	}
}

// slave authenticates a slave by its name and secret, against the hash of the
// master's view (read from the store once).
func (m *Master) slave(h func(w http.ResponseWriter, r *http.Request, name string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get("X-Upkeep-Server")
		ok, err := m.authenticate(r.Context(), name, bearer(r))
		if err != nil {
			m.fail(w, r, err)
			return
		}
		if !ok {
			m.fail(w, r, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "fleet: server unknown or secret wrong: enrol again"})
			return
		}
		h(w, r, name)
	}
}

func decode(r *http.Request, v any) error {
	lr := io.LimitReader(r.Body, 1<<20)
	if err := json.NewDecoder(lr).Decode(v); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: "fleet: request body: " + err.Error()}
	}
	// Read to the body's end: the server then watches the connection, and a client
	// that goes away during a long poll cancels it at once.
	io.Copy(io.Discard, lr)
	return nil
}

// enrolRequest is what a slave sends to enrol.
type enrolRequest struct {
	Name     string            `json:"name"`
	Mode     Mode              `json:"mode"`
	URL      string            `json:"url,omitempty"`
	Interval Duration          `json:"interval,omitzero"`
	Token    string            `json:"token"`
	Versions map[string]string `json:"versions"`
}

func (m *Master) handleEnrol(w http.ResponseWriter, r *http.Request) {
	// The token first: a client without it gets nothing read beyond its headers.
	if !sameSecret(bearer(r), m.enrolToken) {
		m.log.Warn("fleet enrolment refused: wrong or missing token", "remote", r.RemoteAddr)
		m.fail(w, r, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "fleet: enrolment token missing or wrong (it goes in the Authorization: Bearer header)"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxEnrolBody)
	var req enrolRequest
	if err := decode(r, &req); err != nil {
		m.fail(w, r, err)
		return
	}
	bodyRead(w)
	if err := ValidateName(req.Name); err != nil || req.Name == m.cfg.Name || req.Name == RoleMaster.String() {
		m.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf("fleet: server name %q refused", req.Name)})
		return
	}
	if req.Mode != ModePush && req.Mode != ModeMailbox {
		m.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf("fleet: mode %q: want push or mailbox", req.Mode)})
		return
	}
	if req.URL != "" {
		if err := checkPushURL(req.URL); err != nil {
			m.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: "fleet: push url: " + err.Error()})
			return
		}
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	s := hex.EncodeToString(secret)
	sum := sha256.Sum256([]byte(s))
	rec := ServerRecord{Name: req.Name, Role: RoleSlave, Mode: req.Mode, URL: req.URL, SecretHash: hex.EncodeToString(sum[:]),
		Interval: time.Duration(req.Interval), LastSeen: m.now(), Versions: req.Versions}
	if err := m.store.EnrolServer(r.Context(), rec); err != nil {
		if errors.Is(err, ErrNameTaken) {
			m.log.Warn("fleet enrolment refused: name taken", "name", req.Name, "remote", r.RemoteAddr)
			err = &apiError{Status: http.StatusConflict, Code: CodeNameTaken, Msg: fmt.Sprintf("fleet: server name %q is enrolled already: "+
				"the admin allows one new enrolment under it with `upkeep fleet rekey %s` (or the Re-key button of the servers page)", req.Name, req.Name)}
		}
		m.fail(w, r, err)
		return
	}
	m.enrolled(req.Name, rec.SecretHash)
	m.log.Info("fleet server enrolled", "name", req.Name, "mode", req.Mode)
	writeJSON(w, http.StatusOK, map[string]string{"secret": s})
}

// bodyRead lifts the read deadline of a request whose small body has been read: the
// store work that follows may wait its turn longer than ReadTimeout under load, and
// the deadline's expiry would cancel it.
func bodyRead(w http.ResponseWriter) {
	http.NewResponseController(w).SetReadDeadline(time.Time{})
}

// maxEnrolBody bounds an enrolment's body.
const maxEnrolBody = 64 << 10

// checkPushURL accepts the wake-up URL of a push slave: http or https, a host, no
// credentials, query or fragment.
func checkPushURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q: no host", s)
	case u.User != nil:
		return fmt.Errorf("%q: credentials in the URL are refused", s)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: no query or fragment allowed", s)
	}
	return nil
}

// Rekey lets the next enrolment under a slave's name replace its secret (and its
// push URL): the admin's consent, given once.
func (m *Master) Rekey(ctx context.Context, name string) error {
	if err := m.store.AllowRekey(ctx, name); err != nil {
		return err
	}
	m.log.Warn("fleet: the next enrolment under this name will replace its secret", "name", name)
	return nil
}

func (m *Master) handleRekey(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := m.Rekey(r.Context(), name); err != nil {
		m.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "rekey": true})
}

// WireTask is a piece of work as a slave receives it.
type WireTask struct {
	Op      string    `json:"operation"`
	Kind    Kind      `json:"kind"`
	Update  Update    `json:"update"`
	Expires time.Time `json:"expires"`
	State   State     `json:"state"`
}

type pollRequest struct {
	// Versions are the slave's module versions, kept as sent: a poll that reports
	// the same as the last costs no decoding.
	Versions json.RawMessage `json:"versions"`
}

type pollResponse struct {
	Tasks []WireTask `json:"tasks"`
}

// noWork is the answer of a poll without work.
var noWork = []byte("{\"tasks\":[]}\n")

func (m *Master) handlePoll(w http.ResponseWriter, r *http.Request, name string) {
	var req pollRequest
	if err := decode(r, &req); err != nil {
		m.fail(w, r, err)
		return
	}
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	wait = min(max(wait, 0), MaxLongPoll)
	// The long poll's deadline is its own: the wait, then PollGrace to write the
	// answer. The body is read: the server's ReadTimeout, whose expiry would cancel
	// the request, no longer applies (nor, when many polls are woken at once, to the
	// store work that follows).
	rc := http.NewResponseController(w)
	bodyRead(w)
	ctx := r.Context()
	if err := m.touch(name, req.Versions); err != nil {
		m.fail(w, r, err)
		return
	}
	m.hold(name)
	defer func() { m.unhold(name, r.Context().Err() != nil) }()
	var timer <-chan time.Time
	for {
		ch, query, gen := m.pollState(name, wait > 0)
		var tasks []WireTask
		if query {
			var err error
			tasks, err = m.openTasks(ctx, name)
			if err != nil {
				m.fail(w, r, err)
				return
			}
			if ctx.Err() != nil {
				return // gone: what the store said may be cut short
			}
			m.worked(name, gen, len(tasks) > 0)
		}
		if len(tasks) > 0 {
			rc.SetWriteDeadline(time.Now().Add(PollGrace))
			writeJSON(w, http.StatusOK, pollResponse{Tasks: tasks})
			return
		}
		if wait == 0 {
			writeNoWork(w, rc)
			return
		}
		if timer == nil {
			t := time.NewTimer(pollEnd(time.Now(), wait))
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-ch:
		case <-timer:
			// No query at the end of an idle wait: the slave polls again at once.
			writeNoWork(w, rc)
			return
		case <-ctx.Done():
			return
		}
	}
}

// pollAlign is what the end of a long poll of at least pollAlignFrom is rounded up
// to: the polls of many slaves then end, and come back, together, which the runtime
// and the kernel serve in batches rather than one wake-up each.
const (
	pollAlign     = time.Second
	pollAlignFrom = 5 * time.Second
)

// pollEnd returns how long a long poll of wait, starting at now, waits.
func pollEnd(now time.Time, wait time.Duration) time.Duration {
	if wait < pollAlignFrom {
		return wait
	}
	end := now.Add(wait)
	if r := end.Sub(end.Truncate(pollAlign)); r > 0 {
		end = end.Add(pollAlign - r)
	}
	return end.Sub(now)
}

func writeNoWork(w http.ResponseWriter, rc *http.ResponseController) {
	rc.SetWriteDeadline(time.Now().Add(PollGrace))
	w.Header().Set("Content-Type", "application/json")
	w.Write(noWork)
}

// contact says how recent a server's contact is, from its last contact against its
// poll interval, and what this master saw of its long polls.
func (m *Master) contact(r *ServerRecord, now time.Time) Contact {
	held, dropped := m.heldState(r.Name)
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	age := now.Sub(r.LastSeen)
	switch {
	case r.LastSeen.IsZero():
		return ContactLost
	case held:
		return ContactFresh
	case !dropped.IsZero() && !dropped.Before(r.LastSeen) && age < 3*interval+contactGrace:
		return ContactLate
	case age < interval+contactGrace:
		return ContactFresh
	case age < 3*interval+contactGrace:
		return ContactLate
	}
	return ContactLost
}

// contactGrace is what a contact's age may exceed the poll interval by and still
// count as on time.
const contactGrace = 15 * time.Second

// openTasks returns a server's work, recording delivery of what it had not received.
func (m *Master) openTasks(ctx context.Context, server string) ([]WireTask, error) {
	now := m.now()
	tasks, err := m.store.OpenTasks(ctx, server, now)
	if err != nil {
		return nil, err
	}
	out := []WireTask{}
	for _, t := range tasks {
		op, u, err := m.opUpdate(ctx, t.Op)
		if err != nil {
			return nil, err
		}
		if t.State == StatePending || t.State == StateUnreachable {
			if err := m.store.Append(ctx, Event{At: now, Op: t.Op, Server: server, Kind: "delivered", State: StateDelivered, Module: u.Module, Version: u.Version}); err != nil {
				return nil, err
			}
			t.State = StateDelivered
		}
		out = append(out, WireTask{Op: t.Op, Kind: op.Kind, Update: *u, Expires: op.Expires, State: t.State})
	}
	return out, nil
}

type eventsRequest struct {
	Events []Event `json:"events"`
}

// slaveEvents are the event kinds a slave may send, with the state each sets.
var slaveEvents = map[string]State{
	"started": "", "downloaded": "", "staged": StateStaged, "installing": StateInstalling,
	"installed": StateInstalled, "failed": StateFailed,
}

func (m *Master) handleEvents(w http.ResponseWriter, r *http.Request, name string) {
	var req eventsRequest
	if err := decode(r, &req); err != nil {
		m.fail(w, r, err)
		return
	}
	bodyRead(w)
	ops := map[string]bool{}
	for _, ev := range req.Events {
		state, ok := slaveEvents[ev.Kind]
		if !ok {
			m.fail(w, r, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf("fleet: event kind %q unknown", ev.Kind)})
			return
		}
		ev.ID, ev.Server, ev.State, ev.At = 0, name, state, m.now()
		if err := m.store.Append(r.Context(), ev); err != nil {
			if errors.Is(err, ErrNotFound) {
				m.log.Warn("fleet: event refused: not this server's task", "server", name, "operation", ev.Op, "kind", ev.Kind)
				err = &apiError{Status: http.StatusForbidden, Code: "forbidden", Msg: fmt.Sprintf("fleet: operation %q has no task for server %q", ev.Op, name)}
			}
			m.fail(w, r, err)
			return
		}
		if state != "" {
			ops[ev.Op] = true
		}
	}
	for op := range ops {
		if err := m.advanceShared(r.Context(), op); err != nil {
			m.fail(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Master) packPath(u *Update) string {
	return filepath.Join(m.opts.PackDir, u.SHA256+".zip")
}

// handleFile serves the files of one of the slave's tasks, as a source of its
// engine: the update's pack (with Range requests, to resume) and its signature
// (FILE.minisig). Another server's operation is not found.
func (m *Master) handleFile(w http.ResponseWriter, r *http.Request, server string) {
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	opID, name := r.PathValue("op"), r.PathValue("file")
	if _, err := m.store.Task(r.Context(), opID, server); err != nil {
		m.fail(w, r, err)
		return
	}
	_, u, err := m.opUpdate(r.Context(), opID)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	switch name {
	case u.File + ".minisig":
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, name, u.Added, bytes.NewReader(u.Sig))
	case u.File:
		f, err := os.Open(m.packPath(u))
		if errors.Is(err, os.ErrNotExist) {
			f, err = m.fetchPack(r.Context(), u)
		}
		if err != nil {
			m.fail(w, r, err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/zip")
		http.ServeContent(w, r, u.File, u.Added, f)
	default:
		m.fail(w, r, fmt.Errorf("fleet: operation %q has no file %q: %w", opID, name, ErrNotFound))
	}
}

// fetchPack copies into the pack folder a pack that another master sharing the store
// accepted, checks its SHA-256 and opens it.
func (m *Master) fetchPack(ctx context.Context, u *Update) (*os.File, error) {
	ps, ok := m.store.(PackStore)
	if !ok {
		return nil, fmt.Errorf("fleet: pack of %q: %w", u.Name, ErrNotFound)
	}
	tmp, err := os.CreateTemp(m.opts.PackDir, ".fetch-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	h := sha256.New()
	if err := ps.CopyPack(ctx, u.SHA256, io.MultiWriter(tmp, h)); err != nil {
		if errors.Is(err, errNoPackStore) {
			err = fmt.Errorf("fleet: pack of %q: %w", u.Name, ErrNotFound)
		}
		return nil, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != u.SHA256 {
		return nil, fmt.Errorf("fleet: pack of %q from the store: sha256 %s, want %s", u.Name, got, u.SHA256)
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), m.packPath(u)); err != nil {
		return nil, err
	}
	return os.Open(m.packPath(u))
}

// notSecure is the refusal of a pack the master's keyring does not verify.
func notSecure(format string, args ...any) error {
	return &apiError{Status: http.StatusUnprocessableEntity, Code: CodeBadSignature, Msg: "package not secure: " + fmt.Sprintf(format, args...)}
}

func (m *Master) handleAddUpdate(w http.ResponseWriter, r *http.Request) {
	// An admin's upload may take longer than ReadTimeout; MaxPackSize bounds it.
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	u, err := m.addUpdate(r)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (m *Master) addUpdate(r *http.Request) (*Update, error) {
	q := r.URL.Query()
	name, err := CleanName(q.Get("name"))
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "bad_name", Msg: "fleet: update name: " + err.Error()}
	}
	file := q.Get("file")
	if err := ValidateName(file); err != nil || strings.ContainsAny(file, " \t") {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf("fleet: pack file name %q refused", file)}
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("X-Upkeep-Signature"))
	if err != nil || len(sig) == 0 {
		return nil, notSecure("%s: no signature", file)
	}
	if r.ContentLength > m.opts.MaxPackSize {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Msg: fmt.Sprintf("fleet: %s: %d bytes, more than the %d allowed", file, r.ContentLength, m.opts.MaxPackSize)}
	}
	kr := m.kr
	if kr == nil {
		if kr, err = seam.TrustedKeyring(r.Context(), m.opts.Engine); err != nil {
			return nil, notSecure("no trusted signing keys yet: %v", err)
		}
	}
	// update/trust decides: signed by enough distinct trusted keys, bound to this
	// file, a module, a version and a valid platform.
	c, err := trust.NewPackCheck(trust.Pinned(kr), trust.Pack{Binding: signature.Binding{File: file}, Unlisted: true, MaxSize: m.opts.MaxPackSize}, sig)
	if err != nil {
		return nil, notSecure("%v", err)
	}
	defer c.Close()
	tmp, err := os.CreateTemp(m.opts.PackDir, ".upload-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(io.MultiWriter(c, tmp), r.Body); err != nil {
		if errors.Is(err, trust.ErrBadPack) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Msg: fmt.Sprintf("fleet: %s: more than the %d bytes allowed", file, m.opts.MaxPackSize)}
		}
		return nil, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf("fleet: upload of %s: %v", file, err)}
	}
	acc, err := c.Accept()
	if err != nil {
		return nil, notSecure("%v", err)
	}
	b, n := acc.Binding, acc.Size
	mirror := q.Get("mirror")
	if mirror != "" && !strings.HasPrefix(mirror, "https://") && !strings.HasPrefix(mirror, "http://") {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf("fleet: mirror %q: want an http(s) URL", mirror)}
	}
	u := &Update{Name: name, Module: b.Module, Version: b.Version, Platform: b.Platform, File: file, Size: n,
		SHA256: acc.SHA256, Sig: sig, Mirror: mirror, Added: m.now().UTC()}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), m.packPath(u)); err != nil {
		return nil, err
	}
	tmp = nil
	if ps, ok := m.store.(PackStore); ok {
		// Masters sharing the store serve the pack from there.
		f, err := os.Open(m.packPath(u))
		if err != nil {
			return nil, err
		}
		err = ps.PutPack(r.Context(), u.SHA256, f)
		f.Close()
		if err != nil && !errors.Is(err, errNoPackStore) {
			return nil, err
		}
	}
	if err := m.store.PutUpdate(r.Context(), *u); err != nil {
		return nil, err
	}
	now := m.now()
	if err := m.store.CreateOperation(r.Context(), Operation{ID: newID(now), Kind: KindAddUpdate, Update: name, Started: now, Ended: now, Expires: now, MaxFailures: -1}, nil); err != nil {
		return nil, err
	}
	m.log.Info("fleet update added", "name", name, "module", b.Module, "version", b.Version, "platform", b.Platform)
	return u, nil
}

func newID(t time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// OperationRequest asks for a propagate or an apply.
type OperationRequest struct {
	Kind    Kind     `json:"kind"`
	Update  string   `json:"update"`
	Servers []string `json:"servers,omitempty"`
	All     bool     `json:"all,omitempty"`
	// Wave is the size of the first batch and of each one after it; 0: all at once.
	Wave int `json:"wave,omitempty"`
	// MaxFailures halts the operation once failures exceed this percentage of the
	// servers finished (0: the first failure halts); nil: never halt.
	MaxFailures *int `json:"max_failures,omitempty"`
	// Expires is how long the work stays valid; 0: DefaultExpiry.
	Expires Duration `json:"expires,omitzero"`
	// RequireStaged refuses an apply unless every selected server has staged the update.
	RequireStaged bool `json:"require_staged,omitempty"`
	// Force applies to slaves a version newer than the master's own (refused
	// otherwise with CodeMasterFirst: the master is updated first).
	Force bool `json:"force,omitempty"`
}

// SelfName is the name that selects the master itself in an operation's servers,
// whatever its configured name.
const SelfName = "master"

func (m *Master) handleCreateOp(w http.ResponseWriter, r *http.Request) {
	var req OperationRequest
	if err := decode(r, &req); err != nil {
		m.fail(w, r, err)
		return
	}
	rep, err := m.createOp(r.Context(), req)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, rep)
}

func badRequest(format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf(format, args...)}
}

func (m *Master) createOp(ctx context.Context, req OperationRequest) (*Report, error) {
	if req.Kind != KindPropagate && req.Kind != KindApply {
		return nil, badRequest("fleet: kind %q: want propagate or apply", req.Kind)
	}
	name, err := CleanName(req.Update)
	if err != nil {
		return nil, badRequest("fleet: update name: %v", err)
	}
	u, err := m.store.Update(ctx, name)
	if err != nil {
		return nil, err
	}
	if req.All == (len(req.Servers) > 0) {
		return nil, badRequest("fleet: give either servers or all")
	}
	if req.Wave < 0 || req.Kind == KindPropagate && (req.Wave > 0 || req.MaxFailures != nil) {
		return nil, badRequest("fleet: waves and max failures are for apply")
	}
	maxFail := -1
	if req.MaxFailures != nil {
		if *req.MaxFailures < 0 || *req.MaxFailures > 100 {
			return nil, badRequest("fleet: max failures %d: want a percentage from 0 to 100", *req.MaxFailures)
		}
		maxFail = *req.MaxFailures
	}
	known, err := m.store.Servers(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	self := false
	if req.All {
		for _, s := range known {
			if s.Role == RoleSlave {
				names = append(names, s.Name)
			}
		}
		if len(names) == 0 {
			return nil, badRequest("fleet: no slave is enrolled")
		}
	} else {
		seen := map[string]bool{}
		for _, n := range req.Servers {
			n = strings.TrimSpace(n)
			if n == SelfName || n == m.cfg.Name {
				if m.opts.Engine == nil {
					return nil, badRequest("fleet: this master runs no engine of its own: it cannot apply an update to itself")
				}
				self = true
				continue
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			if !slices.ContainsFunc(known, func(s ServerRecord) bool { return s.Name == n && s.Role == RoleSlave }) {
				return nil, &apiError{Status: http.StatusNotFound, Code: "not_found", Msg: fmt.Sprintf("fleet: server %q is not an enrolled slave", n)}
			}
			names = append(names, n)
		}
	}
	if self {
		if ec := m.opts.Engine.Config(); !runsModule(&ec, u.Module) {
			return nil, badRequest("fleet: the master runs no module %q", u.Module)
		}
	} else if req.Kind == KindApply && len(names) > 0 && !req.Force {
		if err := m.masterFirst(ctx, u); err != nil {
			return nil, err
		}
	}
	if req.RequireStaged && req.Kind == KindApply {
		var missing []string
		for _, n := range names {
			ok, err := m.staged(ctx, n, name)
			if err != nil {
				return nil, err
			}
			if !ok {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return nil, &apiError{Status: http.StatusConflict, Code: CodeNotStaged, Msg: fmt.Sprintf("fleet: %s has not staged %q: propagate first", strings.Join(missing, ", "), name)}
		}
	}
	now := m.now()
	exp := time.Duration(req.Expires)
	if exp <= 0 {
		exp = DefaultExpiry
	}
	op := Operation{ID: newID(now), Kind: req.Kind, Update: name, Started: now, Expires: now.Add(exp), Wave: req.Wave, MaxFailures: maxFail}
	var tasks []Task
	shift := 0
	if self {
		// The master goes first, alone: the slaves wait for it.
		tasks = append(tasks, Task{Server: m.cfg.Name, Seq: 0, Wave: 0, Released: true, State: StatePending})
		if len(names) > 0 && req.Kind == KindApply {
			shift = 1
		}
	}
	for i, n := range names {
		wave := 0
		if req.Wave > 0 {
			wave = i / req.Wave
		}
		wave += shift
		tasks = append(tasks, Task{Server: n, Seq: len(tasks), Wave: wave, Released: wave == 0, State: StatePending})
	}
	if err := m.store.CreateOperation(ctx, op, tasks); err != nil {
		return nil, err
	}
	m.log.Info("fleet operation", "id", op.ID, "kind", op.Kind, "update", name, "module", u.Module, "version", u.Version, "servers", len(names))
	m.wake(op.ID, tasks)
	return m.report(ctx, op.ID)
}

// masterFirst refuses an apply of a version newer than the one the master itself
// runs of the module (the seed's rule: the master is updated first). A master with
// no engine, or that does not run the module, has no say.
func (m *Master) masterFirst(ctx context.Context, u *Update) error {
	if m.opts.Engine == nil {
		return nil
	}
	if ec := m.opts.Engine.Config(); !runsModule(&ec, u.Module) {
		return nil
	}
	st, err := m.opts.Engine.ModuleStatus(ctx, u.Module)
	if err != nil {
		return err
	}
	mine := ""
	if st.Installed != nil {
		mine = *st.Installed
	}
	if mine != "" && !newer(u.Version, mine) {
		return nil
	}
	if mine == "" {
		mine = "nothing"
	}
	return &apiError{Status: http.StatusConflict, Code: CodeMasterFirst, Msg: fmt.Sprintf(
		"fleet: %s %s is newer than what the master runs (%s): the master is updated first; apply it to %q first, or force",
		u.Module, u.Version, mine, SelfName)}
}

func runsModule(c *update.Config, module string) bool {
	_, err := c.Module(module)
	return err == nil
}

// applySelf carries out the master's own task of an operation through its engine:
// a propagate has nothing to fetch (the pack is here, verified at its upload); an
// apply installs it, and when that fails, the slaves waiting for the master are
// cancelled.
func (m *Master) applySelf(id string) {
	ctx := context.Background()
	op, err := m.store.OperationHeader(ctx, id)
	if err == nil {
		var u *Update
		if u, err = m.store.Update(ctx, op.Update); err == nil {
			err = m.runSelf(ctx, op, u)
		}
	}
	if err != nil {
		m.log.Error("fleet: the master's own task", "operation", id, "err", err)
		return
	}
	if err := m.advance(ctx, id); err != nil {
		m.log.Error("fleet: the master's own task", "operation", id, "err", err)
	}
}

func (m *Master) runSelf(ctx context.Context, op *Operation, u *Update) error {
	name := m.cfg.Name
	base := Event{Op: op.ID, Server: name, Module: u.Module, Version: u.Version}
	ev := func(kind string, state State) Event {
		e := base
		e.At, e.Kind, e.State = m.now(), kind, state
		return e
	}
	if op.Kind == KindPropagate {
		return m.store.Append(ctx, ev("staged", StateStaged))
	}
	if err := m.store.Append(ctx, ev("installing", StateInstalling)); err != nil {
		return err
	}
	start := time.Now()
	sigFile := m.packPath(u) + ".minisig"
	err := os.WriteFile(sigFile, u.Sig, 0o600)
	if err == nil {
		if _, err = os.Stat(m.packPath(u)); errors.Is(err, os.ErrNotExist) {
			var f *os.File
			if f, err = m.fetchPack(ctx, u); err == nil {
				f.Close()
			}
		}
	}
	var res *update.InstallResult
	if err == nil {
		res, err = m.opts.Engine.Install(ctx, u.Module, update.InstallOptions{PackFile: m.packPath(u), SigFile: sigFile})
	}
	if err != nil && !errors.Is(err, update.ErrNoUpdate) {
		e := ev("failed", StateFailed)
		e.Code, e.Reason, e.Duration = string(update.CodeOf(err)), err.Error(), time.Since(start)
		if e.Code == "" {
			e.Code = "error"
		}
		if aerr := m.store.Append(ctx, e); aerr != nil {
			return aerr
		}
		_, tasks, terr := m.store.Operation(ctx, op.ID)
		if terr != nil {
			return terr
		}
		for _, t := range tasks {
			if t.Server != name && !final(op.Kind, t.State) {
				c := ev("cancelled", StateCancelled)
				c.Server, c.Code, c.Reason = t.Server, CodeMasterFirst, "the master's own install failed, and the master is updated first: "+err.Error()
				if err := m.store.Append(ctx, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	e := ev("installed", StateInstalled)
	e.Duration = time.Since(start)
	if res != nil && len(res.Installed) > 0 {
		e.Version = res.Installed[len(res.Installed)-1]
	}
	m.log.Info("fleet: the master installed its own update", "module", u.Module, "version", e.Version)
	return m.store.Append(ctx, e)
}

// staged reports whether a server's last propagate of an update reached staged.
func (m *Master) staged(ctx context.Context, server, update string) (bool, error) {
	ops, err := m.store.Operations(ctx, 1000)
	if err != nil {
		return false, err
	}
	for _, op := range ops {
		if op.Update != update || op.Kind == KindAddUpdate {
			continue
		}
		_, tasks, err := m.store.Operation(ctx, op.ID)
		if err != nil {
			return false, err
		}
		for _, t := range tasks {
			if t.Server == server && (t.State == StateStaged || op.Kind == KindApply && t.State == StateInstalled) {
				return true, nil
			}
		}
	}
	return false, nil
}

// wake tells the servers of released tasks that they have work: a long poll returns,
// a push slave is called.
func (m *Master) wake(op string, tasks []Task) {
	var released []string
	for _, t := range tasks {
		if t.Released && t.Server == m.cfg.Name && m.opts.Engine != nil {
			go m.applySelf(op)
			continue
		}
		if t.Released {
			m.notify(t.Server)
			released = append(released, t.Server)
		}
	}
	if len(released) > 0 {
		go m.pushAll(op, released)
	}
}

// pushAll calls the push slaves among servers, with one read of the servers list
// rather than one per server (mailbox slaves, however many, cost nothing here).
func (m *Master) pushAll(op string, servers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	recs, err := m.store.Servers(ctx)
	if err != nil {
		m.log.Warn("fleet push: servers", "err", err)
		return
	}
	want := make(map[string]bool, len(servers))
	for _, s := range servers {
		want[s] = true
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, r := range recs {
		if !want[r.Name] || r.Mode != ModePush || r.URL == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m.push(ctx, op, r)
		}()
	}
	wg.Wait()
}

// push calls a push slave's wake-up URL; a failure marks its task unreachable (the
// slave may still poll and take it).
func (m *Master) push(ctx context.Context, op string, rec ServerRecord) {
	server := rec.Name
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(rec.URL, "/")+"/fleet/v1/wake", nil)
	resp, err := m.opts.Client.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK {
			return
		}
		err = fmt.Errorf("%s answered %s", rec.URL, resp.Status)
	}
	m.log.Warn("fleet push failed", "server", server, "err", err)
	_, tasks, terr := m.store.Operation(ctx, op)
	if terr != nil {
		return
	}
	for _, t := range tasks {
		if t.Server == server && t.State == StatePending {
			m.store.Append(ctx, Event{At: m.now(), Op: op, Server: server, Kind: "unreachable", State: StateUnreachable, Code: CodeUnreachable, Reason: err.Error()})
		}
	}
}

// advance takes the decisions an operation's new states call for: halt (cancel the
// rest), release the next wave, or end the operation.
func (m *Master) advance(ctx context.Context, id string) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	op, err := m.store.OperationHeader(ctx, id)
	if err != nil || !op.Ended.IsZero() {
		return err
	}
	// The counts decide; the tasks themselves are read only when a decision is
	// taken, so that an event costs the same with 10 servers or 10,000.
	counts, err := m.store.Tally(ctx, id)
	if err != nil {
		return err
	}
	finished, failed, open := 0, 0, 0
	next := -1
	for _, c := range counts {
		switch {
		case c.State == StateInstalled || c.State == StateStaged && op.Kind == KindPropagate:
			finished += c.N
		case c.State == StateFailed:
			finished += c.N
			failed += c.N
		case c.State == StateCancelled:
		default:
			if c.Released {
				open += c.N
			} else if next < 0 || c.Wave < next {
				next = c.Wave
			}
		}
	}
	now := m.now()
	halt := op.Kind == KindApply && op.MaxFailures >= 0 && failed > 0 && failed*100 > op.MaxFailures*finished
	if open == 0 && next < 0 && !halt {
		return m.store.EndOperation(ctx, id, now)
	}
	if open > 0 && !halt {
		return nil
	}
	_, tasks, err := m.store.Operation(ctx, id)
	if err != nil {
		return err
	}
	if halt {
		for _, t := range tasks {
			if t.State == StatePending || t.State == StateUnreachable || !t.Released && !final(op.Kind, t.State) {
				reason := fmt.Sprintf("halted: %d of %d servers finished failed, more than %d%%", failed, finished, op.MaxFailures)
				if err := m.store.Append(ctx, Event{At: now, Op: id, Server: t.Server, Kind: "cancelled", State: StateCancelled, Code: CodeHalted, Reason: reason}); err != nil {
					return err
				}
			}
		}
		_, tasks, err = m.store.Operation(ctx, id)
		if err != nil {
			return err
		}
		next = -1
		open = 0
		for _, t := range tasks {
			if !final(op.Kind, t.State) {
				open++
			}
		}
	}
	if open == 0 && next >= 0 {
		if err := m.store.Release(ctx, id, next); err != nil {
			return err
		}
		var rel []Task
		for _, t := range tasks {
			if t.Wave == next {
				t.Released = true
				rel = append(rel, t)
			}
		}
		m.wake(id, rel)
		return nil
	}
	if open == 0 && next < 0 {
		return m.store.EndOperation(ctx, id, now)
	}
	return nil
}

// expire cancels what an expired operation left undone.
func (m *Master) expire(ctx context.Context, op *Operation, tasks []Task) error {
	if !op.Ended.IsZero() || op.Kind == KindAddUpdate || m.now().Before(op.Expires) {
		return nil
	}
	for _, t := range tasks {
		if !final(op.Kind, t.State) {
			if err := m.store.Append(ctx, Event{At: m.now(), Op: op.ID, Server: t.Server, Kind: "cancelled", State: StateCancelled, Code: CodeExpired, Reason: "expired at " + op.Expires.Format(time.RFC3339) + " before the server finished"}); err != nil {
				return err
			}
		}
	}
	return m.store.EndOperation(ctx, op.ID, m.now())
}

func (m *Master) report(ctx context.Context, id string) (*Report, error) {
	op, tasks, err := m.store.Operation(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := m.expire(ctx, op, tasks); err != nil {
		return nil, err
	}
	if op.Ended.IsZero() && op.Kind != KindAddUpdate && !slices.ContainsFunc(tasks, func(t Task) bool { return !final(op.Kind, t.State) }) {
		// Every server is done: the decision that ends the operation may be under way
		// (advance holds opMu), and a report must not show it done but not ended.
		if err := m.advance(ctx, id); err != nil {
			return nil, err
		}
	}
	if op.Ended.IsZero() {
		if op, tasks, err = m.store.Operation(ctx, id); err != nil {
			return nil, err
		}
	}
	rep := &Report{ID: op.ID, Kind: op.Kind, Update: op.Update, Started: op.Started, Servers: []ServerResult{}}
	if !op.Ended.IsZero() {
		e := op.Ended
		rep.Ended = &e
	}
	for _, t := range tasks {
		rep.Servers = append(rep.Servers, ServerResult{Name: t.Server, State: t.State, Code: t.Code, Reason: t.Reason, Version: t.Version})
	}
	return rep, nil
}

func (m *Master) handleOp(w http.ResponseWriter, r *http.Request) {
	rep, err := m.report(r.Context(), r.PathValue("id"))
	if err != nil {
		m.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (m *Master) handleOps(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	ops, err := m.store.Operations(r.Context(), limit)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	out := []*Report{}
	for _, op := range ops {
		rep, err := m.report(r.Context(), op.ID)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		out = append(out, rep)
	}
	writeJSON(w, http.StatusOK, map[string]any{"operations": out})
}

func (m *Master) handleEventsList(w http.ResponseWriter, r *http.Request) {
	evs, err := m.store.Events(r.Context(), r.URL.Query().Get("operation"))
	if err != nil {
		m.fail(w, r, err)
		return
	}
	if evs == nil {
		evs = []Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}

// Servers returns the servers list: the master itself, then the slaves by name.
func (m *Master) Servers(ctx context.Context) ([]ServerView, error) {
	// The contacts gathered in memory first: the list says what this master saw.
	if err := m.flushContacts(ctx); err != nil {
		m.log.Warn("fleet: writing contacts", "err", err)
	}
	recs, err := m.store.Servers(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now()
	self := ServerView{Name: m.cfg.Name, Role: RoleMaster, LastSeen: &now, Reachable: true, Contact: ContactFresh, Versions: map[string]string{}}
	if m.opts.Engine != nil {
		sts, err := m.opts.Engine.Status(ctx)
		if err != nil {
			return nil, err
		}
		for _, st := range sts {
			v := ""
			if st.Installed != nil {
				v = *st.Installed
			}
			self.Versions[st.Name] = v
		}
	}
	out := []ServerView{self}
	for _, r := range recs {
		v := ServerView{Name: r.Name, Role: r.Role, Mode: r.Mode, Versions: r.Versions}
		if v.Versions == nil {
			v.Versions = map[string]string{}
		}
		if !r.LastSeen.IsZero() {
			seen := r.LastSeen
			v.LastSeen = &seen
		}
		v.Contact = m.contact(&r, now)
		v.Reachable = v.Contact == ContactFresh
		out = append(out, v)
	}
	return out, nil
}

func (m *Master) handleServers(w http.ResponseWriter, r *http.Request) {
	s, err := m.Servers(r.Context())
	if err != nil {
		m.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": s})
}

// Converged says whether every server that runs module runs the newest version of it
// found in the fleet; with no version installed anywhere, it has not.
func (m *Master) Converged(ctx context.Context, module string) (*Convergence, error) {
	servers, err := m.Servers(ctx)
	if err != nil {
		return nil, err
	}
	return convergence(servers, module), nil
}

// convergence says, over a servers list, whether every server that runs module runs
// its newest version found there.
func convergence(servers []ServerView, module string) *Convergence {
	c := &Convergence{Module: module, Behind: []ServerVersion{}}
	var holders []ServerVersion
	for _, s := range servers {
		v, ok := s.Versions[module]
		if !ok {
			continue
		}
		holders = append(holders, ServerVersion{Name: s.Name, Version: v})
		if v != "" && (c.Newest == "" || newer(v, c.Newest)) {
			c.Newest = v
		}
	}
	for _, h := range holders {
		if h.Version != c.Newest || c.Newest == "" {
			c.Behind = append(c.Behind, h)
		}
	}
	// A module no server has installed yet has not converged on anything.
	c.Converged = c.Newest != "" && len(c.Behind) == 0
	return c
}

func newer(a, b string) bool {
	c, err := manifest.CompareVersions(a, b)
	if err != nil {
		return a > b
	}
	return c > 0
}

func (m *Master) handleConverged(w http.ResponseWriter, r *http.Request) {
	module := r.URL.Query().Get("module")
	if module == "" {
		m.fail(w, r, badRequest("fleet: module missing"))
		return
	}
	c, err := m.Converged(r.Context(), module)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
