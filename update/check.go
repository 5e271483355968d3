package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/source"
	"github.com/upkeep-go/upkeep/update/trust"
)

const (
	// MaxUnknownPackSize bounds a pack whose size the manifest does not give (HFSQL).
	MaxUnknownPackSize = 4 << 30
)

// ModuleCheck is the outcome of a check for one module. `upkeep check --json` prints
// it with its keys version, code and reason always present (null when they do not
// apply); its plain encoding/json form leaves them out when empty.
type ModuleCheck struct {
	Name      string  `json:"name"`
	Installed *string `json:"installed"`
	// Status is manifest.StatusUpdate, StatusUpToDate, StatusIneligible, or
	// StatusError when the module could not be checked.
	Status  manifest.Status `json:"status"`
	Version string          `json:"version,omitempty"`
	// Code says why a module is ineligible (a manifest.Code) or could not be checked.
	Code   Code   `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Path lists the versions to install in order, when Status is "update".
	Path []string `json:"path,omitempty"`
	// Warning tells of a problem that will make an install fail although the check
	// succeeded: a module folder this account cannot write to.
	Warning   string              `json:"warning,omitempty"`
	Selection *manifest.Selection `json:"-"`
}

// CheckReport is the outcome of Check.
type CheckReport struct {
	Modules []ModuleCheck `json:"modules"`
	// Manifest is the manifest that was accepted, nil when it was refused.
	Manifest *manifest.Manifest `json:"-"`
	// Warnings tell of what the check accepted but looks wrong (channel.go).
	Warnings []string `json:"warnings,omitempty"`
}

// Check fetches and verifies the manifest, then decides for every configured module
// what is available, recording it in each module's status. The report has an entry for
// every module even when the manifest was refused (each then has Status "error" and the
// manifest's code); the error is non-nil when any module could not be checked.
func (e *Engine) Check(ctx context.Context) (*CheckReport, error) {
	rep := &CheckReport{}
	m, err := e.fetchManifest(ctx)
	if err != nil {
		for i := range e.cfg.Modules {
			mc := &e.cfg.Modules[i]
			st, _ := e.loadStatus(mc)
			var inst *string
			if st != nil {
				inst = st.Installed
			}
			rep.Modules = append(rep.Modules, ModuleCheck{Name: mc.Name, Installed: inst, Status: StatusError, Code: CodeOf(err), Reason: err.Error()})
			e.updateStatus(mc, func(st *ModuleStatus) {
				st.LastCheck = e.now()
				st.CheckStatus = StatusError
				st.CheckReason = err.Error()
				st.Code = CodeOf(err)
			})
		}
		return rep, err
	}
	rep.Manifest = m
	rep.Warnings = channelWarnings(e.cfg.Channel, m)
	id, err := e.installID()
	if err != nil {
		return rep, err
	}
	var errs []error
	for i := range e.cfg.Modules {
		mc := &e.cfg.Modules[i]
		c, err := e.checkModule(mc, m, id)
		if err != nil {
			errs = append(errs, err)
		}
		rep.Modules = append(rep.Modules, c)
	}
	return rep, errors.Join(errs...)
}

func (e *Engine) checkModule(mc *ModuleConfig, m *manifest.Manifest, id string) (ModuleCheck, error) {
	st, err := e.loadStatus(mc)
	if err != nil {
		return ModuleCheck{Name: mc.Name, Status: StatusError, Code: CodeInternal, Reason: err.Error()}, err
	}
	sel := m.Select(e.target(mc, deref(st.Installed), id))
	c := ModuleCheck{Name: mc.Name, Installed: st.Installed, Status: sel.Status, Selection: &sel}
	switch sel.Status {
	case manifest.StatusUpdate:
		c.Version = sel.Release.Version
		for _, s := range sel.Path {
			c.Path = append(c.Path, s.Release.Version)
		}
	case manifest.StatusIneligible:
		c.Code = Code(sel.Code)
		c.Reason = sel.Reason
	case manifest.StatusUpToDate:
		c.Reason = sel.Reason
	}
	if werr := e.kindOf(mc).writable(); werr != nil {
		c.Warning = werr.Error()
	}
	err = e.updateStatus(mc, func(st *ModuleStatus) {
		st.Problem = c.Warning
		st.LastCheck = e.now()
		st.CheckStatus = c.Status
		st.CheckReason = c.Reason
		st.Code = c.Code
		switch {
		case c.Version != "":
			st.Latest = strp(c.Version)
		case sel.Status == manifest.StatusUpToDate:
			st.Latest = st.Installed
		}
	})
	return c, err
}

func (e *Engine) target(mc *ModuleConfig, installed, id string) manifest.Target {
	return manifest.Target{
		Module:    mc.Name,
		Installed: installed,
		Platform:  e.platform,
		Language:  e.cfg.Language,
		Channel:   e.cfg.Channel,
		Major:     e.cfg.majorOf(mc),
		InstallID: id,
	}
}

// fetchManifest fetches, verifies and parses the manifest, enforcing expiry and serial
// order, and records it as accepted.
//
// The manifest is fetched with a conditional request, against the copy kept in the
// cache; its signature is always fetched (it is small, and a publisher may re-sign the
// same manifest with a new key while operators replace the old one). When the cached
// copy is refused with the signature served now (a cache torn by a crash in an
// earlier version, a validator that missed a change), the manifest is fetched again,
// unconditionally, and the decision is made on that copy.
func (e *Engine) fetchManifest(ctx context.Context) (*manifest.Manifest, error) {
	// A check writes and deletes in the state dir (trust, cache, key set): a state dir
	// nobody else can write holds only what upkeep put there.
	if err := checkStateDirs(string(e.state)); err != nil {
		return nil, err
	}
	keys, err := e.manifestKeys(ctx)
	if err != nil {
		return nil, err
	}
	e.emit(Event{Step: StepCheck, Message: "fetching " + manifest.FileName})
	var t trustRecord
	if _, err := readJSON(e.state.path("trust.json"), &t); err != nil {
		return nil, err
	}
	cached := e.readCache()
	data, notModified, validator, err := e.fetchSmall(ctx, manifest.FileName, manifest.MaxSize, CodeInvalidManifest, cached.Validator)
	if errors.Is(err, source.ErrNotFound) && e.hfsql {
		return e.fetchHFSQL(ctx, t)
	}
	if err != nil {
		return nil, err
	}
	if notModified {
		data = cached.Manifest
	}
	sig, _, _, err := e.fetchSmall(ctx, manifest.SignatureFileName, signature.MaxSignatureFileSize, CodeBadSignature, "")
	if err != nil {
		if CodeOf(err) == CodeNotFound {
			return nil, codeErr(CodeBadSignature, "%s has no signature: %s is missing", manifest.FileName, manifest.SignatureFileName)
		}
		return nil, err
	}
	m, record, err := e.verifyManifest(keys, data, sig, t)
	if err != nil && notModified {
		e.log.Info("update: the cached manifest is refused, fetching it again", slog.String("error", err.Error()))
		if data, _, validator, err = e.fetchSmall(ctx, manifest.FileName, manifest.MaxSize, CodeInvalidManifest, ""); err != nil {
			return nil, err
		}
		notModified = false
		m, record, err = e.verifyManifest(keys, data, sig, t)
	}
	if err != nil {
		return nil, err
	}
	// trust.json first: a crash before the cache is written leaves a cache that the
	// next check finds modified, or refused and fetches again.
	if record != nil {
		if err := e.writeJSON(e.state.path("trust.json"), record); err != nil {
			return nil, stateErr(err)
		}
	}
	if !notModified || validator != cached.Validator {
		if err := e.writeCache(manifestCache{Validator: validator, Manifest: data}); err != nil {
			return nil, stateErr(err)
		}
	}
	return m, nil
}

// manifestCache is the last manifest accepted and the validator the source gave with
// it, for conditional requests. They are kept in one file, replaced atomically, so
// that a crash cannot pair a validator with another manifest.
type manifestCache struct {
	Validator string `json:"validator"`
	Manifest  []byte `json:"manifest"` // the bytes verified, base64 in the file
}

// cacheFile is the check cache's file in the state dir; oldCacheFiles are those of
// earlier versions, written one after another, removed when it is written.
const cacheFile = "check.json"

var oldCacheFiles = []string{manifest.FileName, manifest.SignatureFileName, "validator"}

// readCache returns the check cache, or an empty one (meaning an unconditional
// request) when it is missing or cannot be read.
func (e *Engine) readCache() manifestCache {
	var c manifestCache
	if _, err := readJSON(e.state.path("manifest", cacheFile), &c); err != nil {
		e.log.Warn("update: the manifest cache is unreadable, fetching the manifest unconditionally", slog.String("error", err.Error()))
		return manifestCache{}
	}
	if len(c.Manifest) == 0 {
		return manifestCache{}
	}
	return c
}

// writeCache replaces the check cache and removes the files of earlier versions.
func (e *Engine) writeCache(c manifestCache) error {
	if err := e.writeJSON(e.state.path("manifest", cacheFile), c); err != nil {
		return err
	}
	for _, name := range oldCacheFiles {
		if err := e.ops.removeFile(e.state.path("manifest", name)); err != nil {
			return err
		}
	}
	return nil
}

// verifyManifest has update/trust decide on a manifest and its signature after the
// trust record t: the signature, its binding, the product, the expiry and the serial.
// It returns the parsed manifest and the trust record that accepting it makes, nil
// when nothing is to be recorded. It writes nothing, so a refused manifest leaves the
// state as it was.
func (e *Engine) verifyManifest(keys *trust.Keys, data, sig []byte, t trustRecord) (*manifest.Manifest, *trustRecord, error) {
	prev := trust.ManifestState{Product: t.Product, Serial: t.Serial, SHA256: t.SHA256}
	m, st, err := trust.AcceptManifest(keys, prev, e.cfg.Product, e.now(), data, sig)
	if err != nil {
		return nil, nil, trustErr("", err)
	}
	if st == prev {
		return m, nil, nil
	}
	switch {
	case t.Product == "" && e.cfg.Product == "":
		e.log.Info("update: product pinned", slog.String("product", m.Product), slog.Uint64("serial", m.Serial))
	case t.Product != "" && t.Product != m.Product:
		e.log.Info("update: the configured product replaces the pinned one", slog.String("pinned", t.Product), slog.String("product", m.Product))
	}
	t.Serial, t.SHA256, t.Product, t.Updated = st.Serial, st.SHA256, st.Product, e.now()
	return m, &t, nil
}

// fetchHFSQL reads an HFSQL manifest, which carries no signature: the configuration
// allowed it, and every pack's own signature is still required at download. It is
// never read once a signed manifest was accepted (the fallback would let a mirror
// offer older builds, or freeze the server), and without a serial it is ordered by its
// versions: a file offering less than one accepted before is refused as a replay.
func (e *Engine) fetchHFSQL(ctx context.Context, t trustRecord) (*manifest.Manifest, error) {
	if t.SHA256 != "" {
		return nil, codeErr(CodeNotFound, "%s is not on the source, and the unsigned %s is no longer read: a signed manifest (product %q, serial %d) was accepted before, as recorded in %s",
			manifest.FileName, manifest.HFSQLFileName, t.Product, t.Serial, e.state.path("trust.json"))
	}
	e.emit(Event{Step: StepCheck, Message: "fetching " + manifest.HFSQLFileName})
	data, _, _, err := e.fetchSmall(ctx, manifest.HFSQLFileName, manifest.MaxSize, CodeInvalidManifest, "")
	if err != nil {
		return nil, err
	}
	m, format, err := manifest.ParseAny(data)
	if err != nil {
		return nil, &Error{Code: CodeInvalidManifest, Err: fmt.Errorf("%s: %w", manifest.HFSQLFileName, err)}
	}
	if format != manifest.FormatHFSQL {
		return nil, codeErr(CodeInvalidManifest, "%s is a native manifest, not an HFSQL file: a native manifest is accepted only as %s, with its signature", manifest.HFSQLFileName, manifest.FileName)
	}
	highest, err := trust.AcceptHFSQL(m, t.HFSQL)
	if err != nil {
		return nil, trustErr("", fmt.Errorf("%w (versions accepted before are recorded in %s)", err, e.state.path("trust.json")))
	}
	if highest != nil {
		t.HFSQL, t.Updated = highest, e.now()
		if err := e.writeJSON(e.state.path("trust.json"), t); err != nil {
			return nil, stateErr(err)
		}
	}
	return m, nil
}

// fetchSmall reads a whole small file, at most max bytes; a larger one is an error
// with code tooLarge.
func (e *Engine) fetchSmall(ctx context.Context, name string, max int64, tooLarge Code, validator string) (data []byte, notModified bool, newValidator string, err error) {
	big := func(err error) error { return codeErr(tooLarge, "%s is larger than %d bytes: %v", name, max, err) }
	resp, err := e.src.Fetch(ctx, source.Request{Name: name, Max: max, Validator: validator})
	if errors.Is(err, source.ErrTooLarge) {
		return nil, false, "", big(err)
	}
	if err != nil {
		return nil, false, "", sourceErr(err)
	}
	if resp.NotModified {
		return nil, true, validator, nil
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, max+1))
	if errors.Is(err, source.ErrTooLarge) {
		return nil, false, "", big(err)
	}
	if err != nil {
		return nil, false, "", sourceErr(err)
	}
	if int64(len(data)) > max {
		return nil, false, "", big(errors.New("the body is longer"))
	}
	return data, false, resp.Validator, nil
}

// sourceErr gives a source error its code; for a small file there is no resuming,
// so any error left uncoded means the source could not be read: unreachable.
func sourceErr(err error) error {
	err = codeFor("", err)
	var ce *Error
	if !errors.As(err, &ce) {
		err = &Error{Code: CodeUnreachable, Err: err}
	}
	return err
}

// writable checks that an install could write where it needs to: beside the module
// folder, where the stage and the swap happen. It creates and removes a probe file
// there; it never writes into the module folder itself.
func writable(m *ModuleConfig) error {
	parent := filepath.Dir(m.Path)
	if _, err := os.Stat(parent); err != nil {
		return fmt.Errorf("module %s: the folder %s does not exist or cannot be read: %w", m.Name, parent, err)
	}
	f, err := os.CreateTemp(parent, ".upkeep-probe-*")
	if err != nil {
		return fmt.Errorf("module %s: cannot write beside the module folder in %s (check the rights of the account running upkeep): %w", m.Name, parent, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
