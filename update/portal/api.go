package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/pageguard"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

func (p *Portal) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", p.servePage)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	m.HandleFunc("GET /login", p.serveLogin)
	m.HandleFunc("POST /login", p.postLogin)
	m.HandleFunc("POST /logout", p.postLogout)
	m.HandleFunc("GET /api/modules", p.getModules)
	m.HandleFunc("POST /api/modules/{name}/install", p.postInstall)
	m.HandleFunc("POST /api/modules/{name}/rollback", p.postRollback)
	m.HandleFunc("POST /api/modules/{name}/maintenance-off", p.postMaintenanceOff)
	m.HandleFunc("POST /api/modules/{name}/hold", p.postHold)
	m.HandleFunc("POST /api/modules/{name}/release", p.postHold)
	m.HandleFunc("POST /api/check", p.postCheck)
	m.HandleFunc("GET /api/modules/{name}/db", p.getDatabase)
	m.HandleFunc("GET /api/modules/{name}/db/scripts/{n}", p.getScript)
	m.HandleFunc("POST /api/modules/{name}/db/apply-next", p.postApplyNext)
	m.HandleFunc("POST /api/modules/{name}/db/mark-applied", p.postMarkApplied)
	m.HandleFunc("GET /api/operations", p.getOperations)
	m.HandleFunc("GET /api/operations/{id}", p.getOperation)
	m.HandleFunc("GET /api/events", p.serveEvents)
	m.HandleFunc("GET /api/settings", p.getSettings)
	m.HandleFunc("POST /api/settings", p.postSettings)
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// fail answers a backend error with the status and code its kind calls for: the
// engine's code when it has one.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, ""
	for _, k := range []struct {
		err    error
		status int
		code   string
	}{
		{update.ErrUnknownModule, http.StatusNotFound, "unknown_module"},
		{agent.ErrNoOperation, http.StatusNotFound, pageguard.CodeNotFound},
		{agent.ErrNoDatabase, http.StatusNotFound, "not_database"},
		{agent.ErrNoScript, http.StatusNotFound, pageguard.CodeNotFound},
		{update.ErrNoUpdate, http.StatusConflict, "no_update"},
		{update.ErrNoBackup, http.StatusConflict, "no_backup"},
		{update.ErrDowngrade, http.StatusConflict, "downgrade"},
		{update.ErrBusy, http.StatusConflict, string(update.CodeBusy)},
		{update.ErrFailedVersion, http.StatusConflict, "failed_version"},
		{update.ErrUnmanaged, http.StatusConflict, string(update.CodeUnmanaged)},
	} {
		if errors.Is(err, k.err) {
			status, code = k.status, k.code
			break
		}
	}
	if status == http.StatusInternalServerError && r.Context().Err() != nil {
		return // the client went away
	}
	var ue *update.Error
	if errors.As(err, &ue) && ue.Code != "" && (code == "" || ue.Code != update.CodeInternal) {
		code = string(ue.Code)
	}
	if status == http.StatusInternalServerError {
		p.log.Error("portal: backend", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	pageguard.WriteError(w, status, code, err.Error())
}

func (p *Portal) getModules(w http.ResponseWriter, r *http.Request) {
	mods, err := p.b.Modules(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if mods == nil {
		mods = []agent.ModuleView{}
	}
	writeJSON(w, http.StatusOK, struct {
		Modules []agent.ModuleView `json:"modules"`
	}{mods})
}

type started struct {
	Operation string `json:"operation"`
}

// readBody decodes a small JSON body into v; an empty body leaves v as it is unless
// required. It answers the request itself and returns false when the body is bad.
func readBody(w http.ResponseWriter, r *http.Request, v any, want string, required bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		pageguard.WriteError(w, http.StatusRequestEntityTooLarge, pageguard.CodeTooLarge, fmt.Sprintf("request body: more than %d bytes", MaxBody))
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if required {
			pageguard.WriteError(w, http.StatusBadRequest, pageguard.CodeBadRequest, "request body: empty (want "+want+")")
			return false
		}
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		pageguard.WriteError(w, http.StatusBadRequest, pageguard.CodeBadRequest, "request body: "+err.Error()+" (want "+want+")")
		return false
	}
	return true
}

func (p *Portal) postInstall(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Version string `json:"version"`
	}
	if !readBody(w, r, &req, `{"version":"…"} or nothing`, false) {
		return
	}
	id, err := p.b.Install(r.Context(), r.PathValue("name"), req.Version)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, started{id})
}

