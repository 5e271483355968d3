package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
)

// Build is one build of a module for one platform, which [Publish] packs and adds to a
// repository.
type Build struct {
	Module   string // required: the module's name (letters, digits, '.', '_', '-')
	Version  string // required
	Platform string // required: Go's GOOS/GOARCH or an HFSQL name (win64, linux64, ...)
	Dir      string // required: the build folder to pack

	MinVersion string // optional: the oldest installed version this release applies to
	Channel    string // optional: the release's channel; default "stable"
	Major      int    // optional: the release's major version (HFSQL's major_version)
	Notes      string // optional: the release notes the portal shows; replaces earlier notes of the release
}

// PackName returns the file name of b's pack in a repository,
// "MODULE-VERSION-GOOS-GOARCH.zip" (the platform in its canonical form).
func (b Build) PackName() (string, error) {
	plat, err := manifest.Platform(b.Platform)
	if err != nil {
		return "", err
	}
	return b.Module + "-" + b.Version + "-" + strings.ReplaceAll(plat, "/", "-") + ".zip", nil
}

// Publish builds a pack from b.Dir, signs it with a trusted comment that binds its
// file, module, version and platform ("file=F module=M version=V platform=P"), adds it
// to the repository's manifest with serial + 1 and a new expiry, and re-signs the
// manifest ("file=manifest.json serial=N product=P"). An empty or missing folder
// becomes a new repository. A pack that the manifest already lists is never replaced:
// publishing it again fails.
//
// The pack is built and signed before the repository's lock ([LockFileName]) is taken;
// under the lock, Publish reads the manifest, adds the pack and puts the files in place,
// so that publications running at once (one CI job per platform) each add their pack
// to what the others published, with serials of their own. While another publication
// holds the lock, Publish waits until ctx ends (or [WithLockTimeout]), then fails with
// a [*LockedError]. Nothing is visible in the repository until every file is ready:
// packs first, then the manifest's signature and the manifest, through a journal that
// the next publication completes when this one is interrupted.
//
// Publish also builds deltas (see [pack.BuildDelta]) from the newest earlier versions
// of the same module and platform that the repository lists ([WithDeltas], default
// 3): each earlier pack is checked against its manifest entry and extracted into a
// temporary folder, the delta "PACK-from-V.zip" is built from that tree to b.Dir,
// signed like the pack with "from=V" added to its binding, and listed in the pack's
// entry (deltas: from, file, size, sha256). An earlier version whose pack cannot be
// read is skipped, with a warning in the log.
//
// Options: [WithExpires], [WithClock], [WithMethod], [WithModTime], [WithProduct],
// [WithLockTimeout], [WithDeltas], [WithLogger]. Errors name the repository
// ("publish DIR: ...").
func Publish(ctx context.Context, repo string, key signature.PrivateKey, b Build, opts ...Option) (m *manifest.Manifest, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("publish %s: %w", repo, err)
		}
	}()
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := b.check()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return nil, err
	}
	// A pack already listed fails before it is built; the check that counts is the one
	// made again under the lock.
	if m, err := readRepoManifest(repo); err == nil {
		if err := checkNew(m, file); err != nil {
			return nil, err
		}
		// On this copy, read for the check only: the same version and platform spelt
		// another way ("1.0" for "1.0.0", "linux64" for "linux/amd64").
		if err := m.AddPack(manifest.Release{Module: b.Module, Version: b.Version},
			manifest.Pack{Platform: b.Platform, File: file, Size: 1, SHA256: strings.Repeat("0", 64)}); err != nil {
			return nil, duplicate(err, b)
		}
	}
	// Build and sign the pack outside the lock, into a temporary file of this
	// publication's own, so that parallel publications only wait for each other while
	// the manifest is updated.
	tmpPack, p, err := buildPack(ctx, repo, file, b, o)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmpPack) // renamed into place on success
	packSig, err := signFile(key, tmpPack, signature.Binding{File: file, Module: b.Module, Version: b.Version, Platform: p.Platform}.String())
	if err != nil {
		return nil, err
	}
	moves := map[string]string{tmpPack: file}
	sigs := map[string][]byte{p.SignatureFile(): packSig}
	deltas, err := buildDeltas(ctx, repo, key, b, p, o)
	for _, d := range deltas {
		defer os.Remove(d.tmp)
		moves[d.tmp] = d.entry.File
		sigs[d.entry.SignatureFile()] = d.sig
		p.Deltas = append(p.Deltas, d.entry)
	}
	if err != nil {
		return nil, err
	}

	lock, err := lockRepo(ctx, repo, o.lockFor, o.logger)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	// Under the lock, the manifest is the one the last publication left: a publication
	// that waited adds its pack to it.
	if err := completePublish(repo, o.logger); err != nil {
		return nil, err
	}
	m, err = loadRepoManifest(repo, o.product, b.Module)
	if err != nil {
		return nil, err
	}
	if err := checkNew(m, file); err != nil {
		return nil, err
	}
	rel := manifest.Release{Module: b.Module, Version: b.Version, MinVersion: b.MinVersion, Channel: b.Channel,
		Major: b.Major, Notes: b.Notes, Published: o.now().UTC().Truncate(time.Second)}
	if err := m.AddPack(rel, p); err != nil {
		return nil, duplicate(err, b)
	}
	if b.Notes != "" {
		setNotes(m, b)
	}
	if err := commitRepo(ctx, repo, key, m, o, moves, sigs); err != nil {
		return nil, err
	}
	return m, nil
}

