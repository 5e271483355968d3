package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/source"
)

// maxResumes bounds how many times one download is resumed after a cut.
const maxResumes = 8

// packRef is everything needed to fetch and verify one pack.
type packRef struct {
	module  string
	release *manifest.Release
	pack    *manifest.Pack
	// from is, for a delta (whose size and SHA-256 are in pack), the version it
	// applies to: its signature's binding must say from=from.
	from string
}

func (p packRef) binding() signature.Binding {
	return signature.Binding{File: p.pack.File, Module: p.module, Version: p.release.Version, Platform: p.pack.Platform, From: p.from}
}

func (p packRef) max() int64 {
	if p.pack.Size > 0 {
		return p.pack.Size
	}
	return MaxUnknownPackSize
}

// downloaded is a pack on disk with its signature, ready for verified extraction.
type downloaded struct {
	path string
	sig  []byte
	ref  packRef
	// verified, when set, is the handle through which the pack was downloaded and
	// checked: extraction reads it without checking again. Otherwise (a pack found
	// already on disk) extraction checks the bytes it reads.
	verified *os.File
	// cached reports whether the pack was found already downloaded (not fetched now).
	cached bool
	// delta, when set, is the delta that rebuilds ref's tree from the live tree; the
	// full pack is then not downloaded (path is ""), unless the delta fails.
	delta *downloaded
	// deltaNote says how the tree was obtained through a delta, or why the delta was
	// given up, for the status and the result; saved is the bytes it spared.
	deltaNote string
	deltaUsed bool
	saved     int64
}

func (d *downloaded) close() {
	if d.verified != nil {
		d.verified.Close()
		d.verified = nil
	}
	if d.delta != nil {
		d.delta.close()
	}
}

// downloadPath is where Download keeps version's pack file of module: its downloads
// folder of the state dir, under VERSION-FILE.
func (e *Engine) downloadPath(module, version, file string) string {
	return filepath.Join(e.state.module(module, "downloads"), version+"-"+filepath.Base(file))
}

// download fetches a pack into the module's downloads folder, resuming after cuts,
// hashing and verifying its signature while the bytes are written. A pack already
// downloaded is not fetched again (it is verified once more at extraction, through the
// handle that extracts it).
func (e *Engine) download(ctx context.Context, ref packRef) (*downloaded, error) {
	final := e.downloadPath(ref.module, ref.release.Version, ref.pack.File)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, stateErr(err)
	}
	sigName := ref.pack.SignatureFile()
	sig, _, _, err := e.fetchSmall(ctx, sigName, signature.MaxSignatureFileSize, CodeBadSignature, "")
	if err != nil {
		if CodeOf(err) == CodeNotFound {
			return nil, &Error{Code: CodeBadSignature, Module: ref.module, Err: fmt.Errorf("pack %s has no signature: %w", ref.pack.File, err)}
		}
		return nil, err
	}
	if fi, err := os.Stat(final); err == nil && (ref.pack.Size == 0 || fi.Size() == ref.pack.Size) {
		e.emit(Event{Module: ref.module, Version: ref.release.Version, Step: StepDownload, Done: fi.Size(), Total: fi.Size(), Message: "already downloaded"})
		return &downloaded{path: final, sig: sig, ref: ref, cached: true}, nil
	}
	f, err := e.fetchPack(ctx, ref, final, sig)
	if err != nil {
		e.updateStatus(e.mustModule(ref.module), func(st *ModuleStatus) {
			st.Download = &DownloadState{Version: ref.release.Version, File: ref.pack.File, State: DownloadFailed}
		})
		return nil, err
	}
	return &downloaded{path: final, sig: sig, ref: ref, verified: f}, nil
}

func (e *Engine) mustModule(name string) *ModuleConfig {
	m, _ := e.cfg.Module(name)
	return m
}

