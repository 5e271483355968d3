package maintenance

import (
	"context"
	"errors"
)

// Switch turns a module's maintenance on and off in all its forms at once: the
// in-process [State] of a Go service and the flag file of a module that is not one.
// Either may be absent. Its zero value does nothing.
type Switch struct {
	// State is the Go service's maintenance state; nil when there is none.
	State *State
	// Flag is the flag file; a zero Flag (empty Name) means no flag file.
	Flag Flag
	// Dirs are the folders the flag is placed in: the module's folder and, for the swap
	// strategy, the staged tree, so that the flag stays visible across the exchange.
	Dirs []string
	// Reason is given to State.On and written on the flag page.
	Reason string
}

// On turns maintenance on: first the State, draining its in-flight requests, then the
// flag in every folder of Dirs, in order. It goes through every step even when one
// fails, so that what could be turned on is on, and returns the errors joined: a
// [*DrainError] from the State (errors.Is [ErrDrainTimeout] or the context's error),
// a [*FlagError] per folder where the flag could not be placed. Call [Switch.Off] to undo,
// whatever On returned. Calling On again while on is harmless.
func (w *Switch) On(ctx context.Context) error {
	var errs []error
	if w.State != nil {
		errs = append(errs, w.State.On(ctx, w.Reason))
	}
	if w.Flag.Name != "" {
		for _, dir := range w.Dirs {
			errs = append(errs, w.Flag.Place(dir, w.Reason))
		}
	}
	return errors.Join(errs...)
}

// Off turns maintenance off: the flag is removed from every folder of Dirs, in reverse
// order, then the State is turned off. Like On, it goes through every step and returns
// the errors joined; a foreign file at the flag's name is left in place and reported
// with [ErrForeignFlag]. Off does not stop at a done ctx: leaving a module in maintenance
// is worse than finishing a few file removals. Calling Off again while off is harmless.
func (w *Switch) Off(ctx context.Context) error {
	var errs []error
	if w.Flag.Name != "" {
		for i := len(w.Dirs) - 1; i >= 0; i-- {
			errs = append(errs, w.Flag.Remove(w.Dirs[i]))
		}
	}
	if w.State != nil {
		w.State.Off()
	}
	return errors.Join(errs...)
}
