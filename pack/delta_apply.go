package pack

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
)

// FetchFunc writes the new content of the file name (a path of the delta's listing)
// to w. [ApplyDelta] calls it, when given [WithFetch], for each file whose base is
// missing or not the one the delta was built from; what it writes is checked against
// the listing's size and SHA-256 like any rebuilt file.
type FetchFunc func(ctx context.Context, name string, w io.Writer) error

// WithFetch makes [ApplyDelta] call f for each file its base cannot give (see
// [FetchFunc]) instead of failing with [ErrBase]; f may be called from several
// goroutines at once. Default: none, a wrong base fails.
func WithFetch(f FetchFunc) Option {
	return func(o *options) error {
		o.fetch = f
		return nil
	}
}

// DeltaReport says what [ApplyDelta] did.
type DeltaReport struct {
	Report
	// Same, Patched, Whole count the files copied from the base, patched, and
	// written whole from the delta; Fetched lists the files the base could not give,
	// obtained through [WithFetch] (FetchedBytes in all).
	Same, Patched, Whole int
	Fetched              []string
	FetchedBytes         int64
}

// ApplyDelta rebuilds into dest the new tree of the delta held in r (size bytes) from
// the tree at baseDir, which is only read, through an [os.Root] (on Linux, one
// openat2(2) per file with the same guarantee) that follows no link out of it and no
// link at a file's own name, and never waits on a FIFO. dest must not exist or be an
// empty folder.
//
// The delta is checked first as [ReadDeltaInfo] does (every [Limits] bound applies to
// the rebuilt tree, and a patch's dictionary counts with its frame for
// [Limits.MaxRatio]). The tree is then written as [Extract] writes a pack: into a
// hidden temporary sibling of dest, files created with O_EXCL by parallel workers,
// links last, made durable, renamed into place. Each rebuilt file's bytes are
// counted and must have the listing's size and SHA-256. A base file that is missing,
// not a regular file, or not the content the delta expects (for a patch: the
// listing's base SHA-256) is obtained from the [WithFetch] function, or else fails
// with [ErrBase] naming it. On any error the temporary tree is removed and dest is
// left as it was. Memory is bounded: a worker holds three zstd windows of at most 8
// MiB for a patch (the base is read where the patch copies from, never held whole;
// in the "upkeep-delta/1" format, one base file of up to [MaxDeltaDict] bytes and
// one zstd window).
func ApplyDelta(ctx context.Context, r io.ReaderAt, size int64, baseDir, dest string, opts ...Option) (*DeltaReport, error) {
	start := time.Now()
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	dest, existed, err := checkDest(dest)
	if err != nil {
		return nil, err
	}
	if o.verify != nil {
		if err := o.verify(io.NewSectionReader(r, 0, size)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrVerify, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	d, err := openDelta(r, size, o)
	if err != nil {
		return nil, err
	}
	base, err := os.OpenRoot(baseDir)
	if err != nil {
		return nil, entryErr("", RuleBase, ErrBase, err.Error())
	}
	defer base.Close()
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".upkeep-*")
	if err != nil {
		return nil, entryErr("", RuleDestination, ErrDestination, err.Error())
	}
	x := &extraction{a: &archive{r: r, size: size, files: d.files}, o: o, tmp: tmp}
	x.umask, x.umaskKnown = processUmask()
	ap := &applier{x: x, d: d, base: base, items: make(map[*file]int, len(d.files))}
	if ap.baseDir, err = base.Open("."); err == nil {
		defer ap.baseDir.Close()
	}
	for i, f := range d.files {
		ap.items[f] = i
	}
	x.writeAll = ap.writeAll
	rep, err := x.run(ctx)
	if err == nil {
		err = x.finish(dest, existed)
	}
	if err != nil {
		removeTree(tmp)
		return nil, err
	}
	rep.Duration = time.Since(start)
	dr := &DeltaReport{Report: *rep, Same: int(ap.same.Load()), Patched: int(ap.patched.Load()),
		Whole: int(ap.whole.Load()), Fetched: ap.fetched, FetchedBytes: ap.fetchedBytes}
	o.logger.Debug("delta applied", "dest", dest, "files", dr.Files, "same", dr.Same, "patched", dr.Patched,
		"whole", dr.Whole, "fetched", len(dr.Fetched), "bytes", dr.Bytes, "duration", dr.Duration)
	return dr, nil
}

// applier writes the files of one ApplyDelta call.
type applier struct {
	x    *extraction
	d    *delta
	base *os.Root
	// baseDir is the base's folder opened through base, for openBeneath; baseSlow
	// says openBeneath is not available.
	baseDir  *os.File
	baseSlow atomic.Bool
	items    map[*file]int // index in d.files

	same, patched, whole atomic.Int64
	mu                   sync.Mutex
	fetched              []string
	fetchedBytes         int64
}

// deltaWorker is one worker's reusable state.
type deltaWorker struct {
	br   *bufio.Reader
	buf  []byte
	dict []byte
	dec  decoders
	zd   *zstd.Decoder // with the current dictionary
	pd   patchDecoder
	h    hash.Hash
}

// errBaseMismatch marks a base file that cannot be used; the caller fetches or fails.
type errBaseMismatch struct{ detail string }

func (e *errBaseMismatch) Error() string { return e.detail }

func (ap *applier) writeAll(ctx context.Context, files []*file) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Largest first, so that one does not end up alone at the end.
	order := make([]*file, len(files))
	copy(order, files)
	sortBySizeDesc(order)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(ap.x.o.workers, max(len(order), 1)) {
		wg.Go(func() {
			w := &deltaWorker{br: newReadBuffer(), buf: make([]byte, copyBufSize), h: sha256.New()}
			defer w.dec.close()
			defer w.pd.close()
			defer func() {
				if w.zd != nil {
					w.zd.Close()
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(order) || ctx.Err() != nil {
					return
				}
				if err := ap.writeOne(ctx, w, order[i]); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// writeOne writes one file of the new tree.
func (ap *applier) writeOne(ctx context.Context, w *deltaWorker, f *file) error {
	x := ap.x
	i := ap.items[f]
	e := &ap.d.info.Entries[i]
	mode := x.o.installMode(f.mode)
	out, err := x.create(f.path, mode)
	if err != nil {
		return writeErr(f.name, err)
	}
	defer func() {
		if out != nil {
			out.Close()
		}
	}()
	err = ap.produce(ctx, w, e, ap.d.data[i], out)
	var mis *errBaseMismatch
	if errors.As(err, &mis) {
		if x.o.fetch == nil {
			return entryErr(f.name, RuleBase, ErrBase, mis.detail)
		}
		// Start the file again from nothing.
		out.Close()
		out = nil
		if err := x.root.Remove(f.path); err != nil {
			return writeErr(f.name, err)
		}
		if out, err = x.create(f.path, mode); err != nil {
			return writeErr(f.name, err)
		}
		cw := w.check(e, out)
		if err := x.o.fetch(ctx, f.path, cw); err != nil {
			if ee := new(EntryError); errors.As(err, &ee) && ee.Entry == f.name {
				return err
			}
			return entryErr(f.name, RuleBase, ErrBase, fmt.Sprintf("%s; fetching it failed: %v", mis.detail, err))
		}
		if err := cw.done(); err != nil {
			return err
		}
		ap.mu.Lock()
		ap.fetched = append(ap.fetched, f.path)
		ap.fetchedBytes += e.Size
		ap.mu.Unlock()
		err = nil
	}
	if err != nil {
		return err
	}
	x.add(e.Size)
	o := out
	out = nil
	return x.finishFile(f, o, mode)
}

// produce writes e's content to out: copied from the base, patched, or from the
// delta. It returns an *errBaseMismatch when the base cannot give it.
func (ap *applier) produce(ctx context.Context, w *deltaWorker, e *DeltaEntry, zf *file, out io.Writer) error {
	cw := w.check(e, out)
	switch e.Op {
	case DeltaSame:
		in, err := ap.openBase(e.Path, e.Size)
		if err != nil {
			return err
		}
		defer in.Close()
		if err := copyBase(ctx, cw, in, w.buf[:sameBufSize]); err != nil {
			return err
		}
		if err := cw.done(); err != nil {
			if errors.Is(err, ErrChecksum) || errors.Is(err, ErrFormat) {
				return &errBaseMismatch{"the base file's content is not the expected one"}
			}
			return err
		}
		ap.same.Add(1)
		return nil
	case DeltaPatch:
		if ap.d.version == 2 {
			if err := ap.patch(ctx, w, e, zf, cw); err != nil {
				return err
			}
			ap.patched.Add(1)
			return nil
		}
		if err := ap.readDict(w, e); err != nil {
			return err
		}
		src := io.NewSectionReader(ap.d.a.r, zf.dataOffset, int64(zf.csize))
		w.br.Reset(src)
		var err error
		if w.zd == nil {
			w.zd, err = zstd.NewReader(w.br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderDictRaw(deltaDictID, w.dict))
		} else {
			err = w.zd.ResetWithOptions(w.br, zstd.WithDecoderDictRaw(deltaDictID, w.dict))
		}
		if err != nil {
			return entryErr(zf.name, RuleStructure, ErrFormat, err.Error())
		}
		if err := ap.decodeInto(ctx, w, cw, w.zd, zf); err != nil {
			return err
		}
		ap.patched.Add(1)
		return nil
	default:
		src, err := w.dec.open(ap.d.a, zf, w.br)
		if err != nil {
			return err
		}
		if err := ap.decodeInto(ctx, w, cw, src, zf); err != nil {
			return err
		}
		ap.whole.Add(1)
		return nil
	}
}

// patch rebuilds e from its base and the patch held in zf ("upkeep-delta/2"): the
// base is checked against the listing's SHA-256 first, then read where the patch
// copies from, never held whole.
func (ap *applier) patch(ctx context.Context, w *deltaWorker, e *DeltaEntry, zf *file, cw *checkWriter) error {
	in, err := ap.openBase(e.Path, e.BaseSize)
	if err != nil {
		return err
	}
	defer in.Close()
	base, ok := in.(io.ReaderAt)
	if !ok {
		return &errBaseMismatch{"the base file cannot be read at random places"}
	}
	bh := sha256.New()
	if _, err := io.CopyBuffer(bh, &ctxReader{ctx: ctx, r: in}, w.buf); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &errBaseMismatch{"reading the base file: " + err.Error()}
	}
	if [32]byte(bh.Sum(nil)) != e.BaseSHA256 {
		return &errBaseMismatch{"the base file's content is not the one the patch was built from (SHA-256 " +
			hex.EncodeToString(e.BaseSHA256[:8]) + "…)"}
	}
	src := io.NewSectionReader(ap.d.a.r, zf.dataOffset, int64(zf.csize))
	err = w.pd.apply(ctx, src, int64(zf.csize), base, e.BaseSize, cw)
	var mis *errBaseMismatch
	switch {
	case err == nil:
		return cw.done()
	case errors.Is(err, errPatch):
		return entryErr(zf.name, RuleStructure, ErrFormat, err.Error())
	case errors.As(err, &mis), ctx.Err() != nil:
		return err
	}
	var ee *EntryError
	if errors.As(err, &ee) {
		return err
	}
	return entryErr(zf.name, RuleStructure, ErrFormat, err.Error())
}

// sameBufSize is the chunk in which an unchanged file is read, hashed and written:
// small enough to stay in the CPU's cache between the three (64 KiB measured
// faster than 32 KiB and 256 KiB on a 500 MB tree in tmpfs).
const sameBufSize = 64 << 10

// copyBase copies the base file in to cw through buf, reading each byte once.
func copyBase(ctx context.Context, cw *checkWriter, in io.Reader, buf []byte) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, rerr := in.Read(buf)
		if k > 0 {
			if _, err := cw.Write(buf[:k]); err != nil {
				if cw.err != nil {
					return cw.err
				}
				return &errBaseMismatch{"reading the base file: " + err.Error()}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return &errBaseMismatch{"reading the base file: " + rerr.Error()}
		}
	}
}

// decodeInto copies the decoded data of zf into cw and checks it.
func (ap *applier) decodeInto(ctx context.Context, w *deltaWorker, cw *checkWriter, src io.Reader, zf *file) error {
	for {
		k, rerr := io.ReadFull(src, w.buf)
		if k > 0 {
			if _, err := cw.Write(w.buf[:k]); err != nil {
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if rerr != nil {
			return entryErr(zf.name, RuleStructure, ErrFormat, "decompressing: "+rerr.Error())
		}
	}
	return cw.done()
}

// openBase opens the base file name, which must be a regular file of size bytes. On
// Linux one openat2(2) below the base's handle replaces the walk of os.Root.
func (ap *applier) openBase(name string, size int64) (io.ReadCloser, error) {
	var in io.ReadCloser
	var regular bool
	var got int64
	var err error
	ok := false
	if ap.baseDir != nil && !ap.baseSlow.Load() {
		in, regular, got, ok, err = openBeneath(ap.baseDir, name)
		if !ok {
			ap.baseSlow.Store(true)
		} else if errors.Is(err, syscall.ENAMETOOLONG) {
			ok = false // a name too long for one call is walked by os.Root
		}
	}
	if !ok {
		in, regular, got, err = ap.openBaseRoot(name)
	}
	if err != nil {
		return nil, &errBaseMismatch{"opening the base file: " + err.Error()}
	}
	switch {
	case !regular:
		in.Close()
		return nil, &errBaseMismatch{"the base file is not a regular file"}
	case got != size:
		in.Close()
		return nil, &errBaseMismatch{fmt.Sprintf("the base file has %d bytes, the delta expects %d", got, size)}
	}
	return in, nil
}

// openBaseRoot opens the base file name through os.Root, without blocking on a FIFO.
func (ap *applier) openBaseRoot(name string) (io.ReadCloser, bool, int64, error) {
	in, err := ap.base.OpenFile(name, os.O_RDONLY|oNoFollow|oNonBlock, 0)
	if err != nil {
		return nil, false, 0, err
	}
	fi, err := in.Stat()
	if err != nil {
		in.Close()
		return nil, false, 0, err
	}
	return in, fi.Mode().IsRegular(), fi.Size(), nil
}

// readDict reads e's base file into w.dict and checks its SHA-256.
func (ap *applier) readDict(w *deltaWorker, e *DeltaEntry) error {
	in, err := ap.openBase(e.Path, e.BaseSize)
	if err != nil {
		return err
	}
	defer in.Close()
	if int64(cap(w.dict)) < e.BaseSize {
		w.dict = make([]byte, e.BaseSize)
	}
	w.dict = w.dict[:e.BaseSize]
	if _, err := io.ReadFull(in, w.dict); err != nil {
		return &errBaseMismatch{"reading the base file: " + err.Error()}
	}
	if sha256.Sum256(w.dict) != e.BaseSHA256 {
		return &errBaseMismatch{"the base file's content is not the one the patch was built from (SHA-256 " +
			hex.EncodeToString(e.BaseSHA256[:8]) + "…)"}
	}
	return nil
}

// checkWriter writes a rebuilt file, counting its bytes against the listing's size
// and hashing them.
type checkWriter struct {
	e   *DeltaEntry
	out io.Writer
	h   hash.Hash
	n   int64
	err error // a write error of out
}

func (w *deltaWorker) check(e *DeltaEntry, out io.Writer) *checkWriter {
	w.h.Reset()
	return &checkWriter{e: e, out: out, h: w.h}
}

func (c *checkWriter) Write(b []byte) (int, error) {
	if c.n+int64(len(b)) > c.e.Size {
		return 0, entryErr(c.e.Path, RuleSize, ErrLimit, fmt.Sprintf("rebuilds beyond its declared %d bytes", c.e.Size))
	}
	c.n += int64(len(b))
	c.h.Write(b)
	if _, err := c.out.Write(b); err != nil {
		c.err = writeErr(c.e.Path, err)
		return 0, c.err
	}
	return len(b), nil
}

// done checks the size and SHA-256 of what was written.
func (c *checkWriter) done() error {
	if c.n != c.e.Size {
		return entryErr(c.e.Path, RuleSize, ErrFormat, fmt.Sprintf("rebuilt %d bytes, %d declared", c.n, c.e.Size))
	}
	if [32]byte(c.h.Sum(nil)) != c.e.SHA256 {
		return entryErr(c.e.Path, RuleChecksum, ErrChecksum, "rebuilt content does not match the listing's SHA-256")
	}
	return nil
}

// RuleChecksum (sha256): a rebuilt file whose SHA-256 is not the listing's.
const RuleChecksum Rule = "sha256"

// sortBySizeDesc sorts files largest first.
func sortBySizeDesc(files []*file) {
	slices.SortStableFunc(files, func(a, b *file) int { return cmp.Compare(b.usize, a.usize) })
}
