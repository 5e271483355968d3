package maintenance

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSwitchZeroValue(t *testing.T) {
	t.Parallel()
	var w Switch
	require.NoError(t, w.On(t.Context()))
	require.NoError(t, w.Off(t.Context()))
}

func TestSwitchStateAndFlags(t *testing.T) {
	t.Parallel()
	live, staged := t.TempDir(), t.TempDir()
	s := NewState()
	w := &Switch{State: s, Flag: Flag{Name: DefaultFlagName}, Dirs: []string{live, staged}, Reason: "v2"}

	for range 2 { // idempotent
		require.NoError(t, w.On(t.Context()))
		require.True(t, s.Active())
		require.Equal(t, "v2", s.Reason())
		for _, dir := range w.Dirs {
			present, ours, err := w.Flag.Present(dir)
			require.NoError(t, err)
			require.True(t, present && ours, dir)
		}
	}
	for range 2 {
		require.NoError(t, w.Off(t.Context()))
		require.False(t, s.Active())
		require.Empty(t, listDir(t, live))
		require.Empty(t, listDir(t, staged))
	}
}

func TestSwitchOffWithDoneContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := &Switch{State: NewState(), Flag: Flag{Name: DefaultFlagName}, Dirs: []string{dir}}
	require.NoError(t, w.On(t.Context()))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, w.Off(ctx))
	require.False(t, w.State.Active())
	require.Empty(t, listDir(t, dir))
}

func TestSwitchForeignFlag(t *testing.T) {
	t.Parallel()
	mine, theirs := t.TempDir(), t.TempDir()
	own := filepath.Join(theirs, DefaultFlagName)
	require.NoError(t, os.WriteFile(own, []byte("closed for inventory"), 0o644))
	s := NewState()
	w := &Switch{State: s, Flag: Flag{Name: DefaultFlagName}, Dirs: []string{theirs, mine}}

	err := w.On(t.Context())
	require.ErrorIs(t, err, ErrForeignFlag)
	require.Contains(t, err.Error(), own)
	require.True(t, s.Active(), "what could be turned on is on")
	present, ours, err := w.Flag.Present(mine)
	require.NoError(t, err)
	require.True(t, present && ours)

	err = w.Off(t.Context())
	require.ErrorIs(t, err, ErrForeignFlag)
	require.False(t, s.Active())
	require.Empty(t, listDir(t, mine))
	data, err := os.ReadFile(own)
	require.NoError(t, err)
	require.Equal(t, "closed for inventory", string(data))
}

func TestSwitchDrainTimeoutStillPlacesFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := NewState(WithDrainTimeout(30 * time.Millisecond))
	srv, entered, release := slowServer(t, s)
	slow := getAsync(t, srv, "/slow")
	<-entered

	w := &Switch{State: s, Flag: Flag{Name: DefaultFlagName}, Dirs: []string{dir}}
	err := w.On(t.Context())
	require.ErrorIs(t, err, ErrDrainTimeout)
	require.True(t, s.Active())
	present, ours, perr := w.Flag.Present(dir)
	require.NoError(t, perr)
	require.True(t, present && ours)

	release()
	require.Equal(t, http.StatusOK, (<-slow).status)
	require.NoError(t, w.Off(t.Context()))
	require.Empty(t, listDir(t, dir))
}
