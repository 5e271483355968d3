package pack

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrVerify is returned (wrapping the verification function's error) when the
// function given to [WithVerify] refuses the pack; nothing has been written then.
var ErrVerify = errors.New("pack: verification failed")

// Report says what [Extract] wrote and how long it took.
type Report struct {
	Files, Dirs, Links int
	Bytes              int64 // bytes of file content written
	Duration           time.Duration
}

// copyBufSize is the size of each worker's output buffer; readBufSize of its input
// buffer. Together with the decoders they bound a worker's memory.
const (
	copyBufSize = 256 << 10
	readBufSize = 64 << 10
)

// Extract extracts the pack held in r (size bytes) into dest, which must not exist or
// be an empty folder; its parent must exist.
//
// In order: dest is checked; the whole pack is read through the [WithVerify]
// function, if any; the central directory, local headers, names, links and declared
// sizes are checked (as [ReadInfo] does); the tree is written into a hidden temporary
// sibling of dest, files decompressed by parallel workers, counting and checksumming
// the real bytes; the tree is made durable (unless [WithoutSync]); and only then is
// it renamed to dest. On any error the temporary tree is removed and dest is left as
// it was. Files are created with O_EXCL, without following links, inside an
// [os.Root]; links are created last.
func Extract(ctx context.Context, r io.ReaderAt, size int64, dest string, opts ...Option) (*Report, error) {
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
	a, err := openArchive(r, size, o.limits, o.allowCase)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".upkeep-*")
	if err != nil {
		return nil, entryErr("", RuleDestination, ErrDestination, err.Error())
	}
	x := &extraction{a: a, o: o, tmp: tmp}
	x.umask, x.umaskKnown = processUmask()
	rep, err := x.run(ctx)
	if err == nil {
		err = x.finish(dest, existed)
	}
	if err != nil {
		removeTree(tmp)
		return nil, err
	}
	rep.Duration = time.Since(start)
	o.logger.Debug("pack extracted", "dest", dest, "files", rep.Files, "dirs", rep.Dirs,
		"links", rep.Links, "bytes", rep.Bytes, "duration", rep.Duration)
	return rep, nil
}

// checkDest returns dest made absolute, and whether it exists (as an empty folder).
func checkDest(dest string) (string, bool, error) {
	bad := func(detail string) (string, bool, error) {
		return "", false, entryErr("", RuleDestination, ErrDestination, dest+": "+detail)
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return bad(err.Error())
	}
	fi, err := os.Lstat(abs)
	if errors.Is(err, os.ErrNotExist) {
		pfi, err := os.Stat(filepath.Dir(abs))
		if err != nil || !pfi.IsDir() {
			return bad("parent folder does not exist")
		}
		return abs, false, nil
	}
	if err != nil {
		return bad(err.Error())
	}
	if !fi.IsDir() {
		return bad("exists and is not a folder")
	}
	d, err := os.Open(abs)
	if err != nil {
		return bad(err.Error())
	}
	names, err := d.Readdirnames(1)
	d.Close()
	if len(names) > 0 {
		return bad("folder is not empty")
	}
	if err != nil && err != io.EOF {
		return bad(err.Error())
	}
	return abs, true, nil
}

// extraction is one Extract call's state once the pack has been checked.
type extraction struct {
	a    *archive
	o    *options
	tmp  string
	root *os.Root
	dir  *os.File    // the same folder, for createBeneath
	slow atomic.Bool // createBeneath is not available: use root

	umask      fs.FileMode // the process's, when umaskKnown
	umaskKnown bool

	writeAll func(ctx context.Context, files []*file) error // replaces writeFiles (deltas)

	done     atomic.Int64
	total    int64
	progMu   sync.Mutex
	reported atomic.Int64
}

