package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
)

// A service registers Go functions for the phases it cares about; the engine calls the
// hook at every phase with the event, and decides from Phase.Aborts what a failure means.
func ExampleFunc() {
	warmCache := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase != hooks.PostInstall {
			return nil
		}
		fmt.Printf("warming the cache of %s %s in %s\n", ev.Module, ev.ToVersion, ev.ModulePath)
		return nil
	})
	notify := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if ev.Phase != hooks.EndUpdate {
			return nil
		}
		return errors.New("mail server unreachable")
	})
	h := hooks.Chain(warmCache, notify)

	for _, p := range hooks.Phases() {
		ev := hooks.Event{Phase: p, Module: "shop", ModulePath: "/srv/shop", FromVersion: "1.4", ToVersion: "1.5"}
		if err := h.Run(context.Background(), ev); err != nil {
			fmt.Println(p, "failed:", err, "aborts:", p.Aborts())
		}
	}
	// Output:
	// warming the cache of shop 1.5 in /srv/shop
	// ENDUPDATE failed: mail server unreachable aborts: false
}

// A hook that waits for a side service to drain asks to be run again later; Retry
// runs it every interval until it is ready or the total time is spent.
func ExampleRetry() {
	pending := 3
	drain := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		if pending > 0 {
			pending--
			return fmt.Errorf("%d jobs still running: %w", pending+1, hooks.ErrRetryLater)
		}
		fmt.Println("queue drained, going on with", ev.Phase)
		return nil
	})
	err := hooks.Retry(drain, 10*time.Millisecond, time.Minute).Run(context.Background(), hooks.Event{Phase: hooks.PreBackup})
	fmt.Println("error:", err)

	never := hooks.Func(func(context.Context, hooks.Event) error { return hooks.ErrRetryLater })
	err = hooks.Retry(never, 10*time.Millisecond, 30*time.Millisecond).Run(context.Background(), hooks.Event{})
	fmt.Println(errors.Is(err, hooks.ErrRetryLater))
	// Output:
	// queue drained, going on with PREBACKUP
	// error: <nil>
	// true
}
