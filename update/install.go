package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	"github.com/upkeep-go/upkeep/update/trust"
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
	// KeepUnmanaged lets a first install replace a module folder that already holds
	// files upkeep does not manage (an application installed before upkeep came): the
	// folder is kept as a backup named "unmanaged-<time>" and never deleted. Without
	// it, such an install fails with ErrUnmanaged and changes nothing; setting the
	// module's Installed to the version the folder holds adopts it instead.
	KeepUnmanaged bool
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
	// the caller should restart it (handoff.Handoff.Upgrade, or handoff.Restart).
	SelfUpdate bool
	// Unmanaged is where the tree found in a module folder upkeep did not manage was
	// kept (InstallOptions.KeepUnmanaged); "" when there was none.
	Unmanaged string
	// Deltas lists the versions of Installed rebuilt from a delta against the version
	// before them (and the live tree) instead of extracted from their full pack.
	Deltas []string
	// BytesSaved is what those deltas spared downloading: the full packs' bytes less
	// the deltas' and those of the files fetched alone from the full packs.
	BytesSaved int64
}

// begin starts every operation on a module: it takes the module's lock, then
// finishes or undoes what a crash left in its journal, and reads the module's status as
// it is then. unlock releases the lock.
func (e *Engine) begin(ctx context.Context, module string) (m *ModuleConfig, k kind, st *ModuleStatus, unlock func(), err error) {
	if m, err = e.cfg.Module(module); err != nil {
		return nil, nil, nil, nil, err
	}
	k = e.kindOf(m)
	lk, err := e.lock(m)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	j, err := e.readJournal(m)
	if err == nil && j != nil {
		if err = e.recoverModule(ctx, m, j); err != nil {
			err = fmt.Errorf("%s: recovering an interrupted %s first: %w", m.Name, j.Op, err)
		}
	}
	if err == nil {
		st, err = e.loadStatus(m)
	}
	if err != nil {
		lk.unlock()
		return nil, nil, nil, nil, err
	}
	return m, k, st, lk.unlock, nil
}

// Install brings one module to the newest version offered (through every step of its
// upgrade path), or to opts.Version, or installs an offline pack. A failure after
// maintenance went on restores the previous version, runs ROLLBACK, turns maintenance
// off and returns an error wrapping ErrRolledBack and the cause. It can be cancelled
// through ctx at any point; the module is then left at its previous version.
func (e *Engine) Install(ctx context.Context, module string, opts InstallOptions) (*InstallResult, error) {
	m, k, st, unlock, err := e.begin(ctx, module)
	if err != nil {
		return nil, err
	}
	defer unlock()
	installed := deref(st.Installed)
	res := &InstallResult{Module: m.Name, From: installed, SelfUpdate: e.holdsExecutable(m)}
	if err := k.ready(installed, opts.KeepUnmanaged); err != nil {
		return nil, e.fail(m, "", err)
	}

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
		prev := installed
		for _, ref := range refs {
			d, err := e.obtain(ctx, m, installed, prev, ref)
			prev = ref.release.Version
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
		w, kept, err := e.installOne(ctx, m, k, from, d, opts.KeepUnmanaged)
		if err != nil {
			return res, err
		}
		if kept != "" {
			res.Unmanaged = kept
		}
		res.Window = w
		from = d.ref.release.Version
		res.Installed = append(res.Installed, from)
		if d.deltaUsed {
			res.Deltas = append(res.Deltas, from)
			res.BytesSaved += d.saved
		}
	}
	return res, nil
}

// holdsFiles reports whether the module's folder exists and holds anything but
// upkeep's maintenance flag.
func holdsFiles(m *ModuleConfig) bool {
	f, err := os.Open(m.Path)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(3)
	for _, n := range names {
		if n != m.MaintenanceFile || m.MaintenanceFile == "" {
			return true
		}
	}
	return false
}

