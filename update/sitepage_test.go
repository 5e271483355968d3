package update_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/hooks"
	"github.com/upkeep-go/upkeep/update"
)

// A site's own maintenance page (app_offline.bak beside the flag, the Altazion
// convention) is what visitors see during the whole window, under both strategies:
// under swap, also after the exchange, when the flag of the staged tree is the live one
// and the new build does not carry the page.
func TestSitePageAcrossTheExchange(t *testing.T) {
	t.Parallel()
	for _, s := range strategies {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, s, false)
			e.repo.Publish("web", "1.0.0", platform, v1)
			ctx := context.Background()
			_, err := e.engine(t).Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			const page = "<html>Le site est en maintenance.</html>"
			require.NoError(t, os.WriteFile(filepath.Join(e.module, "app_offline.bak"), []byte(page), 0o644))
			e.repo.Publish("web", "2.0.0", platform, map[string]string{"index.html": "v2"})

			seen := map[hooks.Phase]string{}
			rec := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
				if ev.Phase == hooks.PreInstall || ev.Phase == hooks.PostInstall {
					b, err := os.ReadFile(filepath.Join(e.module, "app_offline.htm"))
					require.NoError(t, err)
					seen[ev.Phase] = string(b)
				}
				return nil
			})
			_, err = e.engine(t, update.WithHook("web", rec)).Install(ctx, "web", update.InstallOptions{})
			require.NoError(t, err)
			require.Contains(t, seen[hooks.PreInstall], page, "before the exchange")
			require.Contains(t, seen[hooks.PostInstall], page, "after the exchange")
			require.NoFileExists(t, filepath.Join(e.module, "app_offline.htm"))
		})
	}
}
