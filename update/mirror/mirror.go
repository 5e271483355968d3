// Package mirror copies an update repository into a folder after verifying it: the
// manifest (signature, binding, product, expiry, serial), the key set when root keys
// are pinned, and every pack (size, SHA-256, signature and binding). update/trust
// decides, as for an agent: the manifest must be of the configured product (else of
// the product of the manifest the mirror holds) and its serial never lower than the
// one the mirror holds. What fails verification is not copied and is named; the rest
// is. The folder is then a repository agents can use as
// their source (a fleet's mirror, an operator's own update server), optionally with
// the manifest co-signed by the operator's key so that agents may require both
// signatures with a threshold of 2.
//
// A second run fetches only what changed: a pack the folder already holds with the
// manifest's size and SHA-256 is kept, and a pack whose download was cut is resumed
// from the bytes already held (a Range request). Every file is written atomically
// (temporary file, fsync, rename) and the manifest last, so the folder is a consistent
// repository at every moment.
//
// It knows nothing of installs: it reads through a [source.Source] and writes files.
package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/source"
	"github.com/upkeep-go/upkeep/update/trust"
)

// PartDir is the hidden folder, inside the mirror, that holds cut downloads until
// they are complete and verified.
const PartDir = ".upkeep-mirror"

// Options say how to verify and what to add.
type Options struct {
	// Keyring verifies the manifest and packs when Roots is nil.
	Keyring *signature.Keyring
	// Roots, when not nil, are the pinned root keys: the signing keys come from the
	// source's keys.json, as an agent with root_keys takes them, and keys.json is
	// copied too.
	Roots *signature.Keyring
	// Threshold is the number of distinct signing keys of keys.json that must sign
	// (with Roots). Default 1.
	Threshold int
	// Product is the only product whose manifest is mirrored. Default: the product
	// of the manifest the mirror holds (any product for an empty mirror).
	Product string
	// Sign, when set, co-signs the mirrored manifest: its block is added to the
	// publisher's signature file.
	Sign *signature.PrivateKey
	// Now is the clock (manifest expiry, key validity). Default time.Now.
	Now func() time.Time
	// Log hears of each file. Default: discard.
	Log *slog.Logger
}

// Failure is a file that failed verification and was not copied.
type Failure struct {
	File string
	Err  error
}

// Report is what a run did.
type Report struct {
	Serial  uint64
	Copied  []string  // packs fetched (whole or resumed) and copied
	Kept    []string  // packs the mirror already held, verified again
	Failed  []Failure // packs not copied
	Fetched int64     // pack bytes fetched
}

// Error is a run in which some packs failed verification: they are named, the rest
// was copied.
type Error struct{ Failed []Failure }

// Error names each file and why.
func (e *Error) Error() string {
	var parts []string
	for _, f := range e.Failed {
		parts = append(parts, f.Err.Error())
	}
	return fmt.Sprintf("mirror: %d file(s) not copied: %s", len(e.Failed), strings.Join(parts, "; "))
}

// Unwrap returns the errors of the files not copied.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, f := range e.Failed {
		errs = append(errs, f.Err)
	}
	return errs
}

type mirror struct {
	src source.Source
	dir string
	o   Options
	rep *Report
}

