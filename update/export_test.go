package update

import (
	"context"
	"os"

	"github.com/upkeep-go/upkeep/internal/tarzst"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
)

// Test-only access for the external tests of this package.

// SetCrashPoint makes f run before each mutating filesystem operation of e.
func SetCrashPoint(e *Engine, f func(kind, path string)) { e.ops.point = f }

// WorkDir is the module's sibling work folder.
func WorkDir(m *ModuleConfig) string { return workDir(m) }

// TrustedSerial is the highest manifest serial the state dir has accepted.
func TrustedSerial(stateDir string) uint64 {
	var t trustRecord
	readJSON(stateDir+"/trust.json", &t)
	return t.Serial
}

// ArchiveTree writes dir as the tar+zstd archive of an inplace backup.
func ArchiveTree(e *Engine, ctx context.Context, path, dest string) error {
	d, err := openDir(path)
	if err != nil {
		return err
	}
	defer d.close()
	return e.archiveTree(ctx, d, dest, "")
}

// Download fetches and checks the pack of module's release for platform.
func Download(e *Engine, ctx context.Context, module string, rel *manifest.Release, p *manifest.Pack) (string, error) {
	d, err := e.download(ctx, packRef{module: module, release: rel, pack: p})
	if err != nil {
		return "", err
	}
	d.close()
	return d.path, nil
}

// RestoreArchive unpacks an inplace backup archive into the new folder dest.
func RestoreArchive(archive, dest string) error {
	if err := os.Mkdir(dest, 0o700); err != nil {
		return err
	}
	d, err := openDir(dest)
	if err != nil {
		return err
	}
	defer d.close()
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	return tarzst.Extract(context.Background(), f, d.Root, archive)
}

// GoFieldPath turns a configuration field's JSON path into the Go one.
func GoFieldPath(path string) string { return goFieldPath(path) }

// AppliedPack is appliedPack, which update/dbscript/dbagent reaches through seam.
func (e *Engine) AppliedPack(ctx context.Context, module string) (string, error) {
	return e.appliedPack(ctx, module)
}

// TrustedKeyring is trustedKeyring, which update/fleet reaches through seam.
func (e *Engine) TrustedKeyring(ctx context.Context) (*signature.Keyring, error) {
	return e.trustedKeyring(ctx)
}

// CheckSource is checkSource, which update/agent reaches through seam.
func (c *Config) CheckSource() error { return c.checkSource() }

// Validate is validate as update/agent's LoadConfig calls it through seam.
func (c *Config) Validate() error { return c.validate(true, true) }
