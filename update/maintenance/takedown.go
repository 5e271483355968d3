package maintenance

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
)

// ErrNoFlag is returned, wrapped in a [*FlagError], by [Flag.TakeDown] when no file is
// at the flag's path.
var ErrNoFlag = errors.New("maintenance: no flag file")

// ErrOwnFlag is returned, wrapped in a [*FlagError], by [Flag.TakeDown] when the file at
// the flag's path is upkeep's own: an install under way placed it, or recovery clears
// it (`upkeep recover`).
var ErrOwnFlag = errors.New("maintenance: the flag file is upkeep's own (recovery clears it)")

// MaxSitePage bounds the site's own maintenance page ([Flag.BakName]) that a flag
// shows; a larger one is ignored and upkeep's built-in page is shown.
const MaxSitePage = 1 << 20

// BakName is the name of the site's own maintenance page kept beside the flag, as the
// Altazion procedure names it: the flag's name with its extension replaced by ".bak"
// (app_offline.htm and app_offline.html give app_offline.bak). When that file is there,
// [Flag.Place] shows it instead of upkeep's built-in page.
func (f Flag) BakName() string {
	return strings.TrimSuffix(f.Name, filepath.Ext(f.Name)) + ".bak"
}

// TakeDown takes a module out of a maintenance flag upkeep did not place (a person, an
// older tool), as the seed's procedure does, deleting nothing: the file at the flag's
// path in dir is renamed to [Flag.BakName] when nothing is there under that name;
// otherwise it is moved into keepDir (created when missing) under its name and the
// time. It returns where the file went. Every step goes through a handle on dir that
// follows no link: a link at the flag's name is moved as a link.
//
// It returns a [*FlagError] wrapping [ErrNoFlag] when nothing is at the flag's path and
// [ErrOwnFlag] when the file is upkeep's own flag.
func (f Flag) TakeDown(dir, keepDir string) (string, error) {
	p, err := f.path(dir)
	if err != nil {
		return "", &FlagError{Op: "take down", Path: p, Err: err}
	}
	where, err := f.takeDown(dir, keepDir)
	if err != nil {
		return "", &FlagError{Op: "take down", Path: p, Err: err}
	}
	return where, nil
}

func (f Flag) takeDown(dir, keepDir string) (string, error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoFlag
	}
	if err != nil {
		return "", err
	}
	defer root.Close()
	fi, err := root.Lstat(f.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoFlag
	}
	if err != nil {
		return "", err
	}
	if fi.Mode().IsRegular() {
		head, err := readHeadIn(root, f.Name)
		if err != nil {
			return "", err
		}
		if IsFlagContent(head) {
			return "", ErrOwnFlag
		}
	}
	bak := f.BakName()
	if bak != f.Name {
		// A hard link fails when the name is taken: no .bak is ever replaced.
		err := root.Link(f.Name, bak)
		switch {
		case err == nil:
			return filepath.Join(dir, bak), f.removeIfSame(root, fi)
		case errors.Is(err, fs.ErrExist):
			// The site's page is there already: the flag goes to keepDir.
		default:
			if _, lerr := root.Lstat(bak); errors.Is(lerr, fs.ErrNotExist) {
				// No hard links here (FAT, some shares): rename, now that the name is free.
				if err := root.Rename(f.Name, bak); err != nil {
					return "", err
				}
				return filepath.Join(dir, bak), atomicfile.SyncDir(dir)
			}
		}
	}
	return f.moveToKeep(root, fi, dir, keepDir)
}

// moveToKeep copies the flag (a regular file or a link) into keepDir, then removes it
// from the module folder if it is still the file copied.
func (f Flag) moveToKeep(root *os.Root, fi fs.FileInfo, dir, keepDir string) (string, error) {
	if err := os.MkdirAll(keepDir, 0o700); err != nil {
		return "", err
	}
	dst := filepath.Join(keepDir, f.Name+"."+time.Now().UTC().Format("20060102T150405.000000000"))
	switch {
	case fi.Mode().Type() == fs.ModeSymlink:
		target, err := root.Readlink(f.Name)
		if err != nil {
			return "", err
		}
		if err := os.Symlink(target, dst); err != nil {
			return "", err
		}
	case fi.Mode().IsRegular():
		src, err := root.OpenFile(f.Name, os.O_RDONLY|oNoFollow, 0)
		if err != nil {
			return "", err
		}
		defer src.Close()
		sfi, err := src.Stat()
		if err != nil {
			return "", err
		}
		if !os.SameFile(sfi, fi) {
			return "", fmt.Errorf("%s changed while it was taken down; try again", f.Name)
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(out, src)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("%s is a %s, not a file: take it away by hand", f.Name, fi.Mode().Type())
	}
	if err := atomicfile.SyncDir(keepDir); err != nil {
		return "", err
	}
	return dst, f.removeIfSame(root, fi)
}

// removeIfSame removes the flag's name from root when it still names the file fi
// describes, whose content is kept elsewhere by now.
func (f Flag) removeIfSame(root *os.Root, fi fs.FileInfo) error {
	now, err := root.Lstat(f.Name)
	if err != nil {
		return err
	}
	if !os.SameFile(now, fi) {
		return fmt.Errorf("%s was replaced while it was taken down; the new file is left", f.Name)
	}
	if err := root.Remove(f.Name); err != nil {
		return err
	}
	return atomicfile.SyncDir(root.Name())
}

// readHeadIn is readHead through root, following no link.
func readHeadIn(root *os.Root, name string) ([]byte, error) {
	fh, err := root.OpenFile(name, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, 256))
}

// sitePage returns the site's own maintenance page kept beside the flag in dir, nil
// when there is none (or it is not a regular file, or larger than MaxSitePage).
func (f Flag) sitePage(dir string) []byte {
	bak := f.BakName()
	if bak == f.Name {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil
	}
	defer root.Close()
	fh, err := root.OpenFile(bak, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxSitePage+1))
	if err != nil || len(b) > MaxSitePage {
		return nil
	}
	return b
}
