package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/maintenance"
)

// InstallOptions chooses what Install installs.
type InstallOptions struct {
	// Version installs this version of the manifest instead of the path Check selects.
	// It must be newer than the installed one (going back is Rollback's job); a version
	// that failed before may be installed again explicitly.
	Version string
	// PackFile and SigFile install offline from a pack file and its signature, without
	// the source. The signature's trusted comment gives the version and must name this
	// module and platform.
	PackFile, SigFile string
	// Unattended marks an install that no person asked for (a scheduler's, an
	// agent's): it refuses with ErrFailedVersion, before downloading anything, a
	// version that the module's status records as failed (ModuleStatus.FailedVersion),
	// also as a step of the upgrade path, until a newer one is offered. Without it a
	// failed version may be installed again. It applies to versions the source offers:
	// an offline PackFile is a person's choice and is not checked.
	Unattended bool
}

// InstallResult tells what Install did.
type InstallResult struct {
	Module    string
	From      string   // version before, "" when nothing was installed
	Installed []string // versions installed, in order (several when the path had steps)
	// Window is the time the module spent in maintenance for the last version (steps
	// 6 to 9 of the install): only renames and hooks happen there.
	Window time.Duration
	// SelfUpdate reports whether the module holds the running program's executable:
	// the caller should restart it (see Engine.Restart).
	SelfUpdate bool
}

// Install brings one module to the newest version offered (through every step of its
// upgrade path), or to opts.Version, or installs an offline pack. A failure after
// maintenance went on restores the previous version, runs ROLLBACK, turns maintenance
// off and returns an error wrapping ErrRolledBack and the cause. It can be cancelled
// through ctx at any point; the module is then left at its previous version.
func (e *Engine) Install(ctx context.Context, module string, opts InstallOptions) (*InstallResult, error) {
	m, err := e.cfg.Module(module)
	if err != nil {
		return nil, err
	}
	lk, err := e.lock(m)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	if j, err := e.readJournal(m); err != nil {
		return nil, err
	} else if j != nil {
		if err := e.recoverModule(ctx, m, j); err != nil {
			return nil, fmt.Errorf("%s: recovering an interrupted %s first: %w", m.Name, j.Op, err)
		}
	}
	st, err := e.loadStatus(m)
	if err != nil {
		return nil, err
	}
	installed := deref(st.Installed)
	res := &InstallResult{Module: m.Name, From: installed, SelfUpdate: e.holdsExecutable(m)}

	var packs []*downloaded
	if opts.PackFile != "" {
		d, err := e.offlinePack(m, installed, opts)
		if err != nil {
			return nil, e.fail(m, "", err)
		}
		packs = append(packs, d)
	} else {
		refs, err := e.plan(ctx, m, installed, opts.Version)
		if err != nil {
			return nil, e.fail(m, "", err)
		}
		if err := e.unattended(m, st, opts, refs); err != nil {
			return nil, err
		}
		for _, ref := range refs {
			d, err := e.download(ctx, ref)
			if err != nil {
				return nil, e.fail(m, ref.release.Version, err)
			}
			packs = append(packs, d)
		}
	}
	defer func() {
		for _, d := range packs {
			d.close()
		}
	}()
	from := installed
	for _, d := range packs {
		w, err := e.installOne(ctx, m, from, d)
		if err != nil {
			return res, err
		}
		res.Window = w
		from = d.ref.release.Version
		res.Installed = append(res.Installed, from)
	}
	return res, nil
}

// fail records a failure that happened before anything live changed.
func (e *Engine) fail(m *ModuleConfig, to string, err error) error {
	if errors.Is(err, ErrNoUpdate) {
		return err
	}
	e.updateStatus(m, func(st *ModuleStatus) {
		st.LastError = err.Error()
		st.Code = string(CodeOf(err))
		if to != "" {
			st.LastResult = "install of " + to + " failed before any change"
		}
	})
	return err
}

