package update

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"
	"github.com/klauspost/compress/zstd"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
)

// workDir is the module's sibling folder, on the module's own filesystem: the stage
// folder and (swap) the kept previous trees live there, so that every move into or out
// of the live folder is a rename.
func workDir(m *ModuleConfig) string {
	return filepath.Join(filepath.Dir(m.Path), "."+filepath.Base(m.Path)+".upkeep")
}

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

// prune keeps the newest cfg.Retention backups.
func (e *Engine) prune(m *ModuleConfig) {
	vs := e.backupVersions(m)
	for i := e.cfg.Retention; i < len(vs); i++ {
		if err := e.ops.removeAll(e.backupPath(m, vs[i])); err != nil {
			e.log.Warn("pruning backup", "module", m.Name, "version", vs[i], "err", err)
		}
	}
}

// archiveTree writes dir as tar+zstd to dest atomically, leaving out the top-level
// file named skip (the maintenance flag). Streaming: memory does not grow with the tree.
func (e *Engine) archiveTree(ctx context.Context, dir, dest, skip string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return stateErr(err)
	}
	e.ops.at("create", dest)
	f, err := atomicfile.Create(dest, 0o600)
	if err != nil {
		return stateErr(err)
	}
	defer f.Abort()
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(e.workers))
	if err != nil {
		return err
	}
	zclosed := false
	defer func() {
		if !zclosed {
			zw.Close() // frees the encoder's goroutines on a failed walk
		}
	}()
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || (skip != "" && rel == skip) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		zclosed = true
		err = zw.Close()
	}
	if err != nil {
		return fmt.Errorf("backup of %s: %w", dir, err)
	}
	e.ops.at("commit", dest)
	return f.Commit()
}

// restoreArchive extracts an archive made by archiveTree into dest, which must not
// exist. Everything is created through an os.Root on dest: neither a name nor a link
// in the archive can make it write outside dest.
func (e *Engine) restoreArchive(ctx context.Context, archive, dest string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := e.ops.mkdirAll(dest, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if !fs.ValidPath(name) || name == "." {
			return fmt.Errorf("%s: unsafe entry %q", archive, hdr.Name)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
			root.Chmod(name, mode)
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeReg:
			w, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(w, tr)
			if err == nil {
				err = w.Sync()
			}
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("restoring %s: %w", filepath.Join(dest, name), err)
			}
			root.Chmod(name, mode)
			root.Chtimes(name, hdr.ModTime, hdr.ModTime)
		default:
			return fmt.Errorf("%s: entry %q has unsupported type %q", archive, hdr.Name, hdr.Typeflag)
		}
	}
}

// mirror makes dst hold exactly the tree in src (which it consumes: files are renamed,
// not copied), leaving dst's top-level file named keep alone. src and dst are on one
// filesystem. Every file is replaced by one rename, retried while the file is busy.
// With skipSame, a file already identical in dst (content, mode) is left as it is: a
// restore then does not touch the files a failed install never reached, which matters
// when one of them is the very file that could not be replaced.
func (e *Engine) mirror(ctx context.Context, src, dst, keep string, skipSame bool) error {
	want := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		want[rel] = true
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			fi, err := os.Lstat(target)
			if err == nil && !fi.IsDir() {
				if err := e.ops.remove(target); err != nil {
					return err
				}
			}
			if err != nil || !fi.IsDir() {
				if err := e.ops.mkdirAll(target, 0o755); err != nil {
					return err
				}
			}
			if info, err := d.Info(); err == nil {
				os.Chmod(target, info.Mode().Perm())
			}
			return nil
		}
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			if err := e.ops.removeAll(target); err != nil {
				return err
			}
		} else if err == nil && skipSame && sameFile(p, target) {
			return nil
		}
		return e.ops.rename(p, target)
	})
	if err != nil {
		return err
	}
	var extra []string
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		if rel == "." || rel == keep && keep != "" {
			return nil
		}
		if !want[rel] {
			extra = append(extra, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range extra {
		if err := e.ops.removeAll(p); err != nil {
			return err
		}
	}
	return nil
}

// cleanTemps removes what an interrupted operation may leave behind: atomic-write
// temporaries in the module's state folder, and the stage, restore and extraction
// temporaries in its work folder.
func (e *Engine) cleanTemps(m *ModuleConfig) {
	// Only this module's folders: the state root is shared with other modules and checks.
	for _, dir := range []string{e.state.module(m.Name), e.backupDir(m)} {
		ents, _ := os.ReadDir(dir)
		for _, d := range ents {
			if strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
				e.ops.removeAll(filepath.Join(dir, d.Name()))
			}
		}
	}
	wd := workDir(m)
	ents, _ := os.ReadDir(wd)
	for _, d := range ents {
		if d.Name() != "backup" {
			e.ops.removeAll(filepath.Join(wd, d.Name()))
		}
	}
	if ents, err := os.ReadDir(wd); err == nil && len(ents) == 0 {
		e.ops.remove(wd)
	}
	xchg := m.Path + ".xchg"
	if _, err := os.Lstat(xchg); err == nil {
		e.log.Warn("leftover exchange folder kept for inspection", "path", xchg)
	}
}

// sameFile reports whether two regular files or links have the same mode and content.
func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	if err != nil || fa.Mode() != fb.Mode() || fa.Size() != fb.Size() {
		return false
	}
	if fa.Mode()&fs.ModeSymlink != 0 {
		la, err1 := os.Readlink(a)
		lb, err2 := os.Readlink(b)
		return err1 == nil && err2 == nil && la == lb
	}
	if !fa.Mode().IsRegular() {
		return false
	}
	ra, err := os.Open(a)
	if err != nil {
		return false
	}
	defer ra.Close()
	rb, err := os.Open(b)
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