// Mirror copies the repository src into the folder dir (created if missing). When the
// manifest (or with roots the key set) is refused, nothing is written and the error
// says why. When packs fail, the others and the manifest are still copied, and the
// error is an [*Error] naming them.
func Mirror(ctx context.Context, src source.Source, dir string, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Threshold == 0 {
		o.Threshold = 1
	}
	if o.Keyring == nil && o.Roots == nil {
		return nil, errors.New("mirror: no keyring and no root keys: nothing to verify with")
	}
	m := &mirror{src: src, dir: dir, o: o, rep: &Report{}}
	if err := os.MkdirAll(filepath.Join(dir, PartDir), 0o755); err != nil {
		return nil, err
	}
	var keys *trust.Keys
	var keysData, keysSig []byte
	if o.Roots != nil {
		var err error
		if keys, keysData, keysSig, err = m.keys(ctx); err != nil {
			return nil, err
		}
	} else {
		keys = trust.Pinned(o.Keyring)
	}
	data, sig, man, err := m.manifest(ctx, keys)
	if err != nil {
		return nil, err
	}
	m.rep.Serial = man.Serial
	seen := map[string]bool{}
	for i := range man.Releases {
		r := &man.Releases[i]
		for j := range r.Packs {
			p := &r.Packs[j]
			if seen[p.File] {
				continue
			}
			seen[p.File] = true
			items := []item{{file: p.File, sigName: p.SignatureFile(), sha: p.SHA256, size: p.Size,
				bind: signature.Binding{File: p.File, Module: r.Module, Version: r.Version, Platform: p.Platform}}}
			for _, d := range p.Deltas {
				items = append(items, item{file: d.File, sigName: d.SignatureFile(), sha: d.SHA256, size: d.Size,
					bind: signature.Binding{File: d.File, Module: r.Module, Version: r.Version, Platform: p.Platform, From: d.From}})
			}
			for _, it := range items {
				if err := m.pack(ctx, keys, it); err != nil {
					if ctx.Err() != nil {
						return m.rep, context.Cause(ctx)
					}
					o.Log.Warn("mirror: not copied", slog.String("file", it.file), slog.String("error", err.Error()))
					m.rep.Failed = append(m.rep.Failed, Failure{File: it.file, Err: err})
				}
			}
		}
	}
	if keysData != nil {
		if err := publish.WriteSigned(dir, signature.KeySetFileName, keysData, keysSig); err != nil {
			return m.rep, err
		}
	}
	if o.Sign != nil {
		comment := "timestamp:" + strconv.FormatInt(o.Now().Unix(), 10) + " file=" + manifest.FileName + " serial=" + strconv.FormatUint(man.Serial, 10) + " product=" + man.Product
		blk, err := signature.Sign(*o.Sign, bytes.NewReader(data), comment)
		if err != nil {
			return m.rep, err
		}
		if sig, err = signature.AppendSignature(manifest.SignatureFileName, sig, blk); err != nil {
			return m.rep, err
		}
	}
	if err := publish.WriteSigned(dir, manifest.FileName, data, sig); err != nil {
		return m.rep, err
	}
	if len(m.rep.Failed) > 0 {
		return m.rep, &Error{Failed: m.rep.Failed}
	}
	return m.rep, nil
}

// fetchSmall reads a whole small file from the source.
func (m *mirror) fetchSmall(ctx context.Context, name string, max int64) ([]byte, error) {
	resp, err := m.src.Fetch(ctx, source.Request{Name: name, Max: max})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// local reads a file the mirror holds, nil when it has none.
func (m *mirror) local(name string, max int64) []byte {
	b, err := limited.ReadFile(filepath.Join(m.dir, filepath.FromSlash(name)), max)
	if err != nil {
		return nil
	}
	return b
}

// keys fetches the source's keys.json and has update/trust decide on it after the
// key set the mirror holds (accepted with the configured roots when it was written:
// its version is then the lowest accepted, and the keys it lists that the new one
// drops are revoked). It returns the signing keys.
func (m *mirror) keys(ctx context.Context) (*trust.Keys, []byte, []byte, error) {
	chain := trust.KeyChain{Roots: m.o.Roots}
	if d, s := m.local(signature.KeySetFileName, signature.MaxKeySetSize), m.local(signature.KeySetSignatureFileName, signature.MaxSignatureFileSize); d != nil && s != nil {
		// The mirror's own copy, accepted when written: its expiry no longer matters.
		if held, err := chain.Accept(d, s, time.Time{}); err == nil {
			chain = held
		}
	}
	data, err := m.fetchSmall(ctx, signature.KeySetFileName, signature.MaxKeySetSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mirror: %w", err)
	}
	sig, err := m.fetchSmall(ctx, signature.KeySetSignatureFileName, signature.MaxSignatureFileSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mirror: %w", err)
	}
	next, err := chain.Accept(data, sig, m.o.Now())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mirror: %w", err)
	}
	keys, err := next.Signing(m.o.Now(), m.o.Threshold)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mirror: %w", err)
	}
	return keys, data, sig, nil
}

// manifest fetches the manifest and has update/trust decide on it after the one the
// mirror holds: of the configured product, else of the held one's; a serial never
// lower than the held one's.
func (m *mirror) manifest(ctx context.Context, keys *trust.Keys) ([]byte, []byte, *manifest.Manifest, error) {
	data, err := m.fetchSmall(ctx, manifest.FileName, manifest.MaxSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mirror: %w", err)
	}
	sig, err := m.fetchSmall(ctx, manifest.SignatureFileName, signature.MaxSignatureFileSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mirror: %s has no signature: %w", manifest.FileName, err)
	}
	var held trust.ManifestState
	if d := m.local(manifest.FileName, manifest.MaxSize); d != nil {
		// The mirror's own copy, verified when it was written.
		if hm, err := manifest.Parse(d); err == nil {
			sum := sha256.Sum256(d)
			held = trust.ManifestState{Product: hm.Product, Serial: hm.Serial, SHA256: hex.EncodeToString(sum[:])}
		}
	}
	man, _, err := trust.AcceptManifest(keys, held, m.o.Product, m.o.Now(), data, sig)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mirror: %w", err)
	}
	return data, sig, man, nil
}

