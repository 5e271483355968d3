package update

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Names inside a module's work folder.
const (
	stageName   = "stage"   // the new tree before the swap, the previous one after it
	restoreName = "restore" // an inplace backup being unpacked to be put back
	backupName  = "backup"  // kept previous trees (swap strategy)
)

// dir is a folder opened once: every change under it goes through this handle, never
// through its path again, so that a folder renamed or replaced by a link meanwhile
// (by an account that can write beside it) cannot redirect a delete, rename or chmod
// elsewhere. Root confines names to the folder; f is the folder itself, for the *at
// system calls that move entries between two folders.
type dir struct {
	*os.Root
	f    *os.File
	path string // for messages, and on systems without *at calls
}

// openDir opens path as a dir. The path itself is trusted (it comes from the
// configuration); what lies under it is not.
func openDir(path string) (*dir, error) {
	r, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	return rootDir(r, path)
}

func rootDir(r *os.Root, path string) (*dir, error) {
	f, err := r.Open(".")
	if err != nil {
		r.Close()
		return nil, err
	}
	return &dir{Root: r, f: f, path: path}, nil
}

// sub opens the folder name under d, refusing a link: the folder is looked at
// without following links, then opened, then checked to be the same folder, so that
// a folder swapped for a link between the two is detected.
func (d *dir) sub(name string) (*dir, error) {
	p := filepath.Join(d.path, name)
	before, err := d.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !before.IsDir() {
		return nil, &os.PathError{Op: "open", Path: p, Err: errNotPlainDir}
	}
	r, err := d.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	after, err := r.Stat(".")
	if err != nil || !os.SameFile(before, after) {
		r.Close()
		return nil, &os.PathError{Op: "open", Path: p, Err: errNotPlainDir}
	}
	return rootDir(r, p)
}

var errNotPlainDir = errors.New("not a folder (a link or another kind of file), or replaced while opened")

func (d *dir) close() {
	if d == nil {
		return
	}
	d.f.Close()
	d.Root.Close()
}

// join names an entry of d, for messages and path-based interfaces.
func (d *dir) join(name string) string { return filepath.Join(d.path, filepath.FromSlash(name)) }

// isEmptyDir reports whether the folder name under d holds nothing but the file
// named except.
func (d *dir) isEmptyDir(name, except string) (bool, error) {
	f, err := d.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	ents, err := f.ReadDir(3)
	for _, e := range ents {
		if e.Name() != except || except == "" {
			return false, nil
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return true, nil
}

// moduleDirs are the folders an operation on one module changes: the folder that
// holds the live module folder, and the module's work folder beside it (the stage,
// and for the swap strategy the kept previous trees). Both are opened once per
// operation; the live folder is a name in parent.
type moduleDirs struct {
	parent *dir
	work   *dir
	name   string // the live folder's name in parent
}

func (md *moduleDirs) close() {
	md.work.close()
	md.parent.close()
}

// workName is the name of a module's work folder beside its live folder.
func workName(m *ModuleConfig) string { return "." + filepath.Base(m.Path) + ".upkeep" }

// workDir is the module's work folder, a sibling of its live folder on the same
// filesystem, so that every move into or out of the live folder is a rename.
func workDir(m *ModuleConfig) string {
	return filepath.Join(filepath.Dir(m.Path), workName(m))
}

// openModuleDirs opens the module's folders, creating the work folder (and the
// parent folder) when create is set. It refuses a work folder that is a link, that
// another account owns, or that others can write: upkeep deletes in it.
func (e *Engine) openModuleDirs(m *ModuleConfig, create bool) (*moduleDirs, error) {
	parentPath := filepath.Dir(m.Path)
	if create {
		if err := os.MkdirAll(parentPath, 0o755); err != nil {
			return nil, fmt.Errorf("%s: module folder's parent cannot be created: %w", m.Name, err)
		}
	}
	parent, err := openDir(parentPath)
	if err != nil {
		return nil, err
	}
	wn := workName(m)
	if create {
		e.ops.at("mkdir", filepath.Join(parentPath, wn))
		if err := parent.Mkdir(wn, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			parent.close()
			return nil, fmt.Errorf("%s: module folder's parent is not writable: %w", m.Name, err)
		}
	}
	work, err := parent.sub(wn)
	if err != nil {
		parent.close()
		return nil, err
	}
	if err := checkOwned(work, "work folder"); err != nil {
		work.close()
		parent.close()
		return nil, err
	}
	return &moduleDirs{parent: parent, work: work, name: filepath.Base(m.Path)}, nil
}

// workFolderError is a folder upkeep would delete in (its state dir, a module's work
// folder) that another account owns or can write to: it could plant links there to
// make upkeep, often running as root, delete or overwrite files elsewhere.
type workFolderError struct {
	Path   string
	Owner  int         // the folder's owner (uid), -1 where unknown
	Mode   fs.FileMode // the folder's permissions
	Reason string
}

// Error describes the failure, naming the folder and what to do.
func (e *workFolderError) Error() string {
	return fmt.Sprintf("%s: %s (mode %v, owner %d): refusing to work in it; remove it or give it to the account running upkeep with mode 0700", e.Path, e.Reason, e.Mode, e.Owner)
}

// Unwrap returns ErrUnsafeFolder, for errors.Is.
func (e *workFolderError) Unwrap() error { return ErrUnsafeFolder }
