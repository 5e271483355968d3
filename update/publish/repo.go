package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
)

// publishJournal lists the renames that put a publication in place, so that a
// publication interrupted between its last renames is completed by the next one.
const publishJournal = ".upkeep-publish.json"

// maxJournalSize bounds the journal, which names two renames.
const maxJournalSize = 4096

// loadRepoManifest reads the repository's manifest, or starts one for a new
// repository, for product (default: module). An existing manifest of another product
// than a non-empty product is refused.
func loadRepoManifest(repo, product, module string) (*manifest.Manifest, error) {
	m, err := readRepoManifest(repo)
	if errors.Is(err, os.ErrNotExist) {
		if product == "" {
			product = module
		}
		return &manifest.Manifest{Schema: manifest.SchemaVersion, Product: product}, nil
	}
	if err != nil {
		return nil, err
	}
	if product != "" && m.Product != product {
		return nil, fmt.Errorf("%s is the manifest of product %q, not %q", manifest.FileName, m.Product, product)
	}
	return m, nil
}

// readRepoManifest reads and parses the repository's manifest.
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

// manifestComment is the trusted comment of the manifest's signature,
// "file=manifest.json serial=N product=P": it binds the signature to the manifest's
// serial (a replayed older manifest) and product (another product's manifest signed
// by the same key). The product comes last because it may hold spaces: it runs to the
// end of the comment (the manifest refuses control characters, so no line break).
func manifestComment(m *manifest.Manifest) string {
	return "file=" + manifest.FileName + " serial=" + strconv.FormatUint(m.Serial, 10) + " product=" + m.Product
}

// commitRepo bumps the serial and expiry, signs the manifest, and puts every new file
// in place: first the packs (moves: temporary path → name) and their signatures
// (files: name → content), unreferenced until the manifest names them, then the
// manifest's signature and the manifest, listed in a journal so that an interruption
// between those two renames is completed next time. Once ctx has ended it changes
// nothing; the caller holds the repository's lock.
func commitRepo(ctx context.Context, repo string, key signature.PrivateKey, m *manifest.Manifest, o *options, moves map[string]string, files map[string][]byte) error {
	m.Serial++
	m.Expires = o.now().UTC().Add(o.expires).Truncate(time.Second)
	if err := m.Validate(); err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	sig, err := signature.Sign(key, bytes.NewReader(data), manifestComment(m))
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
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
	return completePublish(repo, nil)
}

// completePublish finishes the renames a journal lists, then drops the journal. log,
// when not nil, hears of a publication that was interrupted.
func completePublish(repo string, log *slog.Logger) error {
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
	if log != nil {
		log.Warn("completing an interrupted publication", "repo", repo, "journal", jp)
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
