package update

import "sync/atomic"

// observers are the functions AddEventFunc added, read without a lock by emit.
type observers struct {
	fs atomic.Pointer[[]func(Event)]
}

// AddEventFunc adds f to the functions that receive the engine's progress events
// (download bytes, install steps, hook phases), for the engine's life. It is the one
// way to follow an engine's operations, for the program that built it (a CLI's
// progress bar) and for one given it (an agent, a portal). f is called from
// the goroutine doing the work, possibly from several at once, and must return
// quickly. Safe for concurrent use.
func (e *Engine) AddEventFunc(f func(Event)) {
	for {
		old := e.obs.fs.Load()
		var next []func(Event)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, f)
		if e.obs.fs.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (o *observers) emit(ev Event) {
	if fs := o.fs.Load(); fs != nil {
		for _, f := range *fs {
			f(ev)
		}
	}
}
