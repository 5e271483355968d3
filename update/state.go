package update

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The state dir holds everything upkeep keeps of its own, never inside a module folder:
//
//	install-id                   stable random ID, for staged rollouts
//	trust.json                   highest manifest serial accepted (replay protection),
//	                             the product pinned, the highest HFSQL versions
//	manifest/check.json          last accepted manifest and its validator, in one file
//	keys/state.json              with root_keys: the keys.json accepted, its version and
//	                             validator, the root keys pinned, the keys revoked
//	modules/NAME/status.json     what status prints
//	modules/NAME/journal.json    the install under way, for Recover
//	modules/NAME/lock            one operation per module
//	modules/NAME/downloads/      packs and their .part files
//	modules/NAME/backups/        inplace backups (tar+zstd)
type stateDir string

func (s stateDir) path(elem ...string) string {
	return filepath.Join(append([]string{string(s)}, elem...)...)
}

func (s stateDir) module(name string, elem ...string) string {
	return s.path(append([]string{"modules", name}, elem...)...)
}

// installID returns the install's stable ID, creating it on first use.
func (e *Engine) installID() (string, error) {
	p := e.state.path("install-id")
	if b, err := os.ReadFile(p); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := os.MkdirAll(string(e.state), 0o755); err != nil {
		return "", stateErr(err)
	}
	if err := e.ops.writeFile(p, []byte(id+"\n"), 0o644); err != nil {
		return "", stateErr(err)
	}
	return id, nil
}

// trustRecord is the replay-protection record: the serial and SHA-256 of the last manifest
// accepted, and its product, the only one accepted afterwards unless the configuration
// names another.
type trustRecord struct {
	Serial  uint64 `json:"serial"`
	SHA256  string `json:"sha256"` // "" until a signed manifest is accepted
	Product string `json:"product,omitempty"`
	// HFSQL holds, for unsigned HFSQL files (which have no serial), the highest version
	// accepted per major version and language ("22/F"), and over all under "".
	HFSQL   map[string]string `json:"hfsql,omitempty"`
	Updated time.Time         `json:"updated"`
}

func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

func (e *Engine) writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return e.ops.writeFile(path, append(b, '\n'), 0o644)
}

// stateErr reports a state dir that cannot be written, the seed's rights problem.
func stateErr(err error) error {
	return fmt.Errorf("state dir not writable (check the rights of the account running upkeep): %w", err)
}
