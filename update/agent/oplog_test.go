package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The log stays bounded by its rotation, and an operation still running survives
// rotations.
func TestLogRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const limit = 4 << 10
	l, bad, err := openLog(dir, limit, true)
	require.NoError(t, err)
	require.Empty(t, bad)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	long := Operation{ID: "long", Module: "web", Kind: OpInstall, Started: start, Result: ResultRunning}
	require.NoError(t, l.append(long))
	for i := range 500 {
		op := Operation{ID: fmt.Sprintf("op-%03d", i), Kind: OpCheck, Started: start, Result: ResultRunning}
		require.NoError(t, l.append(op))
		op.Result, op.Ended = ResultSucceeded, start.Add(time.Second)
		require.NoError(t, l.append(op))
	}
	for _, name := range []string{logName, oldLogName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.LessOrEqual(t, fi.Size(), int64(limit))
	}
	require.Less(t, len(l.ops), 100, "what the dropped generations held is forgotten")
	got, ok := l.get("long")
	require.True(t, ok, "a running operation survives rotation")
	require.Equal(t, ResultRunning, got.Result)
	require.Equal(t, "op-499", l.list("", 1)[0].ID)
	require.NoError(t, l.close())

	// Read back, the log says the same.
	l2, bad, err := openLog(dir, limit, true)
	require.NoError(t, err)
	require.Empty(t, bad)
	require.Equal(t, l.list("", 1000), l2.list("", 1000))
	require.Equal(t, []Operation{got}, l2.running())
	require.NoError(t, l2.close())
}

// A slow subscriber loses intermediate progress but never the end of an operation.
func TestSlowSubscriber(t *testing.T) {
	t.Parallel()
	s := newSubscriber()
	for i := range 100 {
		for j := range 1000 {
			s.push(Event{Progress: &Progress{Operation: fmt.Sprint("op", i), Done: int64(j)}})
		}
		s.push(Event{Operation: &Operation{ID: fmt.Sprint("op", i), Result: ResultSucceeded}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go s.pump(ctx, nil, func() { close(done) })
	var ends, progress int
	for ev := range s.out {
		if ev.Operation != nil {
			ends++
		} else {
			progress++
			require.Equal(t, int64(999), ev.Progress.Done, "only the latest progress waits")
		}
		if ends == 100 {
			cancel()
			break
		}
	}
	require.Equal(t, 100, ends)
	require.Equal(t, 100, progress)
	<-done

	// One too far behind is cut off rather than losing an end.
	s = newSubscriber()
	for i := range MaxPendingEnded + 1 {
		s.push(Event{Operation: &Operation{ID: fmt.Sprint(i)}})
	}
	go s.pump(context.Background(), nil, func() {})
	_, ok := <-s.out
	require.False(t, ok)
}
