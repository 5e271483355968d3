package agent

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Progress events wake the subscriber's goroutine a little later, together: each
// still arrives, alone too, and in order with an ended operation, which wakes it at
// once for the progress queued before it as well.
func TestProgressDeliveredInOrder(t *testing.T) {
	t.Parallel()
	s := newSubscriber()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go s.pump(ctx, nil, func() { close(done) })
	next := func() Event {
		t.Helper()
		select {
		case ev := <-s.out:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return Event{}
		}
	}

	s.push(Event{Progress: &Progress{Operation: "a", Step: "extract"}})
	ev := next()
	require.NotNil(t, ev.Progress, "a progress event alone arrives")
	require.Equal(t, "a", ev.Progress.Operation)

	for _, op := range []string{"b", "c"} {
		s.push(Event{Progress: &Progress{Operation: op, Step: "maintenance"}})
	}
	s.push(Event{Operation: &Operation{ID: "c", Result: ResultSucceeded}})
	require.Equal(t, "b", next().Progress.Operation)
	require.Equal(t, "c", next().Progress.Operation)
	require.Equal(t, "c", next().Operation.ID)

	cancel()
	<-done
}
