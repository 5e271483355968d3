package pack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// A delta is a zip holding the listing of a whole new tree ([DeltaListingName]) and,
// for each file that changed, either a patch that rebuilds it from the same path's old
// file ("patch/PATH", stored) or the whole new file ("file/PATH", zstd-compressed).
// Unchanged files are only listed; removed files are absent.
//
// In the "upkeep-delta/2" format a patch is a list of copies from anywhere in the
// old file, replaced bytes and inserted bytes, compressed with zstd (see
// delta_patch.go). The "upkeep-delta/1" format, which [ApplyDelta] still reads,
// held a zstd frame compressed with the old file as a raw dictionary: the encoder's
// hash tables are fixed in size (a few hundred thousand buckets), so over a base of
// megabytes most of the old file cannot be found again, and a 13.6 MB binary with 60
// bytes changed gave a 5.7 MB patch. Agents that read only the first format refuse
// a delta of the second by its "format" field, and install from the full pack.
const (
	// DeltaListingName is the zip entry holding a delta's listing (JSON).
	DeltaListingName = "upkeep-delta.json"
	// DeltaFormat is the value of the listing's "format" field of the deltas
	// [BuildDelta] writes.
	DeltaFormat = "upkeep-delta/2"
	// DeltaFormatV1 is the earlier format, whose patches are zstd frames with the
	// old file as a raw dictionary; [ApplyDelta] still applies it.
	DeltaFormatV1 = "upkeep-delta/1"
	// MaxDeltaDict bounds, in the "upkeep-delta/1" format, the old file used as a
	// dictionary and the new file patched with it: it bounds the memory of
	// [ApplyDelta] (one dictionary and one zstd window per worker).
	MaxDeltaDict = 16 << 20
	// maxDeltaListing bounds the decompressed listing.
	maxDeltaListing = 64 << 20
	deltaPatchDir   = "patch/"
	deltaFileDir    = "file/"
	deltaDictID     = 1
)

// DeltaOp is how [ApplyDelta] rebuilds one file of the new tree.
type DeltaOp string

// The operations of [DeltaEntry.Op].
const (
	// DeltaSame: the base holds the file unchanged; it is copied.
	DeltaSame DeltaOp = "same"
	// DeltaPatch: the delta holds a zstd frame to decode with the base's file (whose
	// SHA-256 is [DeltaEntry.BaseSHA256]) as dictionary.
	DeltaPatch DeltaOp = "patch"
	// DeltaWhole: the delta holds the whole file.
	DeltaWhole DeltaOp = "whole"
)

// ErrBase is returned (in an [*EntryError] naming the file, rule [RuleBase]) when a
// base file is missing or is not the content the delta was built from, and no
// fetch function ([WithFetch]) supplied the file instead.
var ErrBase = errors.New("pack: base does not match the delta")

// RuleBase (base): a base file missing or not the one the delta was built from.
const RuleBase Rule = "base"

// RuleListing (listing): a delta's listing that is malformed or disagrees with the
// delta's entries.
const RuleListing Rule = "listing"

// DeltaEntry is one entry of a delta's listing: a file, folder or link of the new
// tree.
type DeltaEntry struct {
	Path       string      // slash-separated, no trailing slash
	Mode       fs.FileMode // type bits, permissions, and the sticky bit of a folder
	Size       int64       // bytes of a file
	SHA256     [32]byte    // of a file's new content
	Link       string      // target of a link
	Op         DeltaOp     // for files
	BaseSize   int64       // for DeltaPatch: the old file's size…
	BaseSHA256 [32]byte    // …and SHA-256
	Data       int64       // bytes this entry takes in the delta (compressed)
}

// DeltaInfo describes a checked delta.
type DeltaInfo struct {
	Entries []DeltaEntry // in listing order
	// Size is the bytes of the new tree's files; Data the bytes the delta holds for
	// them.
	Size, Data int64
	// Same, Patched, Whole count the files by operation.
	Same, Patched, Whole int
}

