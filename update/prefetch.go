package update

import (
	"context"

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
	for _, s := range sel.Path {
		d, err := e.obtain(ctx, m, installed, from, packRef{module: m.Name, release: s.Release, pack: s.Pack})
		from = s.Release.Version
		if err != nil {
			return err
		}
		d.close()
	}
	return nil
}
