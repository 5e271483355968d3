package update

import (
	"context"
	"fmt"
	"path/filepath"
)

// inPlaceKind replaces a module's files one by one in its fixed path (the inplace
// strategy), for a folder that must keep its identity. The previous version is kept
// as a tar+zstd archive in the state dir, made at step 7, since its files are about
// to be replaced.
type inPlaceKind struct{ tree }

var _ kind = (*inPlaceKind)(nil)

// prepare keeps, for a rollback, the version rolled away from too: it is archived
// before the kept one is put back, so that a failure can be undone.
func (k *inPlaceKind) prepare(j *journal, keepUnmanaged bool) error {
	if j.Op == opRollback {
		j.Keep = j.From
	}
	return k.tree.prepare(j, keepUnmanaged)
}

// stage writes an install's new tree into the stage; a rollback archives the live
// tree, then unpacks the kept archive into the stage.
func (k *inPlaceKind) stage(ctx context.Context, op *operation, d *downloaded) error {
	if op.j.Op == opInstall {
		return k.stageNew(ctx, op, d)
	}
	if err := k.backup(ctx, op); err != nil {
		return err
	}
	if err := k.e.restoreArchive(ctx, k.keptAt(op.j.To), k.md.work, stageName); err != nil {
		return err
	}
	return k.identify(op.j)
}

// backup archives the live tree under j.Keep.
func (k *inPlaceKind) backup(ctx context.Context, op *operation) error {
	if op.j.Keep == "" {
		return nil
	}
	k.e.emit(Event{Module: k.m.Name, Version: op.j.To, Step: StepBackup, Message: "archiving " + op.j.Keep})
	live, err := k.md.parent.sub(k.md.name)
	if err != nil {
		return err
	}
	defer live.close()
	return k.e.archiveTree(ctx, live, k.keptAt(op.j.Keep), k.m.MaintenanceFile)
}

// apply moves the staged files into the live folder, creating it on a first install.
func (k *inPlaceKind) apply(ctx context.Context, op *operation) error {
	e, m, md, j := k.e, k.m, k.md, op.j
	e.emit(Event{Module: m.Name, Version: j.To, Step: StepInstall})
	if j.Fresh && j.OldID == "" {
		// The live folder is created here, and recorded, so that undoing removes
		// this folder only, never one that appeared at its name meanwhile.
		e.ops.at("mkdir", md.parent.join(md.name))
		if err := md.parent.Mkdir(md.name, 0o755); err != nil {
			return fmt.Errorf("%s: creating the module folder: %w", m.Path, err)
		}
		id, err := idAt(md.parent, md.name)
		if err != nil {
			return err
		}
		j.OldID = id
		if err := e.writeJournal(m, j, j.Step); err != nil {
			return stateErr(err)
		}
	}
	return k.withLiveAndStage(func(live, stage *dir) error {
		return e.mirror(ctx, stage, live, m.MaintenanceFile, false)
	})
}

// withLiveAndStage opens the live folder and the stage, refusing links.
func (k *inPlaceKind) withLiveAndStage(f func(live, stage *dir) error) error {
	live, err := k.md.parent.sub(k.md.name)
	if err != nil {
		return err
	}
	defer live.close()
	stage, err := k.md.work.sub(stageName)
	if err != nil {
		return err
	}
	defer stage.close()
	return f(live, stage)
}

// undo restores the archive into the live folder once files started moving: the
// archive is the truth then. A first install removes only the folder it created.
func (k *inPlaceKind) undo(ctx context.Context, op *operation) error {
	e, m, md, j := k.e, k.m, k.md, op.j
	switch j.Step {
	case jSwap, jSwapped, jInstalled:
		if j.Fresh {
			// Only the folder this install created (OldID) goes; without a record,
			// only an empty one.
			id, err := idAt(md.parent, md.name)
			switch {
			case err != nil:
			case sameTree(j.OldID, id):
				if err := e.ops.removeAll(md.parent, md.name); err != nil {
					return err
				}
			case j.OldID == "":
				e.ops.remove(ctx, md.parent, md.name)
			default:
				e.log.Warn("the module folder is not the one the install created: left alone", "path", m.Path)
			}
			break
		}
		if err := e.ops.removeAll(md.work, restoreName); err != nil {
			return err
		}
		if j.Keep != "" {
			if err := e.restoreArchive(ctx, k.keptAt(j.Keep), md.work, restoreName); err != nil {
				return err
			}
		} else if err := e.ops.mkdirAll(md.work, restoreName, 0o700); err != nil {
			// The folder was empty before: restoring it is emptying it.
			return err
		}
		live, err := md.parent.sub(md.name)
		if err != nil {
			return err
		}
		restore, err := md.work.sub(restoreName)
		if err != nil {
			live.close()
			return err
		}
		err = e.mirror(ctx, restore, live, m.MaintenanceFile, true)
		restore.close()
		live.close()
		if err != nil {
			return err
		}
		if err := e.ops.removeAll(md.work, restoreName); err != nil {
			return err
		}
	}
	return e.ops.removeAll(md.work, stageName)
}

// settle drops what is left of the stage once its files moved; a rollback also drops
// the archive of the version rolled away from, made only to undo a failure.
func (k *inPlaceKind) settle(ctx context.Context, op *operation) error {
	if _, err := k.md.work.Lstat(stageName); err == nil {
		if err := k.e.ops.removeAll(k.md.work, stageName); err != nil {
			return err
		}
	}
	if op.j.Op == opRollback && op.j.Keep != "" {
		return k.e.ops.removeFile(k.keptAt(op.j.Keep))
	}
	return nil
}

func (k *inPlaceKind) backups() []string { return versionsIn(k.keptAt(""), archiveSuffix) }

func (k *inPlaceKind) prune() {
	vs := k.backups()
	for i := k.e.cfg.Retention; i < len(vs); i++ {
		if err := k.e.ops.removeFile(k.keptAt(vs[i])); err != nil {
			k.e.log.Warn("pruning backup", "module", k.m.Name, "version", vs[i], "err", err)
		}
	}
}

// archiveSuffix ends the name of an inplace backup.
const archiveSuffix = ".tar.zst"

// keptAt is a kept archive in the module's state folder.
func (k *inPlaceKind) keptAt(name string) string {
	if name == "" {
		return k.archives
	}
	return filepath.Join(k.archives, name+archiveSuffix)
}

// hookPaths tell the hooks the folder that holds the archives, as the seed's
// E_BACKUP_PATH does.
func (k *inPlaceKind) hookPaths(j *journal) (stage, backup string) {
	if j.Keep != "" {
		backup = k.keptAt("") + string(filepath.Separator)
	}
	return k.hookStage(), backup
}