// deltaListing is the JSON of [DeltaListingName].
type deltaListing struct {
	Format  string          `json:"format"`
	Entries []deltaListItem `json:"entries"`
}

// deltaListItem is one entry of the JSON listing. Mode holds the permission bits,
// with 0o1000 for a folder's sticky bit.
type deltaListItem struct {
	Path       string  `json:"path"`
	Type       string  `json:"type"` // "file", "dir", "link"
	Mode       uint32  `json:"mode"`
	MTime      int64   `json:"mtime"` // Unix seconds
	Size       int64   `json:"size,omitempty"`
	SHA256     string  `json:"sha256,omitempty"`
	Target     string  `json:"target,omitempty"`
	Op         DeltaOp `json:"op,omitempty"`
	BaseSize   int64   `json:"base_size,omitempty"`
	BaseSHA256 string  `json:"base_sha256,omitempty"`
}

// compressedExts are file types whose content is already compressed: patching them
// rarely pays, so they are held whole.
var compressedExts = map[string]bool{
	".gz": true, ".tgz": true, ".zip": true, ".jar": true, ".war": true, ".zst": true, ".xz": true,
	".bz2": true, ".7z": true, ".lz4": true, ".br": true, ".png": true, ".jpg": true, ".jpeg": true,
	".gif": true, ".webp": true, ".avif": true, ".mp3": true, ".mp4": true, ".webm": true,
	".ogg": true, ".woff": true, ".woff2": true, ".pdf": true, ".docx": true, ".xlsx": true, ".nupkg": true,
}

// BuildDeltaDir writes a delta from the tree at oldDir to the tree at newDir, as
// [BuildDelta] does with os.DirFS.
func BuildDeltaDir(ctx context.Context, w io.Writer, oldDir, newDir string, opts ...BuildOption) error {
	for _, d := range []string{oldDir, newDir} {
		fi, err := os.Stat(d)
		if err != nil {
			return &EntryError{Rule: RuleRead, Err: err}
		}
		if !fi.IsDir() {
			return &EntryError{Rule: RuleRead, Err: fmt.Errorf("%s is not a folder", d)}
		}
	}
	return BuildDelta(ctx, w, os.DirFS(oldDir), os.DirFS(newDir), opts...)
}

// BuildDelta writes to w a delta that rebuilds the tree newFS from the tree oldFS
// ([ApplyDelta]). The listing names every file, folder and link of newFS with its
// mode, mtime (or [WithModTime]'s), size and SHA-256. A file whose old version (same
// path) has the same content is only listed; a changed file of at most
// [MaxDeltaPatch] bytes, whose old version is at most as large and not of an
// already-compressed type, is held as a patch against the old file, when that patch
// is smaller than the file compressed alone; every other file is held whole,
// zstd-compressed. Files are hashed and patched by runtime.GOMAXPROCS(0) workers and
// written in order: the same trees give the same bytes. Only changed files up to
// [MaxDeltaPatch] are held in memory (with their old version and an index of it
// while patched), at most two per worker.
// [WithMethod] is ignored.
func BuildDelta(ctx context.Context, w io.Writer, oldFS, newFS fs.FS, opts ...BuildOption) error {
	o := &buildOptions{method: Zstd}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return err
		}
	}
	entries, err := walkTree(ctx, newFS, o)
	if err != nil {
		return err
	}
	b := &deltaBuilder{oldFS: oldFS, newFS: newFS, buf: make([]byte, copyBufSize)}
	b.zw = zip.NewWriter(w)
	b.zw.RegisterCompressor(uint16(Zstd), func(w io.Writer) (io.WriteCloser, error) {
		if b.whole == nil {
			var err error
			b.whole, err = zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true),
				zstd.WithWindowSize(8<<20), zstd.WithEncoderLevel(zstd.SpeedDefault))
			return b.whole, err
		}
		b.whole.Reset(w)
		return b.whole, nil
	})
	defer func() {
		if b.whole != nil {
			b.whole.Close()
		}
	}()
	list := deltaListing{Format: DeltaFormat, Entries: make([]deltaListItem, len(entries))}
	if err := b.files(ctx, entries, list.Entries); err != nil {
		return err
	}
	js, err := json.Marshal(&list)
	if err != nil {
		return &EntryError{Entry: DeltaListingName, Rule: RuleWrite, Err: err}
	}
	if err := b.add(DeltaListingName, Zstd, bytes.NewReader(js)); err != nil {
		return err
	}
	if err := b.zw.Close(); err != nil {
		return &EntryError{Rule: RuleWrite, Err: err}
	}
	return nil
}

