package update_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/maintenance"
	"github.com/upkeep-go/upkeep/update/publish"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestRecoverStaleFlag: a flag of upkeep's own left without an operation under way
// (the seed's site stuck "en maintenance") is removed by Recover; a file a person
// placed under the same name is left alone.
func TestRecoverStaleFlag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	eng := e.engine(t)
	_, err := eng.Install(ctx, "web", update.InstallOptions{})
	require.NoError(t, err)

	flag := maintenance.Flag{Name: "app_offline.htm"}
	require.NoError(t, flag.Place(e.module, "left by a crash"))
	st, _ := eng.ModuleStatus(context.Background(), "web")
	require.True(t, st.Maintenance)
	res, err := eng.Recover(ctx)
	require.NoError(t, err)
	require.Contains(t, res[0].Detail, "stale maintenance flag")
	require.Equal(t, v1, updatetest.ReadTree(t, e.module))
	st, _ = eng.ModuleStatus(context.Background(), "web")
	require.False(t, st.Maintenance)

	own := filepath.Join(e.module, "app_offline.htm")
	require.NoError(t, os.WriteFile(own, []byte("closed for the holidays"), 0o644))
	_, err = eng.Recover(ctx)
	require.NoError(t, err)
	b, err := os.ReadFile(own)
	require.NoError(t, err)
	require.Equal(t, "closed for the holidays", string(b), "a person's own file is never removed")
}

// TestManifestConditionalRequest: a second check asks with the validator of the first
// and, on 304, uses the accepted copy, still checking its expiry.
func TestManifestConditionalRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, update.Swap, false)
	e.repo.Publish("web", "1.0.0", platform, v1)
	var mu sync.Mutex
	var statuses []int
	files := publish.FileServer(e.repo.Dir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		files.ServeHTTP(rec, r)
		if r.URL.Path == "/manifest.json" {
			mu.Lock()
			statuses = append(statuses, rec.status)
			mu.Unlock()
		}
	}))
	defer srv.Close()
	e.cfg.Source = srv.URL + "/"
	eng := e.engine(t)
	for range 2 {
		rep, err := eng.Check(ctx)
		require.NoError(t, err)
		require.Equal(t, "update", string(rep.Modules[0].Status))
	}
	require.Equal(t, []int{200, 304}, statuses)

	later := e.engine(t, updatetest.WithClock(func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }))
	_, err := later.Check(ctx)
	require.Equal(t, update.CodeExpired, update.CodeOf(err), "a cached manifest expires too: %v", err)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