// plan returns the packs to install: the path Select gives, or the one version asked.
func (e *Engine) plan(ctx context.Context, m *ModuleConfig, installed, want string) ([]packRef, error) {
	man, err := e.fetchManifest(ctx)
	if err != nil {
		return nil, err
	}
	id, err := e.installID()
	if err != nil {
		return nil, err
	}
	if want != "" {
		return e.planVersion(man, m, installed, want)
	}
	sel := man.Select(e.target(m, installed, id))
	switch sel.Status {
	case manifest.StatusUpdate:
		var refs []packRef
		for _, s := range sel.Path {
			refs = append(refs, packRef{module: m.Name, release: s.Release, pack: s.Pack})
		}
		return refs, nil
	case manifest.StatusUpToDate:
		return nil, fmt.Errorf("%w: %s is up to date at %s", ErrNoUpdate, m.Name, installed)
	default:
		return nil, &Error{Code: Code(sel.Code), Module: m.Name, Err: errors.New(sel.Reason)}
	}
}

func (e *Engine) planVersion(man *manifest.Manifest, m *ModuleConfig, installed, want string) ([]packRef, error) {
	if installed != "" {
		c, err := manifest.CompareVersions(want, installed)
		if err != nil {
			return nil, err
		}
		if c < 0 {
			return nil, fmt.Errorf("%w: %s is at %s, %s is older (use rollback)", ErrDowngrade, m.Name, installed, want)
		}
		if c == 0 {
			return nil, fmt.Errorf("%w: %s is already at %s", ErrNoUpdate, m.Name, want)
		}
	}
	for i := range man.Releases {
		r := &man.Releases[i]
		if r.Module != m.Name || r.Version != want {
			continue
		}
		for j := range r.Packs {
			if r.Packs[j].Platform == e.platform {
				return []packRef{{module: m.Name, release: r, pack: &r.Packs[j]}}, nil
			}
		}
		return nil, &Error{Code: Code(manifest.CodeNoPackForPlatform), Module: m.Name, Err: fmt.Errorf("%s %s has no pack for %s", m.Name, want, e.platform)}
	}
	return nil, &Error{Code: Code(manifest.CodeNoRelease), Module: m.Name, Err: fmt.Errorf("the manifest has no release %s of %s", want, m.Name)}
}