func (x *extraction) run(ctx context.Context) (*Report, error) {
	root, err := os.OpenRoot(x.tmp)
	if err != nil {
		return nil, entryErr("", RuleDestination, ErrDestination, err.Error())
	}
	defer root.Close()
	x.root = root
	if x.dir, err = os.Open(x.tmp); err != nil {
		return nil, writeErr("", err)
	}
	defer x.dir.Close()
	rep := &Report{}

	// Folders first (0700 while we write into them), then files by the workers, then
	// links, so that nothing is ever written through a link. Folders and links are
	// reached through a stack of folder handles (see treePlan), files in one call
	// from the root.
	plan := planTree(x.a.files)
	var files []*file
	for _, f := range x.a.files {
		if f.kind == kindFile {
			files = append(files, f)
			x.total += int64(f.usize)
		}
	}
	dirs := newDirStack(root, plan.dirs)
	defer dirs.close()
	for i, d := range plan.dirs[1:] {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := dirs.at(d.parent)
		if err == nil {
			err = r.Mkdir(d.name, x.createDirMode(d))
		}
		if err != nil {
			return nil, writeErr(plan.dirs[i+1].path, err)
		}
	}
	rep.Dirs = len(plan.dirs) - 1

	write := x.writeFiles
	if x.writeAll != nil {
		write = x.writeAll
	}
	if err := write(ctx, files); err != nil {
		return nil, err
	}
	rep.Files, rep.Bytes = len(files), x.done.Load()

	for _, l := range plan.links {
		r, err := dirs.at(l.parent)
		if err == nil {
			err = r.Symlink(l.f.link, l.name)
		}
		if err != nil {
			return nil, writeErr(l.f.name, err)
		}
	}
	rep.Links = len(plan.links)

	// Folder modes and times last, deepest first, as writing into them changed them.
	for _, d := range slices.Backward(plan.dirs[1:]) {
		mode, mtime := x.dirMode(d), time.Time{}
		if d.f != nil {
			mtime = d.f.modTime
		}
		r, err := dirs.at(d.parent)
		if err != nil {
			return nil, writeErr(d.path, err)
		}
		if x.o.sync == syncPerFile {
			if err := syncDirIn(r, d.name); err != nil {
				return nil, writeErr(d.path, err)
			}
		}
		if x.createDirMode(d) != mode || !x.umaskKnown || mode&x.umask != 0 {
			if err := r.Chmod(d.name, mode); err != nil {
				return nil, writeErr(d.path, err)
			}
		}
		if !mtime.IsZero() {
			if err := r.Chtimes(d.name, mtime, mtime); err != nil {
				return nil, writeErr(d.path, err)
			}
		}
	}
	x.report(true)
	return rep, nil
}

// dirMode is the mode folder d ends with: its entry's, or 0755 when implied.
func (x *extraction) dirMode(d dirNode) os.FileMode {
	if d.f == nil {
		return 0o755
	}
	return x.o.installMode(d.f.mode)
}

// createDirMode is the mode folder d is created with: its final mode when that lets
// the owner write into it (so that, the umask permitting, no chmod follows), else
// 0700 until its files are written.
func (x *extraction) createDirMode(d dirNode) os.FileMode {
	if m := x.dirMode(d); m&0o700 == 0o700 && m&fs.ModeSticky == 0 {
		return m
	}
	return 0o700
}

