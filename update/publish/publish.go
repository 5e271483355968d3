package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
)

// PublishOptions describes one pack to publish.
type PublishOptions struct {
	Module, Version, Platform string
	From                      string        // the build folder to pack
	MinVersion, Channel       string        // optional
	Product                   string        // for a new repository; default: the module name
	Expires                   time.Duration // manifest lifetime; default 30 days
	Method                    pack.Method   // default deflate
	ModTime                   time.Time     // normalised entry times (SOURCE_DATE_EPOCH); zero keeps them
	Now                       func() time.Time
}

// publishJournal lists the renames that put a publication in place, so that a
// publication interrupted between its last renames is completed by the next one.
const publishJournal = ".upkeep-publish.json"

// maxJournalSize bounds the journal, which names two renames.
const maxJournalSize = 4096

// Publish builds a pack from opts.From, signs it with a trusted comment that binds its
// file, module, version and platform, adds it to repo/manifest.json (serial + 1, new
// expiry) and re-signs the manifest. A repository is a plain folder that any static web
// server can serve; an empty or missing folder becomes a new repository. Nothing is
// visible in the repository until every file is ready.
func Publish(ctx context.Context, repo string, key signature.PrivateKey, opts PublishOptions) (*manifest.Manifest, error) {
	if opts.Module == "" || opts.Version == "" || opts.Platform == "" || opts.From == "" {
		return nil, errors.New("publish: module, version, platform and build folder are required")
	}
	plat, err := manifest.Platform(opts.Platform)
	if err != nil {
		return nil, err
	}
	if _, err := manifest.ParseVersion(opts.Version); err != nil {
		return nil, fmt.Errorf("publish: version %q: %w", opts.Version, err)
	}
	if fi, err := os.Stat(opts.From); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("publish: build folder %s: not a folder", opts.From)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return nil, err
	}
	file := fmt.Sprintf("%s-%s-%s.zip", opts.Module, opts.Version, strings.ReplaceAll(plat, "/", "-"))
	// A pack already listed fails before it is built; the check that counts is the one
	// made again under the lock.
	if m, err := readRepoManifest(repo); err == nil {
		if err := checkNew(m, repo, file); err != nil {
			return nil, err
		}
	}
	// Build and sign the pack outside the lock, into a temporary file of this
	// publication's own, so that parallel publications only wait for each other while
	// the manifest is updated.
	tmpPack, size, sum, err := buildPack(ctx, repo, file, opts)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmpPack) // renamed into place on success
	pf, err := os.Open(tmpPack)
	if err != nil {
		return nil, err
	}
	binding := signature.Binding{File: file, Module: opts.Module, Version: opts.Version, Platform: plat}
	packSig, err := signature.Sign(key, pf, binding.String())
	pf.Close()
	if err != nil {
		return nil, err
	}

	lock, err := lockRepo(ctx, repo, discard)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	// Under the lock, the manifest is the one the last publication left: a publication
	// that waited adds its pack to it.
	if err := completePublish(repo); err != nil {
		return nil, err
	}
	m, err := loadRepoManifest(repo, opts.Product, opts.Module)
	if err != nil {
		return nil, err
	}
	if err := checkNew(m, repo, file); err != nil {
		return nil, err
	}
	rel := manifest.Release{Module: opts.Module, Version: opts.Version, MinVersion: opts.MinVersion, Channel: opts.Channel, Published: now().UTC().Truncate(time.Second)}
	p := manifest.Pack{Platform: plat, File: file, Size: size, SHA256: sum}
	if err := m.AddPack(rel, p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m, commitRepo(repo, key, m, opts.Expires, now, map[string]string{tmpPack: file}, map[string][]byte{file + ".minisig": packSig})
}

// checkNew fails when file is already listed in m: a published pack is never replaced.
func checkNew(m *manifest.Manifest, repo, file string) error {
	for _, r := range m.Releases {
		for _, p := range r.Packs {
			if p.File == file {
				return fmt.Errorf("publish: %s is already published in %s: a published pack is never replaced", file, repo)
			}
		}
	}
	return nil
}