// offlinePack checks an offline pack's signature and takes its version from the
// signed trusted comment.
func (e *Engine) offlinePack(m *ModuleConfig, installed string, opts InstallOptions) (*downloaded, error) {
	sigFile := opts.SigFile
	if sigFile == "" {
		sigFile = opts.PackFile + ".minisig"
	}
	sig, err := limited.ReadFile(sigFile, MaxSignatureSize)
	if err != nil {
		return nil, &Error{Code: CodeBadSignature, Module: m.Name, Err: err}
	}
	f, err := os.Open(opts.PackFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v, err := e.keyring.Verify(filepath.Base(opts.PackFile), sig, f)
	if err != nil {
		return nil, &Error{Code: CodeBadSignature, Module: m.Name, Err: err}
	}
	b, err := signature.ParseBinding(v.Signers[0].TrustedComment)
	if err != nil {
		return nil, &Error{Code: CodeBadSignature, Module: m.Name, Err: fmt.Errorf("%s: %w", sigFile, err)}
	}
	if b.Module != m.Name {
		return nil, &Error{Code: CodeBadSignature, Module: m.Name, Err: fmt.Errorf("%s is signed for module %q, not %q", opts.PackFile, b.Module, m.Name)}
	}
	if p, err := manifest.Platform(b.Platform); err != nil || p != e.platform {
		return nil, &Error{Code: Code(manifest.CodeNoPackForPlatform), Module: m.Name, Err: fmt.Errorf("%s is signed for platform %q, this machine is %s", opts.PackFile, b.Platform, e.platform)}
	}
	if err := b.Check(v); err != nil {
		return nil, &Error{Code: CodeBadSignature, Module: m.Name, Err: err}
	}
	if installed != "" {
		c, err := manifest.CompareVersions(b.Version, installed)
		if err != nil {
			return nil, err
		}
		if c < 0 {
			return nil, fmt.Errorf("%w: %s is at %s, the pack holds %s", ErrDowngrade, m.Name, installed, b.Version)
		}
		if c == 0 {
			return nil, fmt.Errorf("%w: %s is already at %s", ErrNoUpdate, m.Name, b.Version)
		}
	}
	rel := &manifest.Release{Module: m.Name, Version: b.Version}
	// The binding is checked again at extraction, against the platform as signed.
	pk := &manifest.Pack{Platform: b.Platform, File: b.File}
	return &downloaded{path: opts.PackFile, sig: sig, ref: packRef{module: m.Name, release: rel, pack: pk}}, nil
}

// installOne runs the install steps of DESIGN.md for one pack. It returns the
// maintenance window.
func (e *Engine) installOne(ctx context.Context, m *ModuleConfig, from string, d *downloaded) (time.Duration, error) {
	to := d.ref.release.Version
	e.cleanTemps(m)
	wd := workDir(m)
	if err := e.ops.mkdirAll(wd, 0o755); err != nil {
		return 0, e.fail(m, to, fmt.Errorf("%s: module folder's parent is not writable: %w", m.Name, err))
	}
	_, statErr := os.Lstat(m.Path)
	j := &journal{Op: "install", Module: m.Name, Strategy: m.Strategy, From: from, To: to,
		Stage: filepath.Join(wd, "stage"), Started: e.now(), Fresh: os.IsNotExist(statErr)}
	if from != "" && !j.Fresh {
		j.Old = e.backupPath(m, from)
	}
	if err := e.writeJournal(m, j, jExtract); err != nil {
		return 0, e.fail(m, to, stateErr(err))
	}
	if err := e.extract(ctx, m, d, j.Stage); err != nil {
		e.ops.removeAll(j.Stage)
		e.cleanTemps(m)
		e.clearJournal(m)
		return 0, e.fail(m, to, err)
	}
	id, err := dirID(j.Stage)
	if err != nil {
		return 0, e.fail(m, to, err)
	}
	j.NewID = id
	if err := e.writeJournal(m, j, jStaged); err != nil {
		return 0, e.fail(m, to, stateErr(err))
	}
	hk := e.hookFor(m)
	ev := e.event(m, from, to)
	if err := e.runHook(ctx, hk, ev, hooks.StartUpdate); err != nil {
		e.discard(m, j)
		return 0, e.fail(m, to, err)
	}

	if err := e.writeJournal(m, j, jMaintenance); err != nil {
		e.discard(m, j)
		return 0, e.fail(m, to, stateErr(err))
	}
	start := time.Now()
	if err := e.maintOn(ctx, m, "installing "+m.Name+" "+to); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if err := e.runHook(ctx, hk, ev, hooks.PreBackup); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if err := e.writeJournal(m, j, jBackup); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if m.Strategy == InPlace && !j.Fresh && from != "" {
		e.emit(Event{Module: m.Name, Version: to, Step: StepBackup, Message: "archiving " + from})
		if err := e.archiveTree(ctx, m.Path, j.Old, m.MaintenanceFile); err != nil {
			return 0, e.rollback(ctx, m, j, err)
		}
	}
	if err := e.runHook(ctx, hk, ev, hooks.PostBackup); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if err := e.runHook(ctx, hk, ev, hooks.PreInstall); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if err := e.writeJournal(m, j, jSwap); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	e.emit(Event{Module: m.Name, Version: to, Step: StepInstall})
	if err := e.swapIn(ctx, m, j); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if err := e.writeJournal(m, j, jSwapped); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if err := e.runHook(ctx, hk, ev, hooks.PostInstall); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	if err := e.writeJournal(m, j, jInstalled); err != nil {
		return 0, e.rollback(ctx, m, j, err)
	}
	off, err := e.finish(ctx, m, j, "installed "+to)
	if err != nil {
		return 0, err
	}
	window := off.Sub(start)
	if err := e.runHook(ctx, hk, ev, hooks.EndUpdate); err != nil {
		e.log.Warn("ENDUPDATE hook failed", "module", m.Name, "err", err)
		e.updateStatus(m, func(st *ModuleStatus) {
			st.LastError = "ENDUPDATE hook: " + err.Error()
			st.Code = string(CodeInternal)
		})
	}
	e.emit(Event{Module: m.Name, Version: to, Step: StepDone, Message: "installed " + to})
	return window, nil
}

// extract unpacks the pack into stage, verifying size, sha256 and signature through
// the same open handle before any entry is written.
func (e *Engine) extract(ctx context.Context, m *ModuleConfig, d *downloaded, stage string) error {
	e.ops.step("extract")
	ref := d.ref
	f := d.verified
	var opts []pack.Option
	if f == nil {
		// Not checked by this process yet: check the bytes through the handle that
		// extracts them, before any entry is written.
		var err error
		if f, err = os.Open(d.path); err != nil {
			return err
		}
		defer f.Close()
		opts = append(opts, pack.WithVerify(func(r io.Reader) error {
			c, err := e.newPackCheck(ref, d.sig)
			if err != nil {
				return err
			}
			if _, err := io.CopyBuffer(c, r, make([]byte, 256<<10)); err != nil {
				c.abort()
				return err
			}
			err = c.finish(d.path)
			if err != nil && d.cached {
				// A download spoilt on disk is dropped, so that the next attempt fetches
				// it again instead of failing on it for ever.
				os.Remove(d.path)
			}
			return err
		}))
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	opts = append(opts,
		pack.WithWorkers(e.workers),
		pack.WithLogger(e.log),
		pack.WithProgress(func(done, total int64) {
			e.emit(Event{Module: m.Name, Version: ref.release.Version, Step: StepExtract, Done: done, Total: total})
		}),
	)
	if e.noSync {
		opts = append(opts, pack.WithoutSync())
	}
	_, err = pack.Extract(ctx, f, fi.Size(), stage, opts...)
	d.close()
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return err
		}
		return &Error{Code: CodeBadPack, Module: m.Name, Err: err}
	}
	return nil
}