// finish makes the tree durable and renames it into place.
func (x *extraction) finish(dest string, existed bool) error {
	mode := os.FileMode(0o755)
	if existed {
		if fi, err := os.Stat(dest); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	if err := chmodNoFollow(x.tmp, mode); err != nil {
		return writeErr("", err)
	}
	sync := x.o.sync
	if sync == syncFS {
		if err := syncFilesystem(x.tmp); err != nil {
			return writeErr("", err)
		}
	}
	if sync == syncPerFile {
		if err := syncDir(x.tmp); err != nil {
			return writeErr("", err)
		}
	}
	if err := replaceDir(x.tmp, dest, existed); err != nil {
		return entryErr("", RuleDestination, ErrDestination, err.Error())
	}
	if sync != syncNone {
		if err := syncDir(filepath.Dir(dest)); err != nil {
			return writeErr("", err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return syncDirIn(root, ".")
}

func writeErr(entry string, err error) *EntryError {
	return &EntryError{Entry: entry, Rule: RuleWrite, Err: err}
}

// Small entries are read in batches: one read of up to batchSize bytes of the pack
// serves a run of entries that lie next to each other, instead of one read per entry.
const (
	batchSize  = 512 << 10 // bytes of the pack read at once for a batch
	smallEntry = 64 << 10  // entries up to this compressed size go in batches
)

// job is a worker's unit: one large entry streamed from the pack, or a batch of
// small entries adjacent in the pack, read at once (the bytes [off, end)).
type job struct {
	files    []*file
	off, end int64
}

// planJobs groups files into jobs: large entries first, largest first so that one
// does not end up alone at the end, then batches of small ones in pack order.
func planJobs(files []*file) []job {
	var large, small []*file
	for _, f := range files {
		if f.csize > smallEntry {
			large = append(large, f)
		} else {
			small = append(small, f)
		}
	}
	slices.SortStableFunc(large, func(a, b *file) int { return cmp.Compare(b.csize, a.csize) })
	slices.SortFunc(small, func(a, b *file) int { return cmp.Compare(a.dataOffset, b.dataOffset) })
	jobs := make([]job, 0, len(large)+len(small)/16+1)
	for _, f := range large {
		jobs = append(jobs, job{files: []*file{f}})
	}
	for i := 0; i < len(small); {
		j := job{off: small[i].dataOffset}
		k := i
		for k < len(small) && (k == i || small[k].dataOffset+int64(small[k].csize)-j.off <= batchSize) {
			j.end = max(j.end, small[k].dataOffset+int64(small[k].csize))
			k++
		}
		j.files = small[i:k:k]
		jobs = append(jobs, j)
		i = k
	}
	return jobs
}

// writeFiles decompresses files with a pool of workers.
func (x *extraction) writeFiles(ctx context.Context, files []*file) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := planJobs(files)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(x.o.workers, max(len(jobs), 1)) {
		wg.Go(func() {
			w := newWorker()
			defer w.dec.close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				if err := x.runJob(ctx, w, &jobs[i]); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// runJob writes the files of one job.
func (x *extraction) runJob(ctx context.Context, w *worker, j *job) error {
	if j.end <= j.off { // one large entry, or empty ones: streamed from the pack
		for _, f := range j.files {
			if err := x.writeFile(ctx, w, f, nil); err != nil {
				return err
			}
		}
		return nil
	}
	n := int(j.end - j.off)
	if cap(w.batch) < n {
		w.batch = make([]byte, max(n, batchSize))
	}
	b := w.batch[:n]
	if _, err := x.a.r.ReadAt(b, j.off); err != nil {
		return entryErr(j.files[0].name, RuleStructure, ErrFormat, "reading the pack: "+err.Error())
	}
	for _, f := range j.files {
		w.src.Reset(b[f.dataOffset-j.off : f.dataOffset-j.off+int64(f.csize)])
		if err := x.writeFile(ctx, w, f, &w.src); err != nil {
			return err
		}
	}
	return nil
}

func newReadBuffer() *bufio.Reader { return bufio.NewReaderSize(nil, readBufSize) }

// newWorker returns an extraction worker; decode checks every entry's CRC-32.
func newWorker() *worker {
	return &worker{br: newReadBuffer(), buf: make([]byte, copyBufSize), dec: decoders{crcChecked: true}}
}

// worker is one extraction worker's reusable state.
type worker struct {
	br    *bufio.Reader
	buf   []byte
	batch []byte       // a batch of small entries' compressed bytes
	src   bytes.Reader // one entry of the batch
	dec   decoders
}

// outFile is a file being extracted: an *os.File, or on Linux a bare descriptor.
type outFile interface {
	io.Writer
	Chmod(fs.FileMode) error
	Sync() error
	Close() error
}

// writeFile writes f, its compressed bytes read from src or, when src is nil,
// streamed from the pack. The file is created with its final mode and spared a
// chmod when the umask leaves that mode whole.
func (x *extraction) writeFile(ctx context.Context, w *worker, f *file, src io.Reader) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
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
	if err := x.decode(ctx, w, f, src, out); err != nil {
		return err
	}
	o := out
	out = nil
	return x.finishFile(f, o, mode)
}

// finishFile gives a file whose content is written its mode (only when the umask
// narrowed it at creation) and its time, syncs it when asked, and closes it, whatever
// happens.
func (x *extraction) finishFile(f *file, out outFile, mode fs.FileMode) (err error) {
	defer func() {
		if out != nil {
			out.Close()
		}
	}()
	if !x.umaskKnown || mode&x.umask != 0 {
		if err := out.Chmod(mode); err != nil {
			return writeErr(f.name, err)
		}
	}
	timesSet, err := setTimes(out, f.modTime)
	if err != nil {
		return writeErr(f.name, err)
	}
	if x.o.sync == syncPerFile {
		if err := out.Sync(); err != nil {
			return writeErr(f.name, err)
		}
	}
	cerr := out.Close()
	out = nil
	if cerr != nil {
		return writeErr(f.name, cerr)
	}
	if !timesSet {
		if err := x.root.Chtimes(f.path, f.modTime, f.modTime); err != nil {
			return writeErr(f.name, err)
		}
	}
	return nil
}

// setTimes sets an open file's mtime (and atime) without walking its path again. It
// reports whether it did; where it cannot, the caller uses Root.Chtimes.
func setTimes(out outFile, t time.Time) (bool, error) {
	switch f := out.(type) {
	case interface{ setTimes(time.Time) error }:
		return true, f.setTimes(t)
	case *os.File:
		return setTimesOpen(f, t)
	}
	return false, nil
}

// decode writes f's data to out, decompressed, checking its length and CRC-32
// against what the pack declares. The compressed bytes come from src or, when src
// is nil, from the pack.
func (x *extraction) decode(ctx context.Context, w *worker, f *file, src io.Reader, out io.Writer) error {
	var data io.Reader
	var err error
	switch {
	case f.csize == 0 && f.method == Store:
		data = strings.NewReader("")
	case src != nil:
		data, err = w.dec.openReader(f, src)
	default:
		data, err = w.dec.open(x.a, f, w.br)
	}
	if err != nil {
		return err
	}
	n, crc, err := x.copyOut(ctx, w, f, data, out)
	if err != nil {
		return err
	}
	if n != f.usize {
		return entryErr(f.name, RuleSize, ErrFormat, fmt.Sprintf("%d bytes, %d declared", n, f.usize))
	}
	if crc != f.crc {
		return entryErr(f.name, RuleCRC, ErrChecksum, fmt.Sprintf("CRC-32 %08x, %08x declared", crc, f.crc))
	}
	return nil
}

// copyOut decompresses src into out, counting and checksumming the bytes. (Running
// the checksum and writes of a large entry on a second goroutine was measured: no
// gain, decompression dominates.)
func (x *extraction) copyOut(ctx context.Context, w *worker, f *file, src io.Reader, out io.Writer) (uint64, uint32, error) {
	var n uint64
	var crc uint32
	for {
		k, rerr := io.ReadFull(src, w.buf)
		if k > 0 {
			n += uint64(k)
			if n > f.usize {
				return 0, 0, tooLong(f)
			}
			crc = crc32.Update(crc, crc32.IEEETable, w.buf[:k])
			if _, err := out.Write(w.buf[:k]); err != nil {
				return 0, 0, writeErr(f.name, err)
			}
			x.add(int64(k))
		}
		if done, err := readDone(ctx, f, rerr); done || err != nil {
			return n, crc, err
		}
	}
}

func tooLong(f *file) error {
	return entryErr(f.name, RuleSize, ErrLimit, fmt.Sprintf("inflates beyond its declared %d bytes", f.usize))
}

// readDone interprets a read's error: done at the end of the data, an error naming
// the entry when decompression failed or the extraction was canceled.
func readDone(ctx context.Context, f *file, rerr error) (bool, error) {
	if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
		return true, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if rerr != nil {
		return false, entryErr(f.name, RuleStructure, ErrFormat, "decompressing: "+rerr.Error())
	}
	return false, nil
}

// create creates a file below the temporary folder, exclusively, following no link.
func (x *extraction) create(name string, perm os.FileMode) (outFile, error) {
	if !x.slow.Load() {
		f, ok, err := createBeneath(x.dir, name, perm)
		if ok && !errors.Is(err, syscall.ENAMETOOLONG) {
			return f, err
		}
		if !ok {
			x.slow.Store(true)
		}
		// A name too long for one call (4,096 bytes with the NUL) is walked by os.Root.
	}
	return x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, perm)
}

// add counts n bytes written and reports progress every MiB.
func (x *extraction) add(n int64) {
	done := x.done.Add(n)
	if x.o.progress != nil && done-x.reported.Load() >= 1<<20 {
		x.report(false)
	}
}

func (x *extraction) report(final bool) {
	if x.o.progress == nil {
		return
	}
	x.progMu.Lock()
	defer x.progMu.Unlock()
	done := x.done.Load()
	if done > x.reported.Load() || final {
		x.reported.Store(done)
		x.o.progress(done, x.total)
	}
}

// removeTree removes a temporary tree, making its folders writable first if a
// read-only folder kept RemoveAll from emptying it.
func removeTree(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}
