package update

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
)

// ops routes every mutating filesystem operation of an install, rollback and recovery,
// so that a test can stop the process at any one of them (the crash matrix) and check
// that Recover always ends with exactly the old or exactly the new tree.
type ops struct {
	// point, when set, is called before each mutating operation with its kind and
	// path. Production code leaves it nil; the crash-matrix test kills the process from
	// it at operation N.
	point func(kind, path string)
	// busy bounds how long an operation on a busy (locked) file is retried.
	busy time.Duration
}

func (o *ops) at(kind, path string) {
	if o != nil && o.point != nil {
		o.point(kind, path)
	}
}

func (o *ops) mkdirAll(path string, perm fs.FileMode) error {
	o.at("mkdir", path)
	return os.MkdirAll(path, perm)
}

func (o *ops) rename(from, to string) error {
	o.at("rename", to)
	if err := o.retry(from, func() error { return os.Rename(from, to) }); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(to))
}

func (o *ops) removeAll(path string) error {
	o.at("removeall", path)
	return os.RemoveAll(path)
}

func (o *ops) remove(path string) error {
	o.at("remove", path)
	err := o.retry(path, func() error { return os.Remove(path) })
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// writeFile writes data atomically: temp file, fsync, rename, fsync of the folder.
func (o *ops) writeFile(path string, data []byte, perm fs.FileMode) error {
	o.at("create", path)
	f, err := atomicfile.Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	o.at("commit", path)
	return f.Commit()
}

// exchange swaps the folders a and b. On Linux it is one renameat2(RENAME_EXCHANGE);
// elsewhere it is three renames through a third name, and after a crash
// settleExchange tells how far they went from which of the names exist.
func (o *ops) exchange(a, b string) error {
	o.at("exchange", a)
	if err := o.exchangeDirs(a, b); err != nil {
		return fmt.Errorf("exchange %s and %s: %w", a, b, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(a)); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(b))
}

// step marks a point that is not a filesystem call of its own (a hook, an extraction
// of many files) so that the crash matrix also stops there.
func (o *ops) step(name string) { o.at("step", name) }
