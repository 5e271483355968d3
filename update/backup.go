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

// backupDir is where previous versions are kept: trees beside the module (swap), or
// tar+zstd archives in the state dir (inplace).
func (e *Engine) backupDir(m *ModuleConfig) string {
	if m.Strategy == InPlace {
		return e.state.module(m.Name, "backups")
	}
	return filepath.Join(workDir(m), "backup")
}

func (e *Engine) backupPath(m *ModuleConfig, v string) string {
	if m.Strategy == InPlace {
		return filepath.Join(e.backupDir(m), v+".tar.zst")
	}
	return filepath.Join(e.backupDir(m), v)
}

// backupVersions lists the kept versions, newest first.
func (e *Engine) backupVersions(m *ModuleConfig) []string {
	if filesOnly(m) != nil {
		return nil
	}
	ents, err := os.ReadDir(e.backupDir(m))
	if err != nil {
		return nil
	}
	var vs []*version.Version
	for _, d := range ents {
		name := d.Name()
		if m.Strategy == InPlace {
			var ok bool
			if name, ok = strings.CutSuffix(name, ".tar.zst"); !ok {
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

// prune keeps the newest cfg.Retention backups. Only versions are pruned: a tree
// kept as "unmanaged-<time>" was not upkeep's, and stays until a person removes it.
func (e *Engine) prune(m *ModuleConfig, md *moduleDirs) {
	if md == nil {
		return
	}
	vs := e.backupVersions(m)
	for i := e.cfg.Retention; i < len(vs); i++ {
		var err error
		if m.Strategy == InPlace {
			err = e.ops.removeFile(e.backupPath(m, vs[i]))
		} else {
			err = e.ops.removeAll(md.work, backupName+"/"+vs[i])
		}
		if err != nil {
			e.log.Warn("pruning backup", "module", m.Name, "version", vs[i], "err", err)
		}
	}
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

// cleanTemps removes what an interrupted operation may leave behind: atomic-write
// temporaries in the module's state folder, and the stage, restore and extraction
// temporaries in its work folder (md nil: the state folder only).
func (e *Engine) cleanTemps(ctx context.Context, m *ModuleConfig, md *moduleDirs) {
	isTemp := func(name string) bool { return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") }
	// Only this module's folders: the state root is shared with other modules and checks.
	dirs := []string{e.state.module(m.Name)}
	if m.Strategy == InPlace {
		dirs = append(dirs, e.backupDir(m))
	}
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		for _, d := range ents {
			if isTemp(d.Name()) {
				e.ops.at("removeall", filepath.Join(dir, d.Name()))
				os.RemoveAll(filepath.Join(dir, d.Name()))
			}
		}
	}
	if md == nil {
		return
	}
	if f, err := md.work.Open(backupName); err == nil {
		ents, _ := f.ReadDir(-1)
		f.Close()
		for _, d := range ents {
			if isTemp(d.Name()) {
				e.ops.removeAll(md.work, backupName+"/"+d.Name())
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
			e.ops.removeAll(md.work, d.Name())
		}
	}
	if _, err := md.parent.Lstat(exchangeName(md.name)); err == nil {
		e.log.Warn("leftover exchange folder kept for inspection", "path", exchangeName(m.Path))
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

// dropWorkDir removes the module's work folder when an operation leaves it empty
// (rmdir, which fails on a folder that is not).
func (e *Engine) dropWorkDir(ctx context.Context, m *ModuleConfig, md *moduleDirs) {
	if md == nil {
		return
	}
	if empty, err := md.parent.isEmptyDir(workName(m), ""); err == nil && empty {
		e.ops.remove(ctx, md.parent, workName(m))
	}
}