// swapIn puts the staged tree in place of the live one.
func (e *Engine) swapIn(ctx context.Context, m *ModuleConfig, j *journal) error {
	if m.Strategy == InPlace {
		if err := e.ops.mkdirAll(m.Path, 0o755); err != nil {
			return err
		}
		return e.mirror(ctx, j.Stage, m.Path, m.MaintenanceFile, false)
	}
	if j.Fresh {
		return e.ops.rename(j.Stage, m.Path)
	}
	if m.MaintenanceFile != "" {
		// The flag goes in the staged tree too, so that it stays visible across the
		// exchange until maintenance goes off.
		e.ops.at("create", filepath.Join(j.Stage, m.MaintenanceFile))
		if err := (maintenance.Flag{Name: m.MaintenanceFile}).Place(j.Stage, "installing "+j.To); err != nil {
			return err
		}
	}
	return e.ops.exchange(m.Path, j.Stage)
}

// finish completes an install whose new tree is in place and whose POSTINSTALL
// succeeded: maintenance goes off first (the module is complete), then the previous
// tree becomes the backup and the status says what happened. It returns when
// maintenance went off. It is idempotent, for Recover.
func (e *Engine) finish(ctx context.Context, m *ModuleConfig, j *journal, result string) (time.Time, error) {
	if m.Strategy == Swap {
		e.settleExchange(m, j)
	}
	if err := e.maintOff(m); err != nil {
		return time.Time{}, err
	}
	off := time.Now()
	if m.Strategy == Swap {
		if _, err := os.Lstat(j.Stage); err == nil {
			e.removeFlag(m, j.Stage)
			if j.Old != "" {
				if err := e.ops.mkdirAll(filepath.Dir(j.Old), 0o755); err != nil {
					return off, err
				}
				if err := e.ops.removeAll(j.Old); err != nil {
					return off, err
				}
				if err := e.ops.rename(j.Stage, j.Old); err != nil {
					return off, err
				}
			} else if err := e.ops.removeAll(j.Stage); err != nil {
				return off, err
			}
		}
	} else if err := e.ops.removeAll(j.Stage); err != nil {
		return off, err
	}
	if err := e.updateStatus(m, func(st *ModuleStatus) {
		st.Installed = strp(j.To)
		st.LastResult = result
		st.LastError = ""
		st.Code = ""
		if st.FailedVersion == j.To {
			st.FailedVersion = ""
		}
		st.Download = nil
		if st.CheckStatus == "update" && deref(st.Latest) == j.To {
			st.CheckStatus = "up-to-date"
		}
	}); err != nil {
		return off, stateErr(err)
	}
	if err := e.clearJournal(m); err != nil {
		return off, stateErr(err)
	}
	e.dropDownloads(m, j.To)
	e.prune(m)
	e.cleanTemps(m)
	return off, nil
}

