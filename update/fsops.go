package update

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
)

// ops routes every mutating filesystem operation of an install, rollback and recovery,
// so that a test can stop the process at any one of them (the crash matrix) and check
// that Recover always ends with exactly the old or exactly the new tree. Changes under
// a module's folders go through the handles of a moduleDirs (see dir), never through
// paths; only the state dir, which upkeep checks is its own, is written by path.
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

// step marks a point that is not a filesystem call of its own (a hook, an extraction
// of many files) so that the crash matrix also stops there.
func (o *ops) step(name string) { o.at("step", name) }

// mkdirAll creates the folder name under d and its parents.
func (o *ops) mkdirAll(d *dir, name string, perm fs.FileMode) error {
	o.at("mkdir", d.join(name))
	return d.MkdirAll(name, perm)
}

// rename renames from to to, both under d, retrying while the file is busy.
func (o *ops) rename(ctx context.Context, d *dir, from, to string) error {
	o.at("rename", d.join(to))
	if err := o.retry(ctx, d.join(from), func() error { return d.Rename(from, to) }); err != nil {
		return err
	}
	return syncDir(d)
}

// move renames from/fromName to to/toName, two folders of one filesystem.
func (o *ops) move(ctx context.Context, from *dir, fromName string, to *dir, toName string) error {
	o.at("rename", to.join(toName))
	if err := o.retry(ctx, from.join(fromName), func() error { return renameAt(from, fromName, to, toName) }); err != nil {
		return err
	}
	if err := syncDir(to); err != nil {
		return err
	}
	return syncDir(from)
}

// removeAll removes name under d and everything in it; links are removed, never
// followed.
func (o *ops) removeAll(d *dir, name string) error {
	o.at("removeall", d.join(name))
	return d.RemoveAll(name)
}

// remove removes the file or empty folder name under d; a missing one is not an error.
func (o *ops) remove(ctx context.Context, d *dir, name string) error {
	o.at("remove", d.join(name))
	err := o.retry(ctx, d.join(name), func() error { return d.Remove(name) })
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// exchange swaps a/aName and b/bName. On Linux it is one renameat2(RENAME_EXCHANGE);
// elsewhere it is three renames through a third name in a (see exchangeName), and
// after a crash settleExchange tells how far they went from which names exist.
func (o *ops) exchange(ctx context.Context, a *dir, aName string, b *dir, bName string) error {
	o.at("exchange", a.join(aName))
	err := o.retry(ctx, a.join(aName), func() error { return exchangeAt(a, aName, b, bName) })
	if errors.Is(err, errNoExchange) {
		err = o.exchangeByRenames(ctx, a, aName, b, bName)
	}
	if err != nil {
		return err
	}
	if err := syncDir(a); err != nil {
		return err
	}
	return syncDir(b)
}

var errNoExchange = errors.New("no atomic exchange on this system")

// exchangeName is the third name of an exchange by renames, beside the live folder.
func exchangeName(live string) string { return live + ".xchg" }

// exchangeByRenames swaps a/aName and b/bName through a third name in a:
// aName → aName.xchg, bName → aName, aName.xchg → bName. At every point each tree
// exists under exactly one of the three names, so recovery can tell how far it went.
func (o *ops) exchangeByRenames(ctx context.Context, a *dir, aName string, b *dir, bName string) error {
	tmp := exchangeName(aName)
	if err := o.retry(ctx, a.join(aName), func() error { return a.Rename(aName, tmp) }); err != nil {
		return err
	}
	o.at("rename", a.join(aName))
	if err := o.retry(ctx, b.join(bName), func() error { return renameAt(b, bName, a, aName) }); err != nil {
		if rerr := a.Rename(tmp, aName); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	o.at("rename", b.join(bName))
	return o.retry(ctx, a.join(tmp), func() error { return renameAt(a, tmp, b, bName) })
}

// writeFile writes a file of the state dir atomically: temp file, fsync, rename,
// fsync of the folder.
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

// removeFile removes a file of the state dir; a missing one is not an error.
func (o *ops) removeFile(path string) error {
	o.at("remove", path)
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// linkTree fills the empty folder dst with the tree of src, leaving out src's
// top-level file named skip: folders are made anew, files are hard links to src's
// (no data is copied, so it costs one link per file), symbolic links are made again
// with the same target. A file that cannot be linked (another account's, where the
// system protects hard links) is copied. Both trees are walked through handles opened
// without following links, so a link planted in src is never entered.
func (o *ops) linkTree(ctx context.Context, src, dst *dir, skip string) error {
	f, err := src.Open(".")
	if err != nil {
		return err
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := ent.Name()
		if name == skip && skip != "" {
			continue
		}
		switch t := ent.Type(); {
		case t.IsDir():
			if err := o.linkDir(ctx, src, dst, name, name, ""); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			target, err := src.Readlink(name)
			if err != nil {
				return err
			}
			o.at("symlink", dst.join(name))
			if err := dst.Symlink(target, name); err != nil {
				return err
			}
		case t.IsRegular():
			o.at("link", dst.join(name))
			if err := linkAt(src, name, dst, name); err != nil {
				if cerr := copyAt(src, name, dst, name); cerr != nil {
					return errors.Join(err, cerr)
				}
			}
		}
	}
	return nil
}

// linkDir makes the folder srcName of src anew as dstName in dst, fills it with
// linkTree (leaving out the top-level file skip), then gives it the permissions of
// srcName (a read-only folder is filled first).
func (o *ops) linkDir(ctx context.Context, src, dst *dir, srcName, dstName, skip string) error {
	s, err := src.sub(srcName)
	if err != nil {
		return err
	}
	defer s.close()
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	o.at("mkdir", dst.join(dstName))
	if err := dst.Mkdir(dstName, 0o700); err != nil {
		return err
	}
	d, err := dst.sub(dstName)
	if err != nil {
		return err
	}
	defer d.close()
	if err := o.linkTree(ctx, s, d, skip); err != nil {
		return err
	}
	o.at("chmod", dst.join(dstName))
	return dst.Chmod(dstName, fi.Mode().Perm())
}

// copyAt copies the regular file from/fromName to the new file to/toName, through
// the folders' handles and without following links.
func copyAt(from *dir, fromName string, to *dir, toName string) error {
	in, err := from.OpenFile(fromName, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &os.PathError{Op: "copy", Path: from.join(fromName), Err: errors.New("not a regular file")}
	}
	out, err := to.OpenFile(toName, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscallNoFollow, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