// Refresh re-signs the repository's manifest with serial + 1 and a new expiry, adding
// nothing; run it on a schedule so that servers never see an expired manifest between
// releases. It takes the repository's lock as [Publish] does, waiting until ctx ends,
// and changes nothing once ctx has ended.
//
// Options: [WithExpires], [WithClock], [WithProduct] (the manifest must name that
// product), [WithLockTimeout], [WithLogger]. Errors name the repository
// ("refresh DIR: ...").
func Refresh(ctx context.Context, repo string, key signature.PrivateKey, opts ...Option) (m *manifest.Manifest, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("refresh %s: %w", repo, err)
		}
	}()
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(repo); err != nil {
		return nil, err
	}
	lock, err := lockRepo(ctx, repo, o.lockFor, o.logger)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	if err := completePublish(repo, o.logger); err != nil {
		return nil, err
	}
	if m, err = readRepoManifest(repo); err != nil {
		return nil, err
	}
	if o.product != "" && m.Product != o.product {
		return nil, fmt.Errorf("%s is the manifest of product %q, not %q", manifest.FileName, m.Product, o.product)
	}
	if err := commitRepo(ctx, repo, key, m, o, nil, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// check validates b as far as it can be before the pack is built, and returns the
// pack's file name.
func (b Build) check() (string, error) {
	for _, f := range []struct{ name, value string }{{"module", b.Module}, {"version", b.Version}, {"platform", b.Platform}, {"build folder", b.Dir}} {
		if f.value == "" {
			return "", fmt.Errorf("build: %s is required", f.name)
		}
	}
	file, err := b.PackName()
	if err != nil {
		return "", fmt.Errorf("build: platform %q: %w", b.Platform, err)
	}
	if _, err := manifest.ParseVersion(b.Version); err != nil {
		return "", fmt.Errorf("build: version %q: %w", b.Version, err)
	}
	// The manifest's own rules (module name, file name, min_version, channel), on a
	// stand-in pack, so that a build that could never be listed is not packed.
	rel := manifest.Release{Module: b.Module, Version: b.Version, MinVersion: b.MinVersion, Channel: b.Channel, Major: b.Major, Notes: b.Notes}
	stand := manifest.Pack{Platform: b.Platform, File: file, Size: 1, SHA256: strings.Repeat("0", 64)}
	if err := (&manifest.Manifest{}).AddPack(rel, stand); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	fi, err := os.Stat(b.Dir)
	if err != nil {
		return "", fmt.Errorf("build folder: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("build folder %s: not a folder", b.Dir)
	}
	return file, nil
}

// checkNew fails when file is already listed in m: a published pack is never replaced.
func checkNew(m *manifest.Manifest, file string) error {
	for _, r := range m.Releases {
		for _, p := range r.Packs {
			if p.File == file {
				return fmt.Errorf("%s is already published (release %s %s): a published pack is never replaced", file, r.Module, r.Version)
			}
		}
	}
	return nil
}

// buildPack builds the pack of b into a new hidden temporary file in repo and returns
// its path and its manifest entry.
func buildPack(ctx context.Context, repo, file string, b Build, o *options) (tmp string, p manifest.Pack, err error) {
	f, err := os.CreateTemp(repo, "."+file+".tmp-*")
	if err != nil {
		return "", p, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err := pack.BuildDir(ctx, cw, b.Dir, o.build...); err != nil {
		return "", p, fmt.Errorf("building the pack from %s: %w", b.Dir, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return "", p, err
	}
	if err := f.Sync(); err != nil {
		return "", p, err
	}
	if err := f.Close(); err != nil {
		return "", p, err
	}
	plat, _ := manifest.Platform(b.Platform) // checked by Build.check
	return f.Name(), manifest.Pack{Platform: plat, File: file, Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// signFile signs the file at path with the trusted comment tc.
func signFile(key signature.PrivateKey, path, tc string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sig, err := signature.Sign(key, f, tc)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", path, err)
	}
	return sig, nil
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

// duplicate says in words that b's version and platform are published already, for
// the manifest's duplicate error (a version spelt another way, "1.0" for "1.0.0").
func duplicate(err error, b Build) error {
	if !errors.Is(err, manifest.ErrDuplicate) {
		return err
	}
	return fmt.Errorf("%s %s for %s is already published: a published pack is never replaced; publish a new version (%w)",
		b.Module, b.Version, b.Platform, err)
}

// setNotes gives the release of b its notes, also when the release was published
// before with another platform.
func setNotes(m *manifest.Manifest, b Build) {
	for i := range m.Releases {
		r := &m.Releases[i]
		if r.Module == b.Module && sameVersion(r.Version, b.Version) {
			r.Notes = b.Notes
		}
	}
}

func sameVersion(a, b string) bool {
	c, err := manifest.CompareVersions(a, b)
	return err == nil && c == 0
}