// discard drops a staged tree before anything live changed.
func (e *Engine) discard(m *ModuleConfig, j *journal) {
	e.ops.removeAll(j.Stage)
	e.maintOff(m)
	e.clearJournal(m)
	e.cleanTemps(m)
}

// rollback undoes a failed install: the previous version back in place, ROLLBACK,
// maintenance off, and the cause recorded.
func (e *Engine) rollback(ctx context.Context, m *ModuleConfig, j *journal, cause error) error {
	e.emit(Event{Module: m.Name, Version: j.To, Step: StepRollback, Message: cause.Error()})
	j.Reason = cause.Error()
	// Undoing must not be stopped by the cancellation that may have caused it.
	uctx := context.WithoutCancel(ctx)
	j.Undoing = true
	if err := e.writeJournal(m, j, j.Step); err != nil {
		return fmt.Errorf("%s: install of %s failed (%v) and the journal cannot be written: %w", m.Name, j.To, cause, err)
	}
	if err := e.undo(uctx, m, j); err != nil {
		return fmt.Errorf("%s: install of %s failed (%v) and restoring %s failed too (run recover): %w", m.Name, j.To, cause, j.From, err)
	}
	if err := e.runHook(uctx, e.hookFor(m), e.event(m, j.From, j.To), hooks.Rollback); err != nil {
		e.log.Warn("ROLLBACK hook failed", "module", m.Name, "err", err)
	}
	e.maintOff(m)
	code := CodeOf(cause)
	if code == CodeInternal {
		code = CodeInstallFailed
	}
	e.updateStatus(m, func(st *ModuleStatus) {
		st.LastError = cause.Error()
		st.Code = string(code)
		st.FailedVersion = j.To
		if j.From != "" {
			st.LastResult = "install of " + j.To + " failed, rolled back to " + j.From
		} else {
			st.LastResult = "install of " + j.To + " failed, nothing installed"
		}
	})
	e.clearJournal(m)
	e.cleanTemps(m)
	return &Error{Code: code, Module: m.Name, Err: fmt.Errorf("%w to %s: install of %s: %w", ErrRolledBack, orNothing(j.From), j.To, cause)}
}

func orNothing(v string) string {
	if v == "" {
		return "nothing installed"
	}
	return v
}

// undo puts the previous tree back, whatever step the install reached. Idempotent.
func (e *Engine) undo(ctx context.Context, m *ModuleConfig, j *journal) error {
	if m.Strategy == Swap {
		e.settleExchange(m, j)
		if id, err := dirID(m.Path); err == nil && id == j.NewID {
			if j.Fresh {
				if err := e.ops.rename(m.Path, j.Stage); err != nil {
					return err
				}
			} else if err := e.ops.exchange(m.Path, j.Stage); err != nil {
				return err
			}
		}
		if j.Op == "rollback" {
			// The staged tree is a kept version: it goes back among the backups.
			if _, err := os.Lstat(j.Stage); err != nil {
				return nil
			}
			e.removeFlag(m, j.Stage)
			return e.ops.rename(j.Stage, e.backupPath(m, j.To))
		}
		return e.ops.removeAll(j.Stage)
	}
	// inplace: once files started moving, the archive is the truth.
	switch j.Step {
	case jSwap, jSwapped, jInstalled:
		if j.Fresh || j.Old == "" {
			if j.Fresh {
				if err := e.ops.removeAll(m.Path); err != nil {
					return err
				}
			}
			break
		}
		restore := filepath.Join(workDir(m), "restore")
		if err := e.ops.removeAll(restore); err != nil {
			return err
		}
		if err := e.restoreArchive(ctx, j.Old, restore); err != nil {
			return err
		}
		if err := e.mirror(ctx, restore, m.Path, m.MaintenanceFile, true); err != nil {
			return err
		}
		if err := e.ops.removeAll(restore); err != nil {
			return err
		}
	}
	return e.ops.removeAll(j.Stage)
}

