package update

import (
	"context"
	"path/filepath"
)

// kind is how one module's versions are put in place and taken out again. It is the
// seam under install, rollback and recovery: those run one list of steps
// (Engine.steps, through runSteps), end well one way (Engine.finish) and end a failure
// one way (Engine.abort), whatever the module is; only the kind differs.
//
// Three kinds: swapKind exchanges the module's folder for the staged one, inPlaceKind
// replaces its files one by one in the fixed path, appliedKind hands the staged pack
// to an Applier (a database's scripts). Engine.kindOf picks one from the
// configuration; nothing else looks at a module's Strategy or Kind.
type kind interface {
	// ready refuses, before anything is downloaded, an install the kind cannot do:
	// no Applier for the module, or a first install (installed "") over a folder of
	// files upkeep does not manage without keepUnmanaged.
	ready(installed string, keepUnmanaged bool) error
	// writable reports a place the kind's operations could not write, for a check.
	writable() error
	// open opens what an operation changes (create: the places may be created);
	// close releases it. Every other method but backups runs between the two.
	open(create bool) error
	close()
	// prepare fills the journal of an operation before its first step: the name the
	// version in place is kept under, whether there is one. For an install it looks
	// at the live folder; an operation the kind does not do is refused here.
	prepare(j *journal, keepUnmanaged bool) error
	// stage puts what the operation brings where apply takes it (steps 3 and 4): d's
	// pack for an install, the kept version j.To for a rollback; it records in j what
	// tells the trees apart after a crash.
	stage(ctx context.Context, op *operation, d *downloaded) error
	// backup keeps the version in place (step 7) so that it is readable at the hooks'
	// BackupPath when POSTBACKUP runs.
	backup(ctx context.Context, op *operation) error
	// apply puts the staged version in place (step 8).
	apply(ctx context.Context, op *operation) error
	// undo puts back what was in place before the operation, whatever step the journal
	// says it reached. It is idempotent, for Recover.
	undo(ctx context.Context, op *operation) error
	// settle ends an operation whose new version is in place and out of maintenance:
	// the previous version becomes a backup, or goes. It is idempotent, for Recover.
	settle(ctx context.Context, op *operation) error
	// clean removes what an interrupted operation may have left (temporaries, a
	// stage); tidy does too, then drops the module's emptied work places.
	clean(ctx context.Context)
	tidy(ctx context.Context)
	// backups lists the kept versions, newest first; prune keeps the newest
	// Config.Retention of them.
	backups() []string
	prune()
	// keptAt is where the version kept under name is ("" for none), or with name ""
	// the folder that holds the kept versions.
	keptAt(name string) string
	// hookPaths are the stage and the backup the hooks of an operation are told about.
	hookPaths(j *journal) (stage, backup string)
	// restored says, for messages, what is in place once undo has run.
	restored(j *journal) string
}

// kindOf returns the kind of module m: the one place that reads its Kind and Strategy.
func (e *Engine) kindOf(m *ModuleConfig) kind {
	switch {
	case m.Kind != "" && m.Kind != KindFiles:
		return &appliedKind{e: e, m: m}
	case m.Strategy == InPlace:
		archives := e.state.module(m.Name, "backups")
		return &inPlaceKind{tree{e: e, m: m, archives: archives}}
	default:
		return &swapKind{tree{e: e, m: m}}
	}
}

// backupVersions lists the kept versions of m, newest first.
func (e *Engine) backupVersions(m *ModuleConfig) []string { return e.kindOf(m).backups() }

// tree is what the two kinds that put a tree of files in place share: the module's
// folders, opened once per operation (see moduleDirs).
type tree struct {
	e  *Engine
	m  *ModuleConfig
	md *moduleDirs
	// archives is the folder of the state dir that holds the kept versions as
	// archives (inPlaceKind), "" when they are trees beside the module.
	archives string
}

func (t *tree) ready(installed string, keepUnmanaged bool) error {
	if installed == "" && !keepUnmanaged && holdsFiles(t.m) {
		// Said before anything is downloaded; prepare decides again on handles.
		return unmanagedErr(t.m)
	}
	return nil
}

func (t *tree) writable() error { return writable(t.m) }

func (t *tree) open(create bool) error {
	md, err := t.e.openModuleDirs(t.m, create)
	if err != nil {
		return err
	}
	t.md = md
	return nil
}

func (t *tree) close() { t.md.close() }

// prepare looks at the live folder before an install: a managed version there is
// kept under its version; a tree upkeep did not manage is kept under
// "unmanaged-<time>" with keepUnmanaged, and refused without.
func (t *tree) prepare(j *journal, keepUnmanaged bool) error {
	if j.Op != opInstall {
		return nil
	}
	live, err := inspectLive(t.m, t.md, j.From)
	if err != nil {
		return err
	}
	j.Fresh = live == liveMissing
	switch {
	case j.From != "" && live != liveMissing:
		j.Keep = j.From
	case live == liveUnmanaged:
		if !keepUnmanaged {
			return unmanagedErr(t.m)
		}
		j.Keep = unmanagedPrefix + t.e.now().UTC().Format("20060102T150405Z")
	}
	return nil
}

// stageNew writes an install's new tree into the stage, from its pack or from a
// delta and the live tree, and records the identities of the staged and live trees.
func (t *tree) stageNew(ctx context.Context, op *operation, d *downloaded) error {
	j := op.j
	if err := t.e.stage(ctx, t.m, t.md, d, j.From != "" && !j.Fresh); err != nil {
		return err
	}
	return t.identify(j)
}

// identify records the identities of the staged tree and of the live one.
func (t *tree) identify(j *journal) error {
	var err error
	if j.NewID, err = idAt(t.md.work, stageName); err == nil && !j.Fresh {
		j.OldID, err = idAt(t.md.parent, t.md.name)
	}
	return err
}

func (t *tree) hookStage() string {
	return filepath.Join(workDir(t.m), stageName) + string(filepath.Separator)
}

func (t *tree) restored(j *journal) string { return orNothing(j.From) }

// clean removes the temporaries an interrupted operation may leave in the module's
// state folders, and the stage, restore and extraction temporaries in its work
// folder.
func (t *tree) clean(ctx context.Context) {
	if t.archives != "" {
		t.e.cleanStateTemps(t.m, t.archives)
	} else {
		t.e.cleanStateTemps(t.m)
	}
	md := t.md
	if f, err := md.work.Open(backupName); err == nil {
		ents, _ := f.ReadDir(-1)
		f.Close()
		for _, d := range ents {
			if isTemp(d.Name()) {
				t.e.ops.removeAll(md.work, backupName+"/"+d.Name())
			}
		}
	}
	f, err := md.work.Open(".")
	if err != nil {
		return
	}
	ents, _ := f.ReadDir(-1)
	f.Close()
	for _, d := range ents {
		if d.Name() != backupName {
			t.e.ops.removeAll(md.work, d.Name())
		}
	}
	if _, err := md.parent.Lstat(exchangeName(md.name)); err == nil {
		t.e.log.Warn("leftover exchange folder kept for inspection", "path", exchangeName(t.m.Path))
	}
}

// tidy cleans, then removes the module's work folder when the operation left it
// empty (rmdir, which fails on a folder that is not).
func (t *tree) tidy(ctx context.Context) {
	t.clean(ctx)
	if empty, err := t.md.parent.isEmptyDir(workName(t.m), ""); err == nil && empty {
		t.e.ops.remove(ctx, t.md.parent, workName(t.m))
	}
}
