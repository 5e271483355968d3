package source

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/internal/testenv"
)

// TestNginxTooSlow: nginx throttled far below the floor is cut within about a window.
func TestNginxTooSlow(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, root, packName, packData)
	const window = 300 * time.Millisecond
	base := testenv.StartNginx(t, root, testenv.NginxLimitRate(500, 1000))
	src, err := NewHTTP(base, fastOptions(WithMinRate(4000, window))...)
	require.NoError(t, err)
	resp, err := src.Fetch(context.Background(), Request{Name: packName, Max: int64(len(packData))})
	require.NoError(t, err)
	start := time.Now()
	b, err := readBody(t, resp)
	require.ErrorIs(t, err, ErrTooSlow)
	require.ErrorContains(t, err, base+packName)
	require.Less(t, time.Since(start), 10*window)
	require.Less(t, len(b), len(packData))
	require.Equal(t, packData[:len(b)], b)

}