func (p *Portal) postRollback(w http.ResponseWriter, r *http.Request) {
	id, err := p.b.Rollback(r.Context(), r.PathValue("name"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, started{id})
}

func (p *Portal) postCheck(w http.ResponseWriter, r *http.Request) {
	id, err := p.b.Check(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, started{id})
}

func (p *Portal) getOperations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := DefaultOperations
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxOperations {
			pageguard.WriteError(w, http.StatusBadRequest, pageguard.CodeBadRequest, fmt.Sprintf("query limit=%q: want a number from 1 to %d", s, MaxOperations))
			return
		}
		limit = n
	}
	ops, err := p.b.Operations(r.Context(), q.Get("module"), limit)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if ops == nil {
		ops = []agent.Operation{}
	}
	writeJSON(w, http.StatusOK, struct {
		Operations []agent.Operation `json:"operations"`
	}{ops})
}

func (p *Portal) getOperation(w http.ResponseWriter, r *http.Request) {
	op, err := p.b.Operation(r.Context(), r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, op)
}

// serveEvents streams progress and ended operations. It subscribes before it reads
// the modules, so that nothing that happens in between is lost, then sends the
// progress of every running operation: a page that reconnects after a cut stream
// shows where each operation is now, never a stale "in progress".
func (p *Portal) serveEvents(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	rc := http.NewResponseController(w)
	// A server's WriteTimeout would cut the stream: lift it for this response.
	_ = rc.SetWriteDeadline(time.Time{})
	events := p.b.Subscribe(ctx)
	mods, err := p.b.Modules(ctx)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "retry: 2000\n\n")
	for _, m := range mods {
		if op := m.Operation; op != nil {
			if p.send(w, "progress", agent.Progress{Operation: op.ID, Module: m.Name, Step: op.Step, Done: op.Done, Total: op.Total}) != nil {
				return
			}
		}
	}
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(p.heartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_, err = io.WriteString(w, ": heartbeat\n\n")
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch {
			case ev.Progress != nil:
				err = p.send(w, "progress", ev.Progress)
			case ev.Operation != nil:
				err = p.send(w, "operation", ev.Operation)
			}
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// send writes one event; JSON holds no newline, so one data line carries it.
func (p *Portal) send(w io.Writer, event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	return err
}

// DatabaseBackend is what a Backend also implements to serve database modules (the
// agent does): without it, the /api/modules/NAME/db routes answer 404.
type DatabaseBackend interface {
	// Database reads the database of module now: state, drift, pending scripts.
	Database(ctx context.Context, module string) (*agent.DatabaseView, error)
	// Script returns one script of the module's pack, with its text; an error
	// matching agent.ErrNoScript when the pack has none of that number.
	Script(ctx context.Context, module string, number int) (*agent.ScriptView, error)
	// ApplyNext starts running the next pending script and returns the operation's
	// ID at once.
	ApplyNext(ctx context.Context, module string) (opID string, err error)
	// MarkApplied starts recording that a person ran script number by hand.
	MarkApplied(ctx context.Context, module string, number int) (opID string, err error)
}

// database returns the backend's DatabaseBackend, or answers 404.
func (p *Portal) database(w http.ResponseWriter, r *http.Request) DatabaseBackend {
	db, ok := p.b.(DatabaseBackend)
	if !ok {
		pageguard.WriteError(w, http.StatusNotFound, pageguard.CodeNotFound, "this portal serves no database module")
	}
	return db
}

func (p *Portal) getDatabase(w http.ResponseWriter, r *http.Request) {
	db := p.database(w, r)
	if db == nil {
		return
	}
	v, err := db.Database(r.Context(), r.PathValue("name"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (p *Portal) getScript(w http.ResponseWriter, r *http.Request) {
	db := p.database(w, r)
	if db == nil {
		return
	}
	s := r.PathValue("n")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		pageguard.WriteError(w, http.StatusBadRequest, pageguard.CodeBadRequest, fmt.Sprintf("script number %q: want a number from 1", s))
		return
	}
	v, err := db.Script(r.Context(), r.PathValue("name"), n)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (p *Portal) postApplyNext(w http.ResponseWriter, r *http.Request) {
	db := p.database(w, r)
	if db == nil {
		return
	}
	id, err := db.ApplyNext(r.Context(), r.PathValue("name"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, started{id})
}

func (p *Portal) postMarkApplied(w http.ResponseWriter, r *http.Request) {
	db := p.database(w, r)
	if db == nil {
		return
	}
	var req struct {
		Number *int `json:"number"`
	}
	const want = `{"number":N}`
	if !readBody(w, r, &req, want, true) {
		return
	}
	if req.Number == nil || *req.Number < 1 {
		pageguard.WriteError(w, http.StatusBadRequest, pageguard.CodeBadRequest, "request body: number: want a script number from 1 "+want)
		return
	}
	id, err := db.MarkApplied(r.Context(), r.PathValue("name"), *req.Number)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, started{id})
}

// MaintenanceBackend is what a Backend also implements to take a module out of a
// maintenance flag upkeep did not place (the agent does: agent.Agent.MaintenanceOff).
type MaintenanceBackend interface {
	// MaintenanceOff takes the flag down and returns where it went.
	MaintenanceOff(ctx context.Context, module string) (where string, err error)
}

// HoldBackend is what a Backend also implements to hold a module's automatic
// installs and release them (the agent does: agent.Agent.Hold and Release).
type HoldBackend interface {
	// Hold stops automatic installs of module until a person installs or releases it.
	Hold(ctx context.Context, module string) (*agent.Hold, error)
	// Release ends module's hold, if any.
	Release(ctx context.Context, module string) (*agent.Hold, error)
}

// postHold serves /hold and /release: 200 with the module's entry once done.
func (p *Portal) postHold(w http.ResponseWriter, r *http.Request) {
	hb, ok := p.b.(HoldBackend)
	if !ok {
		pageguard.WriteError(w, http.StatusNotFound, pageguard.CodeNotFound, "this portal cannot hold a module")
		return
	}
	name := r.PathValue("name")
	set := hb.Hold
	if strings.HasSuffix(r.URL.Path, "/release") {
		set = hb.Release
	}
	if _, err := set(r.Context(), name); err != nil {
		p.fail(w, r, err)
		return
	}
	p.writeModule(w, r, name)
}

// writeModule answers 200 with module's entry, as /api/modules lists it.
func (p *Portal) writeModule(w http.ResponseWriter, r *http.Request, name string) {
	mods, err := p.b.Modules(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	for _, m := range mods {
		if m.Name == name {
			writeJSON(w, http.StatusOK, m)
			return
		}
	}
	p.fail(w, r, fmt.Errorf("%w: %q", update.ErrUnknownModule, name))
}

// postMaintenanceOff answers 200 with the module's entry once the flag is down.
func (p *Portal) postMaintenanceOff(w http.ResponseWriter, r *http.Request) {
	mb, ok := p.b.(MaintenanceBackend)
	if !ok {
		pageguard.WriteError(w, http.StatusNotFound, pageguard.CodeNotFound, "this portal cannot take a maintenance flag down")
		return
	}
	name := r.PathValue("name")
	if _, err := mb.MaintenanceOff(r.Context(), name); err != nil {
		var fe *maintenance.FlagError
		if errors.As(err, &fe) && (errors.Is(err, maintenance.ErrNoFlag) || errors.Is(err, maintenance.ErrOwnFlag)) {
			pageguard.WriteError(w, http.StatusConflict, "no_foreign_flag", err.Error())
			return
		}
		p.fail(w, r, err)
		return
	}
	p.writeModule(w, r, name)
}

// SettingsBackend is what a Backend also implements to serve the settings (the agent
// does): without it, /api/settings answers 404.
type SettingsBackend interface {
	// Settings returns the settings in force.
	Settings(ctx context.Context) (agent.Settings, error)
	// UpdateSettings changes the keys patch holds (a JSON object, partial allowed)
	// and returns the settings then in force; a bad value is an *update.ConfigError
	// naming the key, and changes nothing.
	UpdateSettings(ctx context.Context, patch []byte) (agent.Settings, error)
}

// CodeConfig is the code of a settings change refused for a bad value.
const CodeConfig = "config"

// settings returns the backend's SettingsBackend, or answers 404.
func (p *Portal) settings(w http.ResponseWriter) SettingsBackend {
	sb, ok := p.b.(SettingsBackend)
	if !ok {
		pageguard.WriteError(w, http.StatusNotFound, pageguard.CodeNotFound, "this portal serves no settings")
	}
	return sb
}

func (p *Portal) getSettings(w http.ResponseWriter, r *http.Request) {
	sb := p.settings(w)
	if sb == nil {
		return
	}
	s, err := sb.Settings(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (p *Portal) postSettings(w http.ResponseWriter, r *http.Request) {
	sb := p.settings(w)
	if sb == nil {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		pageguard.WriteError(w, http.StatusRequestEntityTooLarge, pageguard.CodeTooLarge, fmt.Sprintf("request body: more than %d bytes", MaxBody))
		return
	}
	s, err := sb.UpdateSettings(r.Context(), body)
	var ce *update.ConfigError
	switch {
	case errors.As(err, &ce):
		pageguard.WriteError(w, http.StatusBadRequest, CodeConfig, "settings: "+ce.Field+": "+errText(ce.Err))
	case errors.Is(err, agent.ErrNoConfigFile):
		pageguard.WriteError(w, http.StatusConflict, CodeNoConfigFile, err.Error())
	case err != nil:
		p.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, s)
	}
}

// CodeNoConfigFile is the code of a settings change to an agent that has no
// configuration file to keep it in.
const CodeNoConfigFile = "no_config_file"

func errText(err error) string {
	if err == nil {
		return "invalid"
	}
	return err.Error()
}
