package update

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"

	"github.com/upkeep-go/upkeep/manifest"
)

// Download fetches and checks the packs of sel, the update a Check offered for module
// (ModuleCheck.Selection), so that a later Install only extracts them: the deltas
// from the version before each step where the manifest lists them, as Install would. It holds the
// module's lock: a module busy with another operation is left alone and the error wraps
// ErrBusy. It stops at the first pack that fails, returning its error. A scheduler calls
// it in the background, between a check and an install.
func (e *Engine) Download(ctx context.Context, module string, sel *manifest.Selection) error {
	m, err := e.cfg.Module(module)
	if err != nil {
		return err
	}
	lk, err := e.lock(m)
	if err != nil {
		return err
	}
	defer lk.unlock()
	if sel == nil {
		return nil
	}
	st, err := e.loadStatus(m)
	if err != nil {
		return err
	}
	installed := deref(st.Installed)
	from := installed
	for i, s := range sel.Path {
		d, err := e.obtain(ctx, m, installed, from, packRef{module: m.Name, release: s.Release, pack: s.Pack})
		from = s.Release.Version
		if err != nil {
			return err
		}
		if i == len(sel.Path)-1 && m.Kind == KindDatabase {
			err = e.keepOfferedPack(ctx, m, d)
		}
		d.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// keepOfferedPack extracts the verified pack of the newest version offered to a
// database module into its state folder, so that its pending scripts and drift can
// be read before any install (offeredPack).
func (e *Engine) keepOfferedPack(ctx context.Context, m *ModuleConfig, d *downloaded) error {
	dir, ver := e.state.module(m.Name, "offered"), e.state.module(m.Name, "offered.version")
	e.ops.at("removeall", dir)
	if err := os.RemoveAll(dir); err != nil {
		return stateErr(err)
	}
	os.Remove(ver)
	if err := e.extract(ctx, m, d, dir); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(ver, []byte(d.ref.release.Version), 0o644); err != nil {
		return stateErr(err)
	}
	return nil
}

// offeredPack returns the folder holding the extracted, verified pack of the newest
// version a Download fetched for a database module, and that version; fs.ErrNotExist
// when there is none. Its scripts are those an install of that version would run.
// update/dbscript/dbagent reaches it through update/internal/seam.
func (e *Engine) offeredPack(ctx context.Context, module string) (dir, version string, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	m, err := e.cfg.Module(module)
	if err != nil {
		return "", "", err
	}
	b, err := limited.ReadFile(e.state.module(m.Name, "offered.version"), 1<<10)
	if err != nil {
		return "", "", fmt.Errorf("no pack of module %s offered and downloaded yet: %w", m.Name, err)
	}
	return e.state.module(m.Name, "offered"), strings.TrimSpace(string(b)), nil
}
