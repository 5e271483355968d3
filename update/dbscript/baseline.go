package dbscript

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
)

// baselineFile is what WithBaselineFile's file holds: the listing upkeep read right
// after the last script it applied automatically on a standard database.
type baselineFile struct {
	Driver   Driver   `json:"driver"`
	Schema   string   `json:"schema"`
	Table    string   `json:"table"`
	Number   int      `json:"number"`
	Checksum string   `json:"sha256"`
	Objects  []Object `json:"objects"`
}

// WithBaselineFile keeps the local baseline (the schema's listing right after the
// last script applied automatically on a standard database) in file, which belongs
// in upkeep's state dir: out of reach of the customer's SQL, unlike the history
// table, whose fingerprint_after column is a record only and never trusted. Default:
// none, and the expected fingerprint is always the publisher's (see the package
// documentation).
func WithBaselineFile(file string) Option {
	return func(r *Runner) error {
		if file == "" {
			return errors.New("dbscript: WithBaselineFile: empty path")
		}
		r.baseline = file
		return nil
	}
}

// localBaseline returns the recorded listing after the history's last script a, nil
// when none was recorded for it (no file, or one about another script).
func (r *Runner) localBaseline(a Applied) (*Listing, error) {
	if r.baseline == "" || a.Mode != ModeAuto {
		return nil, nil
	}
	b, err := limited.ReadFile(r.baseline, MaxListingsSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dbscript: read baseline %s: %w", r.baseline, err)
	}
	var f baselineFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("dbscript: read baseline %s: %w", r.baseline, err)
	}
	if f.Driver != r.driver || f.Schema != r.schema || f.Table != r.table || f.Number != a.Number || f.Checksum != a.Checksum {
		return nil, nil
	}
	return newListing(r.driver, f.Objects), nil
}

// saveBaseline records l as the listing after script a, applied automatically.
func (r *Runner) saveBaseline(a Applied, l *Listing) error {
	if r.baseline == "" {
		return nil
	}
	b, err := json.Marshal(baselineFile{Driver: r.driver, Schema: r.schema, Table: r.table, Number: a.Number, Checksum: a.Checksum, Objects: l.Objects})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.baseline), 0o700); err != nil {
		return fmt.Errorf("dbscript: record baseline %s: %w", r.baseline, err)
	}
	if err := atomicfile.WriteFile(r.baseline, b, 0o600); err != nil {
		return fmt.Errorf("dbscript: record baseline %s: %w", r.baseline, err)
	}
	return nil
}
