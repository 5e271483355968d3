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
	if err := completePublish(repo); err != nil {
		return nil, err
	}
	m, err := loadRepoManifest(repo, opts.Product, opts.Module)
	if err != nil {
		return nil, err
	}
	file := fmt.Sprintf("%s-%s-%s.zip", opts.Module, opts.Version, strings.ReplaceAll(plat, "/", "-"))
	for _, r := range m.Releases {
		for _, p := range r.Packs {
			if p.File == file {
				return nil, fmt.Errorf("publish: %s is already published in %s: a published pack is never replaced", file, repo)
			}
		}
	}
	// Build and sign the pack into hidden temporaries.
	tmpPack := filepath.Join(repo, "."+file+".tmp")
	defer os.Remove(tmpPack)
	bopts := []pack.BuildOption{}
	if opts.Method != 0 {
		bopts = append(bopts, pack.WithMethod(opts.Method))
	}
	if !opts.ModTime.IsZero() {
		bopts = append(bopts, pack.WithModTime(opts.ModTime))
	}
	h := sha256.New()
	var size int64
	if err := atomicfile.Write(tmpPack, 0o644, func(w io.Writer) error {
		cw := &countWriter{w: io.MultiWriter(w, h)}
		err := pack.BuildDir(ctx, cw, opts.From, bopts...)
		size = cw.n
		return err
	}); err != nil {
		return nil, fmt.Errorf("publish: building the pack from %s: %w", opts.From, err)
	}
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
	rel := manifest.Release{Module: opts.Module, Version: opts.Version, MinVersion: opts.MinVersion, Channel: opts.Channel, Published: now().UTC().Truncate(time.Second)}
	p := manifest.Pack{Platform: plat, File: file, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	if err := m.AddPack(rel, p); err != nil {
		return nil, err
	}
	return m, commitRepo(repo, key, m, opts.Expires, now, map[string]string{tmpPack: file}, map[string][]byte{file + ".minisig": packSig})
}

// Refresh re-signs the repository's manifest with serial + 1 and a new expiry, adding
// nothing; run it on a schedule so that servers never see an expired manifest.
func Refresh(ctx context.Context, repo string, key signature.PrivateKey, expires time.Duration, now func() time.Time) (*manifest.Manifest, error) {
	if now == nil {
		now = time.Now
	}
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
	tmpM := filepath.Join(repo, "."+manifest.FileName+".new")
	tmpS := filepath.Join(repo, "."+manifest.SignatureFileName+".new")
	if err := atomicfile.WriteFile(tmpM, data, 0o644); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(tmpS, sig, 0o644); err != nil {
		return err
	}
	j, _ := json.Marshal([][2]string{{tmpS, manifest.SignatureFileName}, {tmpM, manifest.FileName}})
	if err := atomicfile.WriteFile(filepath.Join(repo, publishJournal), j, 0o644); err != nil {
		return err
	}
	return completePublish(repo)
}

// completePublish finishes the renames a journal lists, then drops the journal.
func completePublish(repo string) error {
	jp := filepath.Join(repo, publishJournal)
	b, err := os.ReadFile(jp)
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
		if _, err := os.Stat(mv[0]); err == nil {
			if err := os.Rename(mv[0], filepath.Join(repo, mv[1])); err != nil {
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