// deltaBuilder is one BuildDelta call's state.
type deltaBuilder struct {
	oldFS, newFS fs.FS
	zw           *zip.Writer
	whole        *zstd.Encoder
	buf          []byte
}

// deltaResult is what a worker decided for one entry; the writer turns it into a zip
// entry, in the listing's order.
type deltaResult struct {
	done  chan struct{}
	err   error
	frame []byte // DeltaPatch: the frame
	cur   []byte // DeltaWhole: the content when it was read whole, else nil
}

// deltaBuildWorker is one worker's reusable state.
type deltaBuildWorker struct {
	buf   []byte
	alone *zstd.Encoder // for the size of a file compressed alone
	patch patchEncoder
}

// files fills items (one per entry) and writes the zip entries of the changed files.
// Files are hashed, compared and patched by GOMAXPROCS workers; their entries are
// written in the listing's order, so the same trees still give the same bytes. At
// most 2 × workers files are in flight: memory stays bounded by that many changed
// files of up to [MaxDeltaPatch] bytes (with their old versions while patched).
func (b *deltaBuilder) files(ctx context.Context, entries []*buildEntry, items []deltaListItem) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]deltaResult, len(entries))
	var files []int
	for i, e := range entries {
		it := &items[i]
		*it = deltaListItem{Path: e.path, Mode: uint32(e.mode.Perm()), MTime: e.modTime.Unix()}
		switch e.kind {
		case kindDir:
			it.Type = "dir"
			if e.mode&fs.ModeSticky != 0 {
				it.Mode |= 0o1000
			}
		case kindLink:
			it.Type, it.Target, it.Mode = "link", e.link, 0o777
		default:
			it.Type, it.Size = "file", e.size
			results[i].done = make(chan struct{})
			files = append(files, i)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan int)
	slots := make(chan struct{}, 2*workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before wg.Wait: stops the dispatcher, and so the workers
	wg.Go(func() {
		defer close(jobs)
		for _, i := range files {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			w := &deltaBuildWorker{buf: make([]byte, copyBufSize)}
			defer func() {
				if w.alone != nil {
					w.alone.Close()
				}
				w.patch.close()
			}()
			for i := range jobs {
				r := &results[i]
				if r.err = ctx.Err(); r.err == nil {
					r.err = b.file(ctx, w, entries[i], &items[i], r)
				}
				close(r.done)
			}
		})
	}
	for _, i := range files {
		r := &results[i]
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		err := b.emit(ctx, entries[i], &items[i], r)
		*r = deltaResult{}
		<-slots
		if err != nil {
			return err
		}
	}
	return nil
}

// file decides how the file e is held and fills it.Op, it.SHA256 (and the base
// fields), and r with what the writer needs.
func (b *deltaBuilder) file(ctx context.Context, w *deltaBuildWorker, e *buildEntry, it *deltaListItem, r *deltaResult) error {
	newSum, err := hashFile(ctx, b.newFS, e.path, w.buf)
	if err != nil {
		return &EntryError{Entry: e.path, Rule: RuleRead, Err: err}
	}
	it.SHA256 = hex.EncodeToString(newSum[:])
	old, err := fs.Lstat(b.oldFS, e.path)
	if err != nil || !old.Mode().IsRegular() {
		it.Op = DeltaWhole
		return nil
	}
	if old.Size() == e.size {
		oldSum, err := hashFile(ctx, b.oldFS, e.path, w.buf)
		if err != nil {
			return &EntryError{Entry: e.path, Rule: RuleRead, Err: err}
		}
		if oldSum == newSum {
			it.Op = DeltaSame
			return nil
		}
	}
	if old.Size() == 0 || old.Size() > MaxDeltaPatch || e.size > MaxDeltaPatch ||
		compressedExts[strings.ToLower(path.Ext(e.path))] {
		it.Op = DeltaWhole
		return nil
	}
	dict, err := fs.ReadFile(b.oldFS, e.path)
	if err != nil {
		return &EntryError{Entry: e.path, Rule: RuleRead, Err: err}
	}
	cur, err := fs.ReadFile(b.newFS, e.path)
	if err != nil {
		return &EntryError{Entry: e.path, Rule: RuleRead, Err: err}
	}
	if sha256.Sum256(cur) != newSum || len(dict) > MaxDeltaPatch {
		return &EntryError{Entry: e.path, Rule: RuleRead, Err: errors.New("file changed while the delta was built")}
	}
	frame, err := w.patch.encode(ctx, dict, cur)
	if err != nil {
		return &EntryError{Entry: e.path, Rule: RuleWrite, Err: err}
	}
	// Does the patch pay? Compare with the file compressed alone (cheaply: fastest level
	// underestimates the whole entry's cost only slightly, and only small frames pass).
	if w.alone == nil {
		if w.alone, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithWindowSize(8<<20)); err != nil {
			return &EntryError{Entry: e.path, Rule: RuleWrite, Err: err}
		}
	}
	wholeLen := len(w.alone.EncodeAll(cur, nil))
	if len(frame) >= wholeLen {
		it.Op, r.cur = DeltaWhole, cur
		return nil
	}
	oldSum := sha256.Sum256(dict)
	it.Op, it.BaseSize, it.BaseSHA256 = DeltaPatch, int64(len(dict)), hex.EncodeToString(oldSum[:])
	r.frame = frame
	return nil
}