// buildPack builds the pack from opts.From into a new hidden temporary file in repo
// and returns its path, size and SHA-256 (hex).
func buildPack(ctx context.Context, repo, file string, opts PublishOptions) (tmp string, size int64, sum string, err error) {
	bopts := []pack.BuildOption{}
	if opts.Method != 0 {
		bopts = append(bopts, pack.WithMethod(opts.Method))
	}
	if !opts.ModTime.IsZero() {
		bopts = append(bopts, pack.WithModTime(opts.ModTime))
	}
	f, err := os.CreateTemp(repo, "."+file+".tmp-*")
	if err != nil {
		return "", 0, "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err := pack.BuildDir(ctx, cw, opts.From, bopts...); err != nil {
		return "", 0, "", fmt.Errorf("publish: building the pack from %s: %w", opts.From, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return "", 0, "", err
	}
	if err := f.Sync(); err != nil {
		return "", 0, "", err
	}
	if err := f.Close(); err != nil {
		return "", 0, "", err
	}
	return f.Name(), cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

// discard is the logger used until one is given.
var discard = slog.New(slog.DiscardHandler)

// Refresh re-signs the repository's manifest with serial + 1 and a new expiry, adding
// nothing; run it on a schedule so that servers never see an expired manifest.
func Refresh(ctx context.Context, repo string, key signature.PrivateKey, expires time.Duration, now func() time.Time) (*manifest.Manifest, error) {
	if now == nil {
		now = time.Now
	}
	lock, err := lockRepo(ctx, repo, discard)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	defer lock.unlock()
	if err := completePublish(repo); err != nil {
		return nil, err
	}
	m, err := readRepoManifest(repo)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return m, commitRepo(repo, key, m, expires, now, nil, nil)
}

// loadRepoManifest reads the repository's manifest, or starts one for a new repository.
func loadRepoManifest(repo, product, module string) (*manifest.Manifest, error) {
	m, err := readRepoManifest(repo)
	if errors.Is(err, os.ErrNotExist) {
		if product == "" {
			product = module
		}
		return &manifest.Manifest{Schema: manifest.SchemaVersion, Product: product}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return m, nil
}

// readRepoManifest reads and parses the repository's manifest.json.
func readRepoManifest(repo string) (*manifest.Manifest, error) {
	path := filepath.Join(repo, manifest.FileName)
	data, err := limited.ReadFile(path, manifest.MaxSize)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// commitRepo bumps the serial and expiry, signs the manifest, and puts every new file
// in place: first the packs and their signatures (unreferenced until the manifest
// names them), then the manifest's signature and the manifest, listed in a journal so
// that an interruption between those two renames is completed next time.
func commitRepo(repo string, key signature.PrivateKey, m *manifest.Manifest, expires time.Duration, now func() time.Time, moves map[string]string, files map[string][]byte) error {
	if expires <= 0 {
		expires = 30 * 24 * time.Hour
	}
	m.Serial++
	m.Expires = now().UTC().Add(expires).Truncate(time.Second)
	if err := m.Validate(); err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	sig, err := signature.Sign(key, bytes.NewReader(data), fmt.Sprintf("file=%s serial=%d", manifest.FileName, m.Serial))
	if err != nil {
		return err
	}
	for tmp, name := range moves {
		if err := os.Rename(tmp, filepath.Join(repo, name)); err != nil {
			return err
		}
	}
	for name, b := range files {
		if err := atomicfile.WriteFile(filepath.Join(repo, name), b, 0o644); err != nil {
			return err
		}
	}
	tmpM, tmpS := "."+manifest.FileName+".new", "."+manifest.SignatureFileName+".new"
	if err := atomicfile.WriteFile(filepath.Join(repo, tmpM), data, 0o644); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(repo, tmpS), sig, 0o644); err != nil {
		return err
	}
	// Names relative to the repository, so that a repository moved after an
	// interruption still completes.
	j, _ := json.Marshal([][2]string{{tmpS, manifest.SignatureFileName}, {tmpM, manifest.FileName}})
	if err := atomicfile.WriteFile(filepath.Join(repo, publishJournal), j, 0o644); err != nil {
		return err
	}
	return completePublish(repo)
}

// completePublish finishes the renames a journal lists, then drops the journal.
func completePublish(repo string) error {
	jp := filepath.Join(repo, publishJournal)
	b, err := limited.ReadFile(jp, maxJournalSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var moves [][2]string
	if err := json.Unmarshal(b, &moves); err != nil {
		return fmt.Errorf("%s: %w", jp, err)
	}
	for _, mv := range moves {
		// Only the manifest and its signature are ever put in place by the journal;
		// journals of earlier versions named the temporary files by absolute path.
		if mv[1] != manifest.FileName && mv[1] != manifest.SignatureFileName {
			return fmt.Errorf("%s: unexpected target %q", jp, mv[1])
		}
		src := filepath.Join(repo, filepath.Base(mv[0]))
		if _, err := os.Lstat(src); err == nil {
			if err := os.Rename(src, filepath.Join(repo, mv[1])); err != nil {
				return err
			}
		}
	}
	if err := atomicfile.SyncDir(repo); err != nil {
		return err
	}
	return os.Remove(jp)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
