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
func ExampleOn() {
	h := hooks.Chain(
		hooks.On(hooks.PostInstall, func(ctx context.Context, ev hooks.Event) error {
			fmt.Printf("warming the cache of %s %s in %s\n", ev.Module, ev.ToVersion, ev.ModulePath)
			return nil
		}),
		hooks.On(hooks.EndUpdate, func(ctx context.Context, ev hooks.Event) error {
			return errors.New("mail server unreachable")
		}),
	)

	for _, p := range hooks.Phases() {
		ev := hooks.Event{Phase: p, Operation: hooks.OpInstall, Module: "shop", ModulePath: "/srv/shop", FromVersion: "1.4", ToVersion: "1.5"}
		if err := h.Run(context.Background(), ev); err != nil {
			fmt.Println(p, "failed:", err, "aborts:", p.Aborts())
		}
	}
	// Output:
	// warming the cache of shop 1.5 in /srv/shop
	// ENDUPDATE failed: mail server unreachable aborts: false
}

// A Func runs at every phase: here it keeps an audit trail of an explicit rollback.
func ExampleFunc() {
	audit := hooks.Func(func(ctx context.Context, ev hooks.Event) error {
		fmt.Printf("%s %s: %s, %s -> %s\n", ev.Operation, ev.Module, ev.Phase, ev.FromVersion, ev.ToVersion)
		return nil
	})
	for _, p := range []hooks.Phase{hooks.PreInstall, hooks.PostInstall, hooks.EndUpdate} {
		ev := hooks.Event{Phase: p, Operation: hooks.OpRollback, Module: "shop", FromVersion: "1.5", ToVersion: "1.4"}
		_ = audit.Run(context.Background(), ev)
	}
	// Output:
	// rollback shop: PREINSTALL, 1.5 -> 1.4
	// rollback shop: POSTINSTALL, 1.5 -> 1.4
	// rollback shop: ENDUPDATE, 1.5 -> 1.4
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