// emit writes the zip entry of the file e, if it has one.
func (b *deltaBuilder) emit(ctx context.Context, e *buildEntry, it *deltaListItem, r *deltaResult) error {
	switch {
	case it.Op == DeltaPatch:
		return b.add(deltaPatchDir+e.path, Store, bytes.NewReader(r.frame))
	case it.Op == DeltaWhole && r.cur != nil:
		return b.add(deltaFileDir+e.path, Zstd, bytes.NewReader(r.cur))
	case it.Op == DeltaWhole:
		return b.addFile(ctx, e)
	}
	return nil
}

// addFile writes e's content, compressed, as a whole entry.
func (b *deltaBuilder) addFile(ctx context.Context, e *buildEntry) error {
	f, err := b.newFS.Open(e.path)
	if err != nil {
		return &EntryError{Entry: e.path, Rule: RuleRead, Err: err}
	}
	defer f.Close()
	return b.add(deltaFileDir+e.path, Zstd, &ctxReader{ctx: ctx, r: f})
}

// add writes one zip entry of the delta.
func (b *deltaBuilder) add(name string, m Method, r io.Reader) error {
	h := &zip.FileHeader{Name: name, Method: uint16(m)}
	h.SetMode(0o644)
	w, err := b.zw.CreateHeader(h)
	if err != nil {
		return &EntryError{Entry: name, Rule: RuleWrite, Err: err}
	}
	if _, err := io.CopyBuffer(w, r, b.buf); err != nil {
		return &EntryError{Entry: name, Rule: RuleWrite, Err: err}
	}
	return nil
}

// hashFile returns the SHA-256 of the file name in fsys.
func hashFile(ctx context.Context, fsys fs.FS, name string, buf []byte) ([32]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: f}, buf); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