// item is a file the manifest lists with its size, SHA-256 and signature binding: a
// pack, or a delta (whose binding adds from=V).
type item struct {
	file, sigName, sha string
	size               int64
	bind               signature.Binding
}

func (it item) pack() trust.Pack {
	return trust.Pack{Binding: it.bind, Size: it.size, MaxSize: it.size, SHA256: it.sha}
}

// pack copies one pack (or delta) and its signature, or keeps the copy held when it
// is the manifest's.
func (m *mirror) pack(ctx context.Context, keys *trust.Keys, it item) error {
	if !fs.ValidPath(it.file) || strings.HasPrefix(it.file, PartDir) || strings.ContainsAny(it.file, `\:`) {
		return fmt.Errorf("pack %q: not a plain relative file name", it.file)
	}
	sigName := it.sigName
	sig, err := m.fetchSmall(ctx, sigName, signature.MaxSignatureFileSize)
	if err != nil {
		return fmt.Errorf("pack %s: signature: %w", it.file, err)
	}
	final := filepath.Join(m.dir, filepath.FromSlash(it.file))
	sigPath := filepath.Join(m.dir, filepath.FromSlash(sigName))
	if fi, err := os.Lstat(final); err == nil && fi.Mode().IsRegular() && fi.Size() == it.size {
		c, err := trust.NewPackCheck(keys, it.pack(), sig)
		if err != nil {
			return err
		}
		err = hashFile(final, c)
		if err == nil {
			_, err = c.Accept()
		}
		c.Close()
		switch {
		case err == nil:
			m.rep.Kept = append(m.rep.Kept, it.file)
			return m.writeSig(sigPath, sig)
		case !errors.Is(err, trust.ErrBadPack):
			return err // the bytes are the manifest's: their signature is refused
		}
		// Not the manifest's bytes: fetched again below.
	}
	part := filepath.Join(m.dir, PartDir, it.sha+".part")
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.Size() > it.size {
		// Longer than the signed size: it cannot be resumed.
		if err := restart(f); err != nil {
			return err
		}
	}
	c, err := trust.NewPackCheck(keys, it.pack(), sig)
	if err != nil {
		return err
	}
	defer c.Close()
	have, err := io.Copy(c, f)
	if err != nil {
		return err
	}
	if have < it.size {
		resp, err := m.src.Fetch(ctx, source.Request{Name: it.file, Offset: have, Max: it.size - have})
		if err != nil {
			return fmt.Errorf("pack %s: %w", it.file, err)
		}
		defer resp.Body.Close()
		if resp.Offset != have && resp.Offset != 0 {
			return fmt.Errorf("pack %s: asked for offset %d, got %d", it.file, have, resp.Offset)
		}
		if resp.Offset != have {
			// The server sent the whole file: start again.
			if err := restart(f); err != nil {
				return err
			}
			c.Close()
			if c, err = trust.NewPackCheck(keys, it.pack(), sig); err != nil {
				return err
			}
			defer c.Close()
		}
		// The check first: a byte past the signed size is refused before it is kept.
		n, err := io.Copy(io.MultiWriter(c, f), resp.Body)
		m.rep.Fetched += n
		if err != nil {
			f.Sync()
			if errors.Is(err, trust.ErrBadPack) {
				f.Close()
				os.Remove(part)
			}
			return fmt.Errorf("pack %s: %w", it.file, err)
		}
	}
	if _, err := c.Accept(); err != nil {
		f.Close()
		os.Remove(part)
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err := m.writeSig(sigPath, sig); err != nil {
		return err
	}
	if err := os.Rename(part, final); err != nil {
		return err
	}
	m.o.Log.Info("mirror: copied", slog.String("file", it.file))
	m.rep.Copied = append(m.rep.Copied, it.file)
	return nil
}

func (m *mirror) writeSig(sigPath string, sig []byte) error {
	if old, err := os.ReadFile(sigPath); err == nil && bytes.Equal(old, sig) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(sigPath), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(sigPath, sig, 0o644)
}

// restart empties a part file whose bytes cannot be resumed.
func restart(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

func hashFile(name string, w io.Writer) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
