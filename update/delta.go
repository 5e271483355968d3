package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/update/source"
)

// deltaRef returns the delta of ref's pack from version from, as a packRef whose
// binding carries from=from, when the module can use one: a tree of files whose
// live folder will hold from's tree when ref is installed (installed is the version
// the live folder holds now), and the delta is smaller than the full pack.
func (e *Engine) deltaRef(m *ModuleConfig, installed, from string, ref packRef) (packRef, bool) {
	if from == "" || (m.Kind != "" && m.Kind != KindFiles) {
		return packRef{}, false
	}
	d, ok := ref.pack.DeltaFrom(from)
	// A delta not smaller than the full pack is never worth it, whatever the
	// manifest lists.
	if !ok || d.Size <= 0 || ref.pack.Size <= 0 || d.Size >= ref.pack.Size {
		return packRef{}, false
	}
	if from == installed {
		if fi, err := os.Lstat(m.Path); err != nil || !fi.IsDir() {
			return packRef{}, false
		}
	}
	p := &manifest.Pack{Platform: ref.pack.Platform, File: d.File, Size: d.Size, SHA256: d.SHA256}
	return packRef{module: ref.module, release: ref.release, pack: p, from: from}, true
}

// fullDownloaded reports whether ref's full pack is already in the downloads folder.
func (e *Engine) fullDownloaded(ref packRef) bool {
	final := e.downloadPath(ref.module, ref.release.Version, ref.pack.File)
	fi, err := os.Stat(final)
	return err == nil && fi.Size() == ref.pack.Size
}