// fail records a failure that happened before anything live changed.
func (e *Engine) fail(m *ModuleConfig, to string, err error) error {
	if errors.Is(err, ErrNoUpdate) {
		return err
	}
	e.updateStatus(m, func(st *ModuleStatus) {
		st.LastError = err.Error()
		st.Code = CodeOf(err)
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
		// An explicit version is still held to the configured major version, as the
		// check is: a v22 server asked for 23 by hand is refused, not upgraded.
		if major := e.cfg.majorOf(m); major != 0 && r.Major != 0 && r.Major != major {
			return nil, &Error{Code: Code(manifest.CodeOtherMajor), Module: m.Name, Err: fmt.Errorf("release %s of %s is for major version %d, and this installation is major version %d (\"major\" in the configuration)", want, m.Name, r.Major, major)}
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
	sig, err := limited.ReadFile(sigFile, signature.MaxSignatureFileSize)
	if err != nil {
		return nil, &Error{Code: CodeBadSignature, Module: m.Name, Err: err}
	}
	f, err := os.Open(opts.PackFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys, err := e.packKeys()
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// The file is the operator's own: its size bounds it.
	want := trust.Pack{Binding: signature.Binding{Module: m.Name, Platform: e.platform}, Name: filepath.Base(opts.PackFile), Unlisted: true, MaxSize: max(fi.Size(), 1)}
	c, err := trust.NewPackCheck(keys, want, sig)
	if err != nil {
		return nil, trustErr(m.Name, err)
	}
	if _, err := io.Copy(c, f); err != nil {
		c.Close()
		return nil, trustErr(m.Name, err)
	}
	acc, err := c.Accept()
	if err != nil {
		return nil, trustErr(m.Name, err)
	}
	b := acc.Binding
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
	// The pack is checked again at extraction, against its binding as signed and the
	// size and digest verified now.
	pk := &manifest.Pack{Platform: b.Platform, File: b.File, Size: acc.Size, SHA256: acc.SHA256}
	return &downloaded{path: opts.PackFile, sig: sig, ref: packRef{module: m.Name, release: rel, pack: pk}}, nil
}

// installOne installs one pack through the operation runner (see run).
func (e *Engine) installOne(ctx context.Context, m *ModuleConfig, k kind, from string, d *downloaded, keepUnmanaged bool) (window time.Duration, unmanaged string, err error) {
	to := d.ref.release.Version
	if err := k.open(true); err != nil {
		return 0, "", e.fail(m, to, err)
	}
	defer k.close()
	k.clean(ctx)
	j := &journal{Op: opInstall, Module: m.Name, Strategy: m.Strategy, From: from, To: to, Started: e.now()}
	if err := k.prepare(j, keepUnmanaged); err != nil {
		return 0, "", e.fail(m, to, err)
	}
	if strings.HasPrefix(j.Keep, unmanagedPrefix) {
		unmanaged = k.keptAt(j.Keep)
	}
	window, err = e.run(ctx, e.newOperation(m, k, j), d)
	if err != nil {
		return 0, "", err
	}
	return window, unmanaged, nil
}

// step is one step of an install or a rollback: the runner writes the journal with
// the step's name (when it has one) before running it, so that the next named step
// also records that this one ended.
type step struct {
	journal journalStep
	do      func(context.Context) error
}

// steps is the list the package documentation numbers, for an install or a rollback
// of any kind of module: a rollback has no STARTUPDATE and no backup phases (the
// version it replaces is not kept). Before jMaintenance nothing live has changed.
func (e *Engine) steps(op *operation, d *downloaded) []step {
	k, m, j := op.k, op.m, op.j
	install := j.Op == opInstall
	reason := "installing " + m.Name + " " + j.To
	if !install {
		reason = "rolling back " + m.Name + " to " + j.To
	}
	s := []step{
		{jExtract, func(ctx context.Context) error { return k.stage(ctx, op, d) }},
		{jStaged, nil},
	}
	if install {
		s = append(s, step{"", op.hookStep(hooks.StartUpdate)})
	}
	s = append(s,
		step{jMaintenance, func(ctx context.Context) error {
			op.down = time.Now()
			return e.maintOn(ctx, op, reason)
		}},
		step{"", func(ctx context.Context) error { return e.stopService(ctx, op) }},
	)
	if install {
		s = append(s,
			step{"", op.hookStep(hooks.PreBackup)},
			step{jBackup, func(ctx context.Context) error { return k.backup(ctx, op) }},
			step{"", op.hookStep(hooks.PostBackup)},
		)
	}
	return append(s,
		step{"", op.hookStep(hooks.PreInstall)},
		step{jSwap, func(ctx context.Context) error { return k.apply(ctx, op) }},
		step{jSwapped, op.hookStep(hooks.PostInstall)},
		step{"", func(ctx context.Context) error { return e.startService(ctx, op) }},
		step{jInstalled, nil},
	)
}

// runSteps runs steps in order, journaling each; it stops at the first failure and
// returns it, for the caller to undo.
func (e *Engine) runSteps(ctx context.Context, op *operation, steps []step) error {
	for _, s := range steps {
		if s.journal != "" {
			if err := e.writeJournal(op.m, op.j, s.journal); err != nil {
				return stateErr(err)
			}
		}
		if s.do != nil {
			if err := s.do(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// run runs one operation, an install of d or a rollback (d nil), to its end: the
// steps, then finish and ENDUPDATE; or, at the first failure, abort. It returns the
// maintenance window (steps 6 to 9).
func (e *Engine) run(ctx context.Context, op *operation, d *downloaded) (time.Duration, error) {
	m, j := op.m, op.j
	if err := e.runSteps(ctx, op, e.steps(op, d)); err != nil {
		return 0, e.abort(ctx, op, err)
	}
	result := "rolled back to " + j.To
	if j.Op == opInstall {
		result = "installed " + j.To
		if d.deltaNote != "" {
			result += " (" + d.deltaNote + ")"
		}
		if strings.HasPrefix(j.Keep, unmanagedPrefix) {
			result += "; the folder that was there before is kept as " + op.k.keptAt(j.Keep)
		}
	}
	off, err := e.finish(ctx, op, result)
	if err != nil {
		return 0, err
	}
	e.endUpdate(ctx, op)
	e.emit(Event{Module: m.Name, Version: j.To, Step: StepDone, Message: result})
	return off.Sub(op.down), nil
}

// operation is one install or rollback under way on one module: its journal, its
// kind (holding the handles on its places), and what its hooks are told.
type operation struct {
	e  *Engine
	m  *ModuleConfig
	k  kind
	j  *journal
	hk hooks.Hook
	// serviceUp reports whether the module's service was started by this operation.
	serviceUp bool
	// down is when maintenance went on.
	down time.Time
}

func (e *Engine) newOperation(m *ModuleConfig, k kind, j *journal) *operation {
	return &operation{e: e, m: m, k: k, j: j, hk: e.hookFor(m)}
}

// event is what the operation's hooks are told.
func (op *operation) event() hooks.Event {
	sep := string(filepath.Separator)
	ev := hooks.Event{Module: op.m.Name, FromVersion: op.j.From, ToVersion: op.j.To, Logger: op.e.log, Operation: hooks.OpInstall}
	ev.StagePath, ev.BackupPath = op.k.hookPaths(op.j)
	if op.m.Path != "" {
		ev.ModulePath = strings.TrimSuffix(op.m.Path, sep) + sep
	}
	if op.j.Op == opRollback {
		ev.Operation = hooks.OpRollback
	}
	return ev
}

func (op *operation) hook(ctx context.Context, p hooks.Phase) error {
	return op.e.runHook(ctx, op.hk, op.event(), p)
}

func (op *operation) hookStep(p hooks.Phase) func(context.Context) error {
	return func(ctx context.Context) error { return op.hook(ctx, p) }
}

// endUpdate runs ENDUPDATE once the operation is complete: its failure is recorded,
// not undone (the new version is in place and out of maintenance).
func (e *Engine) endUpdate(ctx context.Context, op *operation) {
	if err := op.hook(ctx, hooks.EndUpdate); err != nil {
		e.log.Warn("ENDUPDATE hook failed", "module", op.m.Name, "err", err)
		e.updateStatus(op.m, func(st *ModuleStatus) {
			st.LastError = "ENDUPDATE hook: " + err.Error()
			st.Code = CodeInternal
		})
	}
}

// liveState is what the live folder holds before an install.
type liveState int

const (
	liveMissing   liveState = iota // no folder: a first install creates it
	liveEmpty                      // an empty folder (or holding only upkeep's flag)
	liveManaged                    // the tree of the installed version
	liveUnmanaged                  // a tree upkeep does not manage: never deleted
)

// unmanagedPrefix names the backup of a tree that was in the module folder before
// upkeep managed it.
const unmanagedPrefix = "unmanaged-"

// inspectLive tells what the live folder holds, refusing a link or a file there.
func inspectLive(m *ModuleConfig, md *moduleDirs, installed string) (liveState, error) {
	fi, err := md.parent.Lstat(md.name)
	if errors.Is(err, fs.ErrNotExist) {
		return liveMissing, nil
	}
	if err != nil {
		return 0, err
	}
	if !fi.IsDir() {
		return 0, &Error{Code: CodeUnmanaged, Module: m.Name, Err: fmt.Errorf("%s is not a folder (%v): upkeep installs a module into a folder of its own; point the module's Path at the folder itself", m.Path, fi.Mode().Type())}
	}
	if installed != "" {
		return liveManaged, nil
	}
	empty, err := md.parent.isEmptyDir(md.name, m.MaintenanceFile)
	if err != nil {
		return 0, err
	}
	if empty {
		return liveEmpty, nil
	}
	return liveUnmanaged, nil
}

func unmanagedErr(m *ModuleConfig) error {
	return &Error{Code: CodeUnmanaged, Module: m.Name, Err: fmt.Errorf("%w: %s already holds files and upkeep has no installed version for it; nothing was changed. "+
		"To adopt it, set the version it holds as the module's Installed (\"installed\" in the configuration file); "+
		"or install with KeepUnmanaged (upkeep install --keep-unmanaged) to keep it as a backup named %s<time>", ErrUnmanaged, m.Path, unmanagedPrefix)}
}

// extract unpacks the pack into stage, verifying size, sha256 and signature through
// the same open handle before any entry is written.
func (e *Engine) extract(ctx context.Context, m *ModuleConfig, d *downloaded, stage string) error {
	e.ops.step("extract")
	f, size, opts, done, err := e.openPack(d, m.Name, d.ref.release.Version)
	if err != nil {
		return err
	}
	defer done()
	_, err = pack.Extract(ctx, f, size, stage, opts...)
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

// openPack opens download d for package pack to read: the handle this process
// checked while downloading it, else the file on disk, then checked through the
// handle that reads it, before any entry is written. The options carry that check,
// the workers, the logger, the progress events of module's version and durability;
// done closes what openPack opened.
func (e *Engine) openPack(d *downloaded, module, version string) (f *os.File, size int64, opts []pack.Option, done func(), err error) {
	done = func() {}
	if f = d.verified; f == nil {
		if f, err = os.Open(d.path); err != nil {
			return nil, 0, nil, nil, err
		}
		done = func() { f.Close() }
		opts = append(opts, e.verifyOnRead(d))
	}
	fi, err := f.Stat()
	if err != nil {
		done()
		return nil, 0, nil, nil, err
	}
	opts = append(opts,
		pack.WithWorkers(e.workers),
		pack.WithLogger(e.log),
		pack.WithProgress(func(done, total int64) {
			e.emit(Event{Module: module, Version: version, Step: StepExtract, Done: done, Total: total})
		}),
	)
	if e.noSync {
		opts = append(opts, pack.WithoutSync())
	}
	return f, fi.Size(), opts, done, nil
}

// verifyOnRead checks a download found on disk through the handle that reads it:
// size, sha256 and signature, before any entry is written.
func (e *Engine) verifyOnRead(d *downloaded) pack.Option {
	return pack.WithVerify(func(r io.Reader) error {
		c, err := e.newPackCheck(d.ref, d.sig)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(c, r, make([]byte, 256<<10))
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			c.abort()
			return err // a read error, not a verdict on the pack
		}
		if err == nil {
			err = c.finish()
		}
		if err != nil && d.cached {
			// A download spoilt on disk is dropped, so that the next attempt fetches
			// it again instead of failing on it for ever.
			os.Remove(d.path)
		}
		return err
	})
}

// finish completes an operation whose new version is in place and whose POSTINSTALL
// succeeded: maintenance goes off first (the module is complete), then the kind
// settles the previous version and the status says what happened. It returns when
// maintenance went off. It is idempotent, for Recover.
func (e *Engine) finish(ctx context.Context, op *operation, result string) (time.Time, error) {
	m, j := op.m, op.j
	if err := e.startService(ctx, op); err != nil {
		return time.Time{}, err
	}
	if err := e.maintOff(op); err != nil {
		return time.Time{}, err
	}
	off := time.Now()
	if err := op.k.settle(ctx, op); err != nil {
		return off, err
	}
	if err := e.updateStatus(m, func(st *ModuleStatus) {
		st.Installed = strp(j.To)
		st.Managed = true
		st.LastResult = result
		st.LastError = ""
		st.Code = ""
		if st.FailedVersion == j.To {
			st.FailedVersion = ""
		}
		st.Download = nil
		if st.CheckStatus == manifest.StatusUpdate && deref(st.Latest) == j.To {
			st.CheckStatus = manifest.StatusUpToDate
		}
	}); err != nil {
		return off, stateErr(err)
	}
	if err := e.clearJournal(m); err != nil {
		return off, stateErr(err)
	}
	e.dropDownloads(m, j.To)
	op.k.prune()
	op.k.tidy(ctx)
	return off, nil
}

// abort is the one ending of an operation that failed (cause) or that a crash
// interrupted (cause nil, for Recover): the kind puts back what was in place; when
// anything live had changed, ROLLBACK runs and the module's service starts again;
// maintenance goes off; the status records what happened; the journal and what the
// operation left go. It returns the error to report: for a failed install after
// maintenance went on, one wrapping ErrRolledBack and the cause.
func (e *Engine) abort(ctx context.Context, op *operation, cause error) error {
	m, j, k := op.m, op.j, op.k
	// Undoing must not be stopped by the cancellation that may have caused it.
	ctx = context.WithoutCancel(ctx)
	interrupted := cause == nil
	changed := j.Step != jExtract && j.Step != jStaged
	what := e.describe(j)
	if !interrupted {
		if changed {
			e.emit(Event{Module: m.Name, Version: j.To, Step: StepRollback, Message: cause.Error()})
		}
		j.Reason = cause.Error()
		j.Undoing = true
		// Before anything live changed the undoing is only dropping the stage, which
		// the next operation does anyway if this write fails.
		if err := e.writeJournal(m, j, j.Step); err != nil && changed {
			return fmt.Errorf("%s: %s failed (%v) and the journal cannot be written: %w", m.Name, what, cause, err)
		}
	}
	if err := k.undo(ctx, op); err != nil {
		if interrupted {
			return err
		}
		// The journal stays: Recover finishes the undoing.
		return fmt.Errorf("%s: %s failed (%v) and restoring %s failed too (run recover): %w", m.Name, what, cause, k.restored(j), err)
	}
	if changed {
		if err := op.hook(ctx, hooks.Rollback); err != nil {
			e.log.Warn("ROLLBACK hook failed", "module", m.Name, "err", err)
		}
		e.restartService(ctx, op)
	}
	if err := e.maintOff(op); err != nil && interrupted {
		return err
	}
	var ret error
	code := CodeOf(cause)
	if code == CodeInternal {
		code = CodeInstallFailed
	}
	err := e.updateStatus(m, func(st *ModuleStatus) {
		switch {
		case interrupted:
			st.LastResult = fmt.Sprintf("recovered: interrupted %s of %s undone, %s kept", j.Op, j.To, k.restored(j))
			st.LastError = j.Reason
			if j.Reason == "" {
				st.LastError = "interrupted " + string(j.Op) + " of " + j.To + " (at step " + string(j.Step) + ")"
			}
			if j.Op == opInstall {
				st.FailedVersion = j.To
			}
		case j.Op == opRollback:
			st.LastError = what + " failed: " + cause.Error()
			st.LastResult = what + " failed, " + k.restored(j) + " kept"
			ret = fmt.Errorf("%s: %s failed, %s kept: %w", m.Name, what, k.restored(j), cause)
		case !changed:
			st.LastError = cause.Error()
			st.Code = CodeOf(cause)
			st.LastResult = what + " failed before any change"
			ret = cause
		default:
			st.LastError = cause.Error()
			st.Code = code
			st.FailedVersion = j.To
			st.LastResult = what + " failed, rolled back to " + k.restored(j)
			ret = &Error{Code: code, Module: m.Name, Err: fmt.Errorf("%w to %s: %s: %w", ErrRolledBack, k.restored(j), what, cause)}
		}
	})
	if err != nil && interrupted {
		return stateErr(err)
	}
	if err := e.clearJournal(m); err != nil && interrupted {
		return stateErr(err)
	}
	k.tidy(ctx)
	return ret
}

func orNothing(v string) string {
	if v == "" {
		return "nothing installed"
	}
	return v
}

func (e *Engine) hookFor(m *ModuleConfig) hooks.Hook {
	h := e.hooks[m.Name]
	if m.Scripts != "" {
		h = hooks.Chain(h, &hooks.Scripts{Dir: m.Scripts, Logger: e.log})
	}
	return h
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

// maintOn turns the module's maintenance on: its Go state, which drains in-flight
// requests (a drain that times out is logged, not fatal), then its flag file.
func (e *Engine) maintOn(ctx context.Context, op *operation, reason string) error {
	m := op.m
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
		return op.onLive(func(live string) error {
			e.ops.at("create", filepath.Join(m.Path, m.MaintenanceFile))
			return (maintenance.Flag{Name: m.MaintenanceFile}).Place(live, reason)
		})
	}
	return nil
}

// maintOff turns maintenance off: only upkeep's own flag is ever removed.
func (e *Engine) maintOff(op *operation) error {
	m := op.m
	if s := e.maint[m.Name]; s != nil {
		s.Off()
	}
	if m.MaintenanceFile != "" {
		// Remove also clears what a crash inside Place left; a flag a person placed is
		// theirs to remove, and is reported, not touched.
		e.ops.at("remove", filepath.Join(m.Path, m.MaintenanceFile))
		err := op.onLive(func(live string) error { return (maintenance.Flag{Name: m.MaintenanceFile}).Remove(live) })
		if errors.Is(err, maintenance.ErrForeignFlag) {
			e.log.Warn("maintenance file not placed by upkeep left in place", "module", m.Name, "err", err)
		} else if err != nil {
			return err
		}
	}
	e.emit(Event{Module: m.Name, Step: StepMaintenance, Message: "off"})
	return nil
}

// onLive runs f with a path to the live folder that goes through a handle on it,
// opened without following links: the maintenance flag is placed and removed in the
// very folder checked, not wherever a link planted in its place points. f does not
// run when there is no live folder (a database module, a first install) or when a
// link or a file stands there.
func (op *operation) onLive(f func(live string) error) error {
	if op.m.Path == "" {
		return nil
	}
	parent, err := openDir(filepath.Dir(op.m.Path))
	if err != nil {
		return nil // no parent folder: no live folder
	}
	defer parent.close()
	live, err := parent.sub(filepath.Base(op.m.Path))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotPlainDir) {
		return nil
	}
	if err != nil {
		return err
	}
	defer live.close()
	return f(live.anchored("."))
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
func (e *Engine) removeFlag(ctx context.Context, op *operation, d *dir, name string) {
	if op.m.MaintenanceFile == "" {
		return
	}
	e.ops.at("remove", d.join(name+"/"+op.m.MaintenanceFile))
	(maintenance.Flag{Name: op.m.MaintenanceFile}).Remove(d.anchored(name))
}
