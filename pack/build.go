package pack

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// RuleRead (read): reading the tree being packed failed ([Build] only).
const RuleRead Rule = "read"

// buildOptions are the settings of [Build].
type buildOptions struct {
	method  Method
	modTime time.Time
}

// BuildOption configures [Build] and [BuildDir].
type BuildOption func(*buildOptions) error

// WithMethod sets the compression method of files: [Deflate] (the default), [Zstd]
// or [Store]. Folders and links are always stored.
func WithMethod(m Method) BuildOption {
	return func(o *buildOptions) error {
		if m != Store && m != Deflate && m != Zstd {
			return fmt.Errorf("pack: WithMethod: unsupported method %s", m)
		}
		o.method = m
		return nil
	}
}

// WithModTime gives every entry the modification time t (truncated to the second), so
// that the pack's bytes depend on the tree's content and modes only; pass the time of
// [SourceDateEpoch]. Default: each entry keeps its own mtime.
func WithModTime(t time.Time) BuildOption {
	return func(o *buildOptions) error {
		o.modTime = t.UTC().Truncate(time.Second)
		return nil
	}
}

// SourceDateEpoch reads the SOURCE_DATE_EPOCH environment variable
// (reproducible-builds.org): the time it gives, whether it is set, and an error when
// it is set but not a non-negative integer. The package reads no environment on its
// own; a command calls this and passes the time to [WithModTime].
func SourceDateEpoch() (time.Time, bool, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false, fmt.Errorf("pack: SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", v)
	}
	return time.Unix(n, 0).UTC(), true, nil
}

// BuildDir writes a pack of the tree at dir to w, as [Build] does with os.DirFS(dir).
func BuildDir(ctx context.Context, w io.Writer, dir string, opts ...BuildOption) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return &EntryError{Rule: RuleRead, Err: err}
	}
	if !fi.IsDir() {
		return &EntryError{Rule: RuleRead, Err: fmt.Errorf("%s is not a folder", dir)}
	}
	return Build(ctx, w, os.DirFS(dir), opts...)
}

// buildEntry is one entry of the tree being packed.
type buildEntry struct {
	treeEntry
	mode    fs.FileMode
	modTime time.Time
	size    int64
}

// Build writes a pack of the tree fsys to w: entries sorted by name, folders as
// entries of their own (so empty ones survive), permissions kept, mtimes kept or
// replaced by [WithModTime]. Symbolic links are stored as links when fsys implements
// [fs.ReadLinkFS] and they point inside the tree; a link leaving the tree, a special
// file, or a name that extraction would refuse fails the build, naming the entry.
// The same tree gives the same bytes. Files are streamed: none is held in memory.
func Build(ctx context.Context, w io.Writer, fsys fs.FS, opts ...BuildOption) error {
	o := &buildOptions{method: Deflate}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return err
		}
	}
	entries, err := walkTree(ctx, fsys, o)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	var fw *flate.Writer
	zw.RegisterCompressor(uint16(Deflate), func(w io.Writer) (io.WriteCloser, error) {
		if fw == nil {
			var err error
			fw, err = flate.NewWriter(w, flate.DefaultCompression)
			return fw, err
		}
		fw.Reset(w)
		return fw, nil
	})
	var zw93 *zstd.Encoder
	zw.RegisterCompressor(uint16(Zstd), func(w io.Writer) (io.WriteCloser, error) {
		if zw93 == nil {
			var err error
			zw93, err = zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true),
				zstd.WithWindowSize(8<<20), zstd.WithEncoderLevel(zstd.SpeedDefault))
			return zw93, err
		}
		zw93.Reset(w)
		return zw93, nil
	})
	buf := make([]byte, copyBufSize)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeEntry(ctx, zw, fsys, e, o.method, buf); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return &EntryError{Rule: RuleWrite, Err: err}
	}
	return nil
}

// walkTree lists and checks the tree, sorted by entry name.
func walkTree(ctx context.Context, fsys fs.FS, o *buildOptions) ([]*buildEntry, error) {
	var entries []*buildEntry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &EntryError{Entry: p, Rule: RuleRead, Err: err}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return &EntryError{Entry: p, Rule: RuleRead, Err: err}
		}
		e := &buildEntry{treeEntry: treeEntry{raw: p, path: p}, modTime: info.ModTime().UTC().Truncate(time.Second)}
		if !o.modTime.IsZero() {
			e.modTime = o.modTime
		}
		switch t := info.Mode().Type(); t {
		case fs.ModeDir:
			e.raw += "/"
			e.kind, e.mode = kindDir, fs.ModeDir|info.Mode()&fs.ModeSticky|info.Mode().Perm()
		case fs.ModeSymlink:
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return &EntryError{Entry: p, Rule: RuleLink, Err: err}
			}
			e.kind, e.mode, e.link = kindLink, fs.ModeSymlink|0o777, target
		case 0:
			e.kind, e.mode, e.size = kindFile, info.Mode().Perm(), info.Size()
		default:
			return entryErr(p, RuleSpecial, ErrUnsupported, "special file "+info.Mode().String())
		}
		if _, nerr := checkName(e.raw); nerr != nil {
			return nerr
		}
		if d := strings.Count(p, "/") + 1; d > DefaultMaxDepth {
			return entryErr(e.raw, RuleMaxDepth, ErrLimit, fmt.Sprintf("%d path segments, more than the %d extraction allows by default", d, DefaultMaxDepth))
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	tree := make([]treeEntry, len(entries))
	for i, e := range entries {
		tree[i] = e.treeEntry
	}
	if err := checkTree(tree, false); err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b *buildEntry) int { return strings.Compare(a.raw, b.raw) })
	return entries, nil
}

// writeEntry adds one entry to zw, streaming a file's content.
func writeEntry(ctx context.Context, zw *zip.Writer, fsys fs.FS, e *buildEntry, method Method, buf []byte) error {
	h := &zip.FileHeader{Name: e.raw, Method: uint16(method), Modified: e.modTime}
	h.SetMode(e.mode)
	if e.kind != kindFile {
		h.Method = uint16(Store)
	}
	w, err := zw.CreateHeader(h)
	if err != nil {
		return &EntryError{Entry: e.raw, Rule: RuleWrite, Err: err}
	}
	switch e.kind {
	case kindDir:
		return nil
	case kindLink:
		if _, err := io.WriteString(w, e.link); err != nil {
			return &EntryError{Entry: e.raw, Rule: RuleWrite, Err: err}
		}
		return nil
	}
	f, err := fsys.Open(e.path)
	if err != nil {
		return &EntryError{Entry: e.raw, Rule: RuleRead, Err: err}
	}
	defer f.Close()
	var n int64
	for {
		k, rerr := io.ReadFull(f, buf)
		if k > 0 {
			n += int64(k)
			if _, err := w.Write(buf[:k]); err != nil {
				return &EntryError{Entry: e.raw, Rule: RuleWrite, Err: err}
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return &EntryError{Entry: e.raw, Rule: RuleRead, Err: rerr}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if n != e.size {
		return &EntryError{Entry: e.raw, Rule: RuleRead, Err: fmt.Errorf("file changed while being packed: %d bytes read, %d expected", n, e.size)}
	}
	return nil
}
