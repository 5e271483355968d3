// Package tarzst writes a folder tree as a tar stream compressed with zstd, and
// unpacks one, for the backups of trees that are replaced file by file. It reads
// through an fs.FS and writes through an os.Root, so that neither a link in the tree
// read nor a name or link in the archive makes it touch anything outside its folders.
package tarzst

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Write writes the tree of fsys as tar+zstd to w, leaving out the top-level entry
// named skip ("" for none). Links are stored as links, never followed. Memory does
// not grow with the tree. workers bounds the encoder's goroutines (at least 1).
func Write(ctx context.Context, w io.Writer, fsys fs.FS, skip string, workers int) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(max(workers, 1)))
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." || (skip != "" && p == skip) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = fs.ReadLink(fsys, p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = p
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := fsys.Open(p)
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
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return err
}

// Extract unpacks a stream made by Write into root, which should be empty. Every
// entry is created through root: files with O_EXCL, folders and links inside it only.
// name is the archive's name, for messages.
func Extract(ctx context.Context, r io.Reader, root *os.Root, name string) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer zr.Close()
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
			return fmt.Errorf("%s: %w", name, err)
		}
		p := strings.TrimSuffix(hdr.Name, "/")
		if !fs.ValidPath(p) || p == "." || path.Clean(p) != p {
			return fmt.Errorf("%s: unsafe entry %q", name, hdr.Name)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(p, 0o755); err != nil {
				return err
			}
			if err := root.Chmod(p, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			w, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
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
				return fmt.Errorf("%s: restoring %s: %w", name, p, err)
			}
			if err := root.Chmod(p, mode); err != nil {
				return err
			}
			if err := root.Chtimes(p, hdr.ModTime, hdr.ModTime); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: entry %q has unsupported type %q", name, hdr.Name, hdr.Typeflag)
		}
	}
}
