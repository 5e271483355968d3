package update

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/upkeep-go/upkeep/update/maintenance"
)

// swapKind puts a module's new tree in place by exchanging its folder with the
// staged one (the swap strategy): the live tree itself becomes the kept version at
// the exchange, in the work folder beside the module, so nothing is copied.
type swapKind struct{ tree }

var _ kind = (*swapKind)(nil)

// stage writes an install's new tree into the stage; a rollback moves the kept tree
// there itself, and undo puts it back among the backups.
func (k *swapKind) stage(ctx context.Context, op *operation, d *downloaded) error {
	if op.j.Op == opInstall {
		return k.stageNew(ctx, op, d)
	}
	if err := k.e.ops.rename(ctx, k.md.work, backupName+"/"+op.j.To, stageName); err != nil {
		return err
	}
	return k.identify(op.j)
}

// backup makes the version in place readable where it will be kept, for POSTBACKUP
// (the seed's scripts copy files out of it), before the exchange makes the live tree
// itself that backup: a tree of hard links to the live files, which costs one link
// per file and no data. settle puts the live tree in its place; undo removes it.
func (k *swapKind) backup(ctx context.Context, op *operation) error {
	e, m, md, j := k.e, k.m, k.md, op.j
	if j.Keep == "" {
		return nil
	}
	dest := backupName + "/" + j.Keep
	if _, err := md.work.Lstat(dest); err == nil {
		return nil // a tree is kept under that name already: POSTBACKUP reads it
	}
	if err := e.ops.mkdirAll(md.work, backupName, 0o700); err != nil {
		return err
	}
	// Made under a temporary name (clean removes it after a crash), recorded, then
	// renamed: the journal names the tree before it is at dest.
	tmp := backupName + "/." + j.Keep + ".tmp-links"
	if err := e.ops.removeAll(md.work, tmp); err != nil {
		return err
	}
	e.emit(Event{Module: m.Name, Version: j.To, Step: StepBackup, Message: "linking " + j.Keep + " for POSTBACKUP"})
	if err := e.ops.linkDir(ctx, md.parent, md.work, md.name, tmp, m.MaintenanceFile); err != nil {
		return err
	}
	id, err := idAt(md.work, tmp)
	if err != nil {
		return err
	}
	j.Links = id
	if err := e.writeJournal(m, j, j.Step); err != nil {
		return stateErr(err)
	}
	return e.ops.rename(ctx, md.work, tmp, dest)
}

// dropLinks removes the tree backup made for POSTBACKUP, when it is still at the
// backup's name.
func (k *swapKind) dropLinks(op *operation) error {
	j := op.j
	if j.Links == "" {
		return nil
	}
	dest := backupName + "/" + j.Keep
	if id, err := idAt(k.md.work, dest); err == nil && sameTree(j.Links, id) {
		return k.e.ops.removeAll(k.md.work, dest)
	}
	return nil
}

// apply exchanges the live folder and the stage, or moves the stage in place when
// there was no live folder.
func (k *swapKind) apply(ctx context.Context, op *operation) error {
	m, md, j := k.m, k.md, op.j
	k.e.emit(Event{Module: m.Name, Version: j.To, Step: StepInstall})
	if j.Fresh {
		return k.e.ops.move(ctx, md.work, stageName, md.parent, md.name)
	}
	if m.MaintenanceFile != "" {
		// The flag goes in the staged tree too, so that it stays visible across the
		// exchange until maintenance goes off.
		k.e.ops.at("create", md.work.join(stageName+"/"+m.MaintenanceFile))
		// It shows what the live flag shows: the site's own page when there is one.
		flag, stage, reason := maintenance.Flag{Name: m.MaintenanceFile}, md.work.anchored(stageName), "installing "+j.To
		placed := false
		err := op.onLive(func(live string) error { placed = true; return flag.PlaceFor(stage, live, reason) })
		if err == nil && !placed {
			err = flag.Place(stage, reason)
		}
		if err != nil {
			return err
		}
	}
	return k.e.ops.exchange(ctx, md.parent, md.name, md.work, stageName)
}