// settleExchange finishes or undoes a rename-based exchange (systems without
// renameat2) that a crash interrupted, so that the live path and the stage path each
// hold one tree again.
func (e *Engine) settleExchange(m *ModuleConfig, j *journal) {
	x := m.Path + ".xchg"
	if _, err := os.Lstat(x); err != nil {
		return
	}
	if _, err := os.Lstat(m.Path); os.IsNotExist(err) {
		e.ops.rename(x, m.Path) // only the first rename happened
		return
	}
	e.ops.rename(x, j.Stage) // the first two happened: finish the third
}

func (e *Engine) hookFor(m *ModuleConfig) hooks.Hook {
	h := e.hooks[m.Name]
	if m.Scripts != "" {
		h = hooks.Chain(h, &hooks.Scripts{Dir: m.Scripts, Logger: e.log})
	}
	return h
}

func (e *Engine) event(m *ModuleConfig, from, to string) hooks.Event {
	sep := string(filepath.Separator)
	return hooks.Event{Module: m.Name, ModulePath: strings.TrimSuffix(m.Path, sep) + sep,
		BackupPath: e.backupDir(m) + sep, FromVersion: from, ToVersion: to, Logger: e.log}
}

func (e *Engine) runHook(ctx context.Context, h hooks.Hook, ev hooks.Event, p hooks.Phase) error {
	ev.Phase = p
	e.ops.step("hook " + string(p))
	e.emit(Event{Module: ev.Module, Version: ev.ToVersion, Step: StepHook, Phase: p})
	if h == nil {
		return nil
	}
	if err := h.Run(ctx, ev); err != nil {
		return fmt.Errorf("%s hook: %w", p, err)
	}
	return nil
}

// maintOn turns the module's maintenance on: its flag file, then its Go state, which
// drains in-flight requests (a drain that times out is logged, not fatal).
func (e *Engine) maintOn(ctx context.Context, m *ModuleConfig, reason string) error {
	e.emit(Event{Module: m.Name, Step: StepMaintenance, Message: "on"})
	if s := e.maint[m.Name]; s != nil {
		if err := s.On(ctx, reason); err != nil {
			if !errors.Is(err, maintenance.ErrDrainTimeout) {
				return err
			}
			e.log.Warn("drain timed out", "module", m.Name, "err", err)
		}
	}
	if m.MaintenanceFile != "" {
		if _, err := os.Stat(m.Path); err == nil {
			e.ops.at("create", filepath.Join(m.Path, m.MaintenanceFile))
			if err := (maintenance.Flag{Name: m.MaintenanceFile}).Place(m.Path, reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// maintOff turns maintenance off: only upkeep's own flag is ever removed.
func (e *Engine) maintOff(m *ModuleConfig) error {
	if s := e.maint[m.Name]; s != nil {
		s.Off()
	}
	if m.MaintenanceFile != "" {
		// Remove also clears what a crash inside Place left; a flag a person placed is
		// theirs to remove, and is reported, not touched.
		e.ops.at("remove", filepath.Join(m.Path, m.MaintenanceFile))
		err := (maintenance.Flag{Name: m.MaintenanceFile}).Remove(m.Path)
		if errors.Is(err, maintenance.ErrForeignFlag) {
			e.log.Warn("maintenance file not placed by upkeep left in place", "module", m.Name, "err", err)
		} else if err != nil {
			return err
		}
	}
	e.emit(Event{Module: m.Name, Step: StepMaintenance, Message: "off"})
	return nil
}

// dropDownloads removes the downloaded packs of a version once it is installed.
func (e *Engine) dropDownloads(m *ModuleConfig, v string) {
	dir := e.state.module(m.Name, "downloads")
	ents, _ := os.ReadDir(dir)
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), v+"-") {
			os.Remove(filepath.Join(dir, d.Name()))
		}
	}
}

// removeFlag removes upkeep's maintenance flag from a tree that is not live (the
// previous tree after the exchange), so that backups are exactly the published build.
func (e *Engine) removeFlag(m *ModuleConfig, dir string) {
	if m.MaintenanceFile == "" {
		return
	}
	e.ops.at("remove", filepath.Join(dir, m.MaintenanceFile))
	(maintenance.Flag{Name: m.MaintenanceFile}).Remove(dir)
}
