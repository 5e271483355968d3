package update

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/tarzst"
)

// versionsIn lists the versions kept in dir, newest first: the folders named as
// versions (suffix "") or the files named as a version and suffix. Names that are
// not versions, such as "unmanaged-<time>", are not listed.
func versionsIn(dir, suffix string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var vs []*version.Version
	for _, d := range ents {
		name := d.Name()
		if suffix != "" {
			var ok bool
			if name, ok = strings.CutSuffix(name, suffix); !ok || d.IsDir() {
				continue
			}
		} else if !d.IsDir() {
			continue
		}
		if v, err := version.NewVersion(name); err == nil {
			vs = append(vs, v)
		}
	}
	sort.Sort(sort.Reverse(version.Collection(vs)))
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Original()
	}
	return out
}

// archiveTree writes the tree of live as tar+zstd to dest (in the state dir)
// atomically, leaving out the top-level file named skip (the maintenance flag).
func (e *Engine) archiveTree(ctx context.Context, live *dir, dest, skip string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return stateErr(err)
	}
	e.ops.at("create", dest)
	f, err := atomicfile.Create(dest, 0o600)
	if err != nil {
		return stateErr(err)
	}
	defer f.Abort()
	if err := tarzst.Write(ctx, f, live.FS(), skip, e.workers); err != nil {
		return fmt.Errorf("backup of %s: %w", live.path, err)
	}
	e.ops.at("commit", dest)
	return f.Commit()
}

// restoreArchive unpacks an archive made by archiveTree into the new folder name
// under d.
func (e *Engine) restoreArchive(ctx context.Context, archive string, d *dir, name string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := e.ops.mkdirAll(d, name, 0o700); err != nil {
		return err
	}
	dest, err := d.sub(name)
	if err != nil {
		return err
	}
	defer dest.close()
	return tarzst.Extract(ctx, f, dest.Root, archive)
}

// mirror makes dst hold exactly the tree in src (which it consumes: files are moved,
// not copied), leaving dst's top-level file named keep alone. src and dst are on one
// filesystem. Every file is replaced by one rename between the handles of its two
// folders, retried while the file is busy; dst's folders are opened through dst's
// handle, so that a folder of dst replaced by a link cannot send a file or a delete
// outside dst. With skipSame, a file already identical in dst (content, mode) is left
// as it is: a restore then does not touch the files a failed install never reached,
// which matters when one of them is the very file that could not be replaced.
func (e *Engine) mirror(ctx context.Context, src, dst *dir, keep string, skipSame bool) error {
	want := map[string]bool{}
	var mv mover
	defer mv.close()
	err := fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		want[p] = true
		if p == "." {
			return nil
		}
		fi, lerr := dst.Lstat(p)
		if d.IsDir() {
			if lerr == nil && !fi.IsDir() {
				if err := e.ops.remove(ctx, dst, p); err != nil {
					return err
				}
			}
			if lerr != nil || !fi.IsDir() {
				if err := e.ops.mkdirAll(dst, p, 0o755); err != nil {
					return err
				}
			}
			if info, err := d.Info(); err == nil {
				e.ops.at("chmod", dst.join(p))
				if err := dst.Chmod(p, info.Mode().Perm()); err != nil {
					return err
				}
			}
			return nil
		}
		if lerr == nil && fi.IsDir() {
			if err := e.ops.removeAll(dst, p); err != nil {
				return err
			}
		} else if lerr == nil && skipSame && sameFile(src, dst, p) {
			return nil
		}
		return mv.move(ctx, e.ops, src, dst, p)
	})
	if err != nil {
		return err
	}
	var extra []string
	err = fs.WalkDir(dst.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." || p == keep && keep != "" {
			return nil
		}
		if !want[p] {
			extra = append(extra, p)
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range extra {
		if err := e.ops.removeAll(dst, p); err != nil {
			return err
		}
	}
	return nil
}

// mover moves files between two trees through handles on their folders, keeping the
// last pair of folders open (a walk visits a folder's files one after another).
type mover struct {
	dir      string
	from, to *dir
}

func (mv *mover) move(ctx context.Context, o *ops, src, dst *dir, p string) error {
	parent, base := path.Split(p)
	parent = strings.TrimSuffix(parent, "/")
	if parent == "" {
		return o.move(ctx, src, base, dst, base)
	}
	if mv.from == nil || mv.dir != parent {
		mv.close()
		from, err := src.sub(parent)
		if err != nil {
			return err
		}
		to, err := dst.sub(parent)
		if err != nil {
			from.close()
			return err
		}
		mv.dir, mv.from, mv.to = parent, from, to
	}
	return o.move(ctx, mv.from, base, mv.to, base)
}

func (mv *mover) close() {
	mv.from.close()
	mv.to.close()
	mv.from, mv.to = nil, nil
}

func isTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") }

// cleanStateTemps removes the atomic-write temporaries an interrupted operation may
// leave in the module's state folder and in extra, its other folders of the state
// dir. Only this module's folders: the state root is shared with other modules.
func (e *Engine) cleanStateTemps(m *ModuleConfig, extra ...string) {
	for _, dir := range append([]string{e.state.module(m.Name)}, extra...) {
		ents, _ := os.ReadDir(dir)
		for _, d := range ents {
			if isTemp(d.Name()) {
				e.ops.at("removeall", filepath.Join(dir, d.Name()))
				os.RemoveAll(filepath.Join(dir, d.Name()))
			}
		}
	}
}

// sameFile reports whether p is the same regular file or link (mode and content) in
// the trees a and b.
func sameFile(a, b *dir, p string) bool {
	fa, err := a.Lstat(p)
	if err != nil {
		return false
	}
	fb, err := b.Lstat(p)
	if err != nil || fa.Mode() != fb.Mode() || fa.Size() != fb.Size() {
		return false
	}
	if fa.Mode()&fs.ModeSymlink != 0 {
		la, err1 := a.Readlink(p)
		lb, err2 := b.Readlink(p)
		return err1 == nil && err2 == nil && la == lb
	}
	if !fa.Mode().IsRegular() {
		return false
	}
	ra, err := a.OpenFile(p, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return false
	}
	defer ra.Close()
	rb, err := b.OpenFile(p, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return false
	}
	defer rb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, erra := io.ReadFull(ra, ba)
		nb, _ := io.ReadFull(rb, bb)
		if na != nb || string(ba[:na]) != string(bb[:nb]) {
			return false
		}
		if erra != nil {
			return true
		}
	}
}