// obtain downloads what installing ref over version from needs: the delta from
// from when the manifest lists one and the module can use it, else (or when the
// delta cannot be downloaded, or the full pack is already there) the full pack.
func (e *Engine) obtain(ctx context.Context, m *ModuleConfig, installed, from string, ref packRef) (*downloaded, error) {
	dref, ok := e.deltaRef(m, installed, from, ref)
	if ok && !e.fullDownloaded(ref) {
		e.emit(Event{Module: m.Name, Version: ref.release.Version, Step: StepDownload, Total: dref.pack.Size,
			Message: fmt.Sprintf("delta from %s: %d bytes instead of %d", from, dref.pack.Size, ref.pack.Size)})
		dd, err := e.download(ctx, dref)
		if err == nil {
			return &downloaded{ref: ref, delta: dd}, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		e.log.Warn("the delta cannot be downloaded: downloading the full pack", "module", m.Name, "version", ref.release.Version, "from", from, "delta", dref.pack.File, "err", err)
		d, ferr := e.download(ctx, ref)
		if ferr != nil {
			return nil, ferr
		}
		d.deltaNote = "full pack: the delta from " + from + " failed: " + err.Error()
		return d, nil
	}
	return e.download(ctx, ref)
}

// stage writes the new tree of d into the stage: rebuilt from the live tree and
// d's delta when it has one and the live folder holds the installed version, else
// (or when the delta fails for any reason but a cancellation) extracted from the
// full pack, downloaded then.
func (e *Engine) stage(ctx context.Context, m *ModuleConfig, md *moduleDirs, d *downloaded, liveManaged bool) error {
	if d.delta == nil {
		return e.extract(ctx, m, d, md.work.anchored(stageName))
	}
	reason := "the live folder does not hold " + d.delta.ref.from
	if liveManaged {
		err := e.applyDelta(ctx, m, md, d)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		reason = err.Error()
	}
	from, to := d.delta.ref.from, d.ref.release.Version
	d.delta.close()
	d.delta = nil
	e.log.Warn("the delta cannot rebuild the new tree: using the full pack", "module", m.Name, "version", to, "from", from, "err", reason)
	e.emit(Event{Module: m.Name, Version: to, Step: StepDownload, Message: "delta from " + from + " failed, downloading the full pack: " + reason})
	full, err := e.download(ctx, d.ref)
	if err != nil {
		return err
	}
	*d = *full
	d.deltaNote = "full pack: the delta from " + from + " failed: " + reason
	return e.extract(ctx, m, d, md.work.anchored(stageName))
}

// applyDelta rebuilds d's tree into the stage from the live tree (only read,
// through a handle on the live folder) and d's delta. A live file that is not the
// one of the installed version is fetched alone from the full pack, by Range
// requests.
func (e *Engine) applyDelta(ctx context.Context, m *ModuleConfig, md *moduleDirs, d *downloaded) error {
	e.ops.step("extract")
	dd := d.delta
	to, from := d.ref.release.Version, dd.ref.from
	f, size, opts, done, err := e.openPack(dd, m.Name, to)
	if err != nil {
		return err
	}
	defer done()
	live, err := md.parent.sub(md.name)
	if err != nil {
		return err
	}
	defer live.close()
	ef := &entryFetcher{ra: &rangeReaderAt{ctx: ctx, src: e.src, name: d.ref.pack.File, size: d.ref.pack.Size}}
	opts = append(opts, pack.WithFetch(ef.fetch))
	rep, err := pack.ApplyDelta(ctx, f, size, live.anchored("."), md.work.anchored(stageName), opts...)
	dd.close()
	if err != nil {
		return fmt.Errorf("delta %s from %s: %w", dd.ref.pack.File, from, err)
	}
	used := size + ef.ra.received.Load()
	d.deltaUsed, d.saved = true, d.ref.pack.Size-used
	d.deltaNote = fmt.Sprintf("delta from %s: %d bytes instead of %d", from, used, d.ref.pack.Size)
	if len(rep.Fetched) > 0 {
		d.deltaNote += fmt.Sprintf("; %d files changed in the live folder fetched alone from the full pack (%s)",
			len(rep.Fetched), strings.Join(rep.Fetched[:min(len(rep.Fetched), 5)], ", "))
	}
	e.log.Info("new tree rebuilt from a delta", "module", m.Name, "version", to, "from", from,
		"bytes", used, "full", d.ref.pack.Size, "same", rep.Same, "patched", rep.Patched, "whole", rep.Whole,
		"fetched", len(rep.Fetched), "range_requests", ef.ra.requests.Load())
	e.emit(Event{Module: m.Name, Version: to, Step: StepExtract, Done: rep.Bytes, Total: rep.Bytes, Message: d.deltaNote})
	return nil
}

// entryFetcher reads single files of a full pack by Range requests, for
// pack.WithFetch: the pack's index is read once, on the first file asked for.
type entryFetcher struct {
	ra   *rangeReaderAt
	mu   sync.Mutex
	idx  *pack.Index
	ierr error
}

func (f *entryFetcher) fetch(ctx context.Context, name string, w io.Writer) error {
	f.mu.Lock()
	if f.idx == nil && f.ierr == nil {
		f.idx, f.ierr = pack.ReadIndex(f.ra, f.ra.size)
		if f.ierr != nil {
			f.ierr = fmt.Errorf("reading the central directory of %s: %w", f.ra.name, f.ierr)
		}
	}
	idx, err := f.idx, f.ierr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return idx.CopyEntry(ctx, name, w)
}

// rangeReaderAt reads a file of the source by Range requests (source.Request.Length),
// one per ReadAt, keeping the file's tail (the first read a zip reader makes) for the
// reads that fall in it. The file must have size bytes, as the signed manifest says:
// a server that gives another size, or ignores Range requests, fails the read.
type rangeReaderAt struct {
	ctx  context.Context
	src  source.Source
	name string
	size int64

	mu       sync.Mutex
	tail     []byte // the file's last len(tail) bytes
	received atomic.Int64
	requests atomic.Int64
}

// errRangeSize is a server whose file has another size than the manifest's.
var errRangeSize = errors.New("the server's file has another size than the manifest's")

func (r *rangeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", r.name)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-off))
	r.mu.Lock()
	if t := r.size - int64(len(r.tail)); len(r.tail) > 0 && off >= t {
		copy(p[:n], r.tail[off-t:])
		r.mu.Unlock()
		return eofIfShort(n, len(p))
	}
	r.mu.Unlock()
	r.requests.Add(1)
	resp, err := r.src.Fetch(r.ctx, source.Request{Name: r.name, Offset: off, Length: int64(n)})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.Offset != off || resp.Size >= 0 && resp.Size != r.size {
		return 0, fmt.Errorf("read %s: %w (%d bytes from offset %d, %d expected)", resp.Location, errRangeSize, resp.Size, resp.Offset, r.size)
	}
	k, err := io.ReadFull(resp.Body, p[:n])
	r.received.Add(int64(k))
	if err != nil {
		return k, err
	}
	if off+int64(n) == r.size && n <= 1<<20 {
		r.mu.Lock()
		if n > len(r.tail) {
			r.tail = append([]byte(nil), p[:n]...)
		}
		r.mu.Unlock()
	}
	return eofIfShort(n, len(p))
}

func eofIfShort(n, want int) (int, error) {
	if n < want {
		return n, io.EOF
	}
	return n, nil
}