// fetchPack downloads into final+".part", checking size, sha256 and signature on the
// fly, and renames it to final once they are right. A .part left by an earlier cut is
// resumed. It returns the file, still open: the bytes verified are the bytes extracted.
func (e *Engine) fetchPack(ctx context.Context, ref packRef, final string, sig []byte) (*os.File, error) {
	part := final + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, stateErr(err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	check, err := e.newPackCheck(ref, sig)
	if err != nil {
		return nil, err
	}
	// Resume: check what an earlier run left, then go on from there. A part longer
	// than the signed size cannot be resumed (the check would refuse its bytes).
	if fi, err := f.Stat(); err == nil && fi.Size() > ref.max() {
		if err := f.Truncate(0); err != nil {
			check.abort()
			return nil, stateErr(err)
		}
	}
	have, err := io.Copy(check, io.LimitReader(f, ref.max()+1))
	if err != nil {
		check.abort()
		return nil, stateErr(err)
	}
	restart := func() error {
		check.abort()
		if check, err = e.newPackCheck(ref, sig); err != nil {
			return err
		}
		have = 0
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.Seek(0, io.SeekStart)
		return err
	}
	if have > ref.max() {
		if err := restart(); err != nil {
			return nil, err
		}
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		check.abort()
		return nil, err
	}
	pr := &progress{e: e, ref: ref, done: have, start: time.Now(), startDone: have}
	for attempt := 0; ; attempt++ {
		if have == ref.pack.Size && ref.pack.Size > 0 {
			break
		}
		n, done, err := e.fetchFrom(ctx, ref, f, check, have, pr)
		have += n
		if done {
			break
		}
		if err == nil { // the body ended before the size the manifest gives: a cut
			err = io.ErrUnexpectedEOF
		}
		if errors.Is(err, errRestart) {
			if err := restart(); err != nil {
				return nil, err
			}
			pr.done, pr.startDone = 0, 0
			continue
		}
		var ce *Error
		if errors.As(err, &ce) || ctx.Err() != nil || attempt >= maxResumes {
			check.abort()
			if ctx.Err() != nil {
				return nil, ctxErr(ctx)
			}
			if !errors.As(err, &ce) {
				// What was received is kept in the .part file: the next attempt resumes.
				return nil, &Error{Code: CodeUnreachable, Module: ref.module, Err: fmt.Errorf("pack %s: transfer cut %d times, %d of %d bytes kept for a later resume: %w", ref.pack.File, attempt+1, have, ref.pack.Size, err)}
			}
			if ce.Code == CodeBadPack {
				f.Close()
				os.Remove(part)
			}
			return nil, err
		}
		e.log.Info("download cut, resuming", "module", ref.module, "file", ref.pack.File, "offset", have, "err", err)
	}
	if err := check.finish(); err != nil {
		f.Close()
		os.Remove(part)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if err := os.Rename(part, final); err != nil {
		// Some systems refuse to rename an open file: the complete .part is kept, and
		// a later run checks it again.
		e.log.Warn("keeping the download under its .part name", "file", part, "err", err)
	}
	e.updateStatus(e.mustModule(ref.module), func(st *ModuleStatus) {
		st.Download = &DownloadState{Version: ref.release.Version, File: ref.pack.File, Done: have, Total: have, State: DownloadVerified}
	})
	ok = true
	return f, nil
}

var errRestart = errors.New("server ignored the range request")

// fetchFrom fetches the pack from offset have and appends it to f. It returns the
// bytes appended, whether the pack is complete, and the error that cut the transfer.
func (e *Engine) fetchFrom(ctx context.Context, ref packRef, f *os.File, check io.Writer, have int64, pr *progress) (int64, bool, error) {
	resp, err := e.src.Fetch(ctx, source.Request{Name: ref.pack.File, Offset: have, Max: ref.max() - have})
	if err != nil {
		return 0, false, codeFor(ref.module, err)
	}
	defer resp.Body.Close()
	if resp.Offset != have {
		if have > 0 && resp.Offset == 0 {
			return 0, false, errRestart
		}
		return 0, false, &Error{Code: CodeUnreachable, Module: ref.module, Err: fmt.Errorf("%s: asked for offset %d, got %d", resp.Location, have, resp.Offset)}
	}
	if resp.Size >= 0 && ref.pack.Size > 0 && resp.Size != ref.pack.Size {
		return 0, false, &Error{Code: CodeBadPack, Module: ref.module, Err: fmt.Errorf("pack %s: the server has %d bytes, the manifest says %d", resp.Location, resp.Size, ref.pack.Size)}
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, check, pr), resp.Body, make([]byte, 256<<10))
	if err != nil {
		return n, false, codeFor(ref.module, err)
	}
	if ref.pack.Size > 0 {
		return n, have+n == ref.pack.Size, nil
	}
	return n, true, nil
}

// codeFor turns a source error into a coded error, keeping transient cuts uncoded so
// that the download loop resumes them.
func codeFor(module string, err error) error {
	switch {
	case errors.Is(err, source.ErrTooLarge):
		return &Error{Code: CodeBadPack, Module: module, Err: err}
	case errors.Is(err, source.ErrNotFound):
		return &Error{Code: CodeNotFound, Module: module, Err: err}
	case errors.Is(err, source.ErrUnreachable), errors.Is(err, source.ErrDenied):
		return &Error{Code: CodeUnreachable, Module: module, Err: err}
	}
	return err
}

// progress turns written bytes into events, at most a few per second.
type progress struct {
	e                *Engine
	ref              packRef
	done, startDone  int64
	start, lastEvent time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	now := time.Now()
	total := p.ref.pack.Size
	if now.Sub(p.lastEvent) >= 200*time.Millisecond || p.done == total {
		p.lastEvent = now
		rate := float64(p.done-p.startDone) / max(now.Sub(p.start).Seconds(), 1e-3)
		p.e.emit(Event{Module: p.ref.module, Version: p.ref.release.Version, Step: StepDownload, Done: p.done, Total: total, Rate: rate})
	}
	return len(b), nil
}
