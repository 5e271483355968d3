package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/pack"
	"github.com/upkeep-go/upkeep/signature"
)

// builtDelta is a delta built and signed, waiting in a temporary file of the
// repository.
type builtDelta struct {
	tmp   string
	entry manifest.Delta
	sig   []byte
}

// DeltaName returns the file name of the delta from version from to b's pack,
// "MODULE-VERSION-GOOS-GOARCH-from-FROM.zip".
func (b Build) DeltaName(from string) (string, error) {
	name, err := b.PackName()
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(name, ".zip") + "-from-" + from + ".zip", nil
}

// buildDeltas builds the deltas to b's pack p from the o.deltas newest earlier
// versions of the same module and platform listed in repo's manifest. On error, the
// deltas already built are returned too, for the caller to remove.
func buildDeltas(ctx context.Context, repo string, key signature.PrivateKey, b Build, p manifest.Pack, o *options) ([]builtDelta, error) {
	if o.deltas == 0 {
		return nil, nil
	}
	m, err := readRepoManifest(repo)
	if err != nil {
		return nil, nil // a new repository: nothing to build from
	}
	type earlier struct {
		version string
		pack    manifest.Pack
	}
	var prev []earlier
	for _, r := range m.Releases {
		if r.Module != b.Module {
			continue
		}
		if c, err := manifest.CompareVersions(r.Version, b.Version); err != nil || c >= 0 {
			continue
		}
		for _, rp := range r.Packs {
			if rp.Platform == p.Platform && !slices.ContainsFunc(prev, func(e earlier) bool { return e.version == r.Version }) {
				prev = append(prev, earlier{r.Version, rp})
			}
		}
	}
	slices.SortFunc(prev, func(a, b earlier) int {
		c, _ := manifest.CompareVersions(b.version, a.version)
		return c
	})
	var out []builtDelta
	for _, e := range prev[:min(len(prev), o.deltas)] {
		d, err := buildDelta(ctx, repo, key, b, p, e.version, e.pack, o)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if errors.Is(err, errDeltaNotSmaller) {
				o.logger.Debug("no delta from an earlier version", "module", b.Module, "from", e.version, "reason", err)
				continue
			}
			o.logger.Warn("no delta from an earlier version", "module", b.Module, "from", e.version, "err", err)
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// buildDelta builds and signs the delta from version from (whose pack is old) to b.
func buildDelta(ctx context.Context, repo string, key signature.PrivateKey, b Build, p manifest.Pack, from string, old manifest.Pack, o *options) (d builtDelta, err error) {
	name, err := b.DeltaName(from)
	if err != nil {
		return d, err
	}
	// The earlier tree goes in a private temporary folder, not in the repository,
	// which other accounts (CI jobs) may write.
	tree, err := os.MkdirTemp("", "upkeep-delta-base-*")
	if err != nil {
		return d, err
	}
	defer os.RemoveAll(tree)
	if err := extractChecked(ctx, filepath.Join(repo, old.File), old, filepath.Join(tree, "t")); err != nil {
		return d, err
	}
	f, err := os.CreateTemp(repo, "."+name+".tmp-*")
	if err != nil {
		return d, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err := pack.BuildDeltaDir(ctx, cw, filepath.Join(tree, "t"), b.Dir, o.build...); err != nil {
		return d, fmt.Errorf("building the delta from %s: %w", from, err)
	}
	if !deltaPays(cw.n, p.Size) {
		return d, fmt.Errorf("the delta from %s has %d bytes, %w of the %d-byte pack: not listed", from, cw.n, errDeltaNotSmaller, p.Size)
	}
	if err := f.Chmod(0o644); err != nil {
		return d, err
	}
	if err := f.Sync(); err != nil {
		return d, err
	}
	if err := f.Close(); err != nil {
		return d, err
	}
	bind := signature.Binding{File: name, Module: b.Module, Version: b.Version, Platform: p.Platform, From: from}
	sig, err := signFile(key, f.Name(), bind.String())
	if err != nil {
		return d, err
	}
	return builtDelta{tmp: f.Name(), sig: sig,
		entry: manifest.Delta{From: from, File: name, Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))}}, nil
}

// errDeltaNotSmaller is a delta not worth listing beside its full pack.
var errDeltaNotSmaller = errors.New("not smaller than 90 %")

// deltaPays reports whether a delta of size bytes is worth listing beside a full pack
// of full bytes: smaller than 90 % of it (a client that downloads the delta also
// pays for the work of rebuilding, and a miss falls back to the full pack).
func deltaPays(size, full int64) bool {
	return size*10 < full*9
}

// extractChecked extracts the pack at path into dest after checking its size and
// SHA-256 against its manifest entry p.
func extractChecked(ctx context.Context, path string, p manifest.Pack, dest string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != p.Size {
		return fmt.Errorf("%s: %d bytes, the manifest lists %d", path, fi.Size(), p.Size)
	}
	verify := func(r io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
			return fmt.Errorf("%s: SHA-256 %s, the manifest lists %s", path, got, p.SHA256)
		}
		return nil
	}
	_, err = pack.Extract(ctx, f, fi.Size(), dest, pack.WithVerify(verify), pack.WithoutSync())
	return err
}