// undo exchanges the trees back when the live folder holds the new one. The trees
// are told apart by the identities the journal recorded, never by paths it names.
func (k *swapKind) undo(ctx context.Context, op *operation) error {
	e, m, md, j := k.e, k.m, k.md, op.j
	k.settleExchange(ctx, op)
	id, err := idAt(md.parent, md.name)
	switch {
	case err == nil && sameTree(j.NewID, id):
		if j.Fresh {
			if err := e.ops.move(ctx, md.parent, md.name, md.work, stageName); err != nil {
				return err
			}
		} else if err := e.ops.exchange(ctx, md.parent, md.name, md.work, stageName); err != nil {
			return err
		}
	case err == nil && j.OldID != "" && !sameTree(j.OldID, id):
		return fmt.Errorf("%s holds neither the previous tree nor the new one (identity %s, journal: previous %s, new %s): left as it is for a person to look at", m.Path, id, j.OldID, j.NewID)
	}
	if id, err := idAt(md.parent, exchangeName(md.name)); err == nil && sameTree(j.OldID, id) {
		return fmt.Errorf("%s still exists after recovery", exchangeName(m.Path))
	}
	if err := k.dropLinks(op); err != nil {
		return err
	}
	if _, err := md.work.Lstat(stageName); err != nil {
		return nil
	}
	if j.Op == opRollback {
		// The staged tree is a kept version: it goes back among the backups.
		e.removeFlag(ctx, op, md.work, stageName)
		if err := e.ops.mkdirAll(md.work, backupName, 0o700); err != nil {
			return err
		}
		return e.ops.rename(ctx, md.work, stageName, backupName+"/"+j.To)
	}
	return e.ops.removeAll(md.work, stageName)
}

// settle makes the previous tree, in the stage since the exchange, the backup named
// j.Keep, or drops it when it is a version upkeep installed and rolled away from; an
// empty folder that was there before is kept as an unmanaged backup too.
func (k *swapKind) settle(ctx context.Context, op *operation) error {
	e, md, j := k.e, k.md, op.j
	k.settleExchange(ctx, op)
	if _, err := md.work.Lstat(stageName); err != nil {
		return nil
	}
	e.removeFlag(ctx, op, md.work, stageName)
	keep := j.Keep
	if keep == "" && j.Op == opInstall && !j.Fresh {
		// The folder was there, empty, before the install: upkeep did not make it (its
		// owner and rights may matter to someone), so it is kept, not removed.
		keep = unmanagedPrefix + e.now().UTC().Format("20060102T150405Z")
	}
	if keep == "" {
		return e.ops.removeAll(md.work, stageName)
	}
	if err := e.ops.mkdirAll(md.work, backupName, 0o700); err != nil {
		return err
	}
	dest := backupName + "/" + keep
	if err := e.ops.removeAll(md.work, dest); err != nil {
		return err
	}
	return e.ops.rename(ctx, md.work, stageName, dest)
}

// settleExchange finishes or undoes an exchange by renames (systems without
// renameat2) that a crash interrupted, so that the live name and the stage each hold
// one tree again.
func (k *swapKind) settleExchange(ctx context.Context, op *operation) {
	e, md := k.e, k.md
	x := exchangeName(md.name)
	if _, err := md.parent.Lstat(x); err != nil {
		return
	}
	// The third name only ever holds the previous live tree: anything else there
	// (a folder or link planted beside the module) is not upkeep's and stays.
	if id, err := idAt(md.parent, x); err != nil || !sameTree(op.j.OldID, id) {
		e.log.Warn("a folder named as upkeep's exchange is not the tree it moved: left alone", "path", exchangeName(k.m.Path))
		return
	}
	if _, err := md.parent.Lstat(md.name); errors.Is(err, fs.ErrNotExist) {
		e.ops.rename(ctx, md.parent, x, md.name) // only the first rename happened
		return
	}
	e.ops.move(ctx, md.parent, x, md.work, stageName) // the first two happened: finish the third
}

func (k *swapKind) backups() []string { return versionsIn(k.keptAt(""), "") }

func (k *swapKind) prune() {
	vs := k.backups()
	for i := k.e.cfg.Retention; i < len(vs); i++ {
		if err := k.e.ops.removeAll(k.md.work, backupName+"/"+vs[i]); err != nil {
			k.e.log.Warn("pruning backup", "module", k.m.Name, "version", vs[i], "err", err)
		}
	}
}

// keptAt is a kept tree in the work folder beside the module.
func (k *swapKind) keptAt(name string) string {
	return filepath.Join(workDir(k.m), backupName, name)
}

func (k *swapKind) hookPaths(j *journal) (stage, backup string) {
	if j.Keep != "" {
		backup = k.keptAt(j.Keep) + string(filepath.Separator)
	}
	return k.hookStage(), backup
}
