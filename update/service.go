package update

import (
	"context"
	"time"

	"github.com/upkeep-go/upkeep/update/servicectl"
)

// StepService is the step of events about a module's service: Message is "stopping
// NAME" or "starting NAME".
const StepService Step = "service"

// CodeService is the code of an install or rollback that failed because the module's
// service did not stop or start within the bound.
const CodeService Code = "service"

// withServiceTimeout bounds how long a module's service may take to stop or to start
// before the operation fails (and is undone). Default: servicectl.DefaultTimeout. Tests
// reach it through updatetest.WithServiceTimeout.
func withServiceTimeout(d time.Duration) Option {
	return func(o *options) error { o.svcTimeout = d; return nil }
}

// stopService stops the module's service, if it names one: a step of install and
// rollback, right after maintenance goes on.
func (e *Engine) stopService(ctx context.Context, op *operation) error {
	s := op.m.Service
	if s == nil {
		return nil
	}
	e.emit(Event{Module: op.m.Name, Version: op.j.To, Step: StepService, Message: "stopping " + s.Name})
	if err := servicectl.Stop(ctx, *s, e.svcTimeout); err != nil {
		return &Error{Code: CodeService, Module: op.m.Name, Err: err}
	}
	return nil
}

// startService starts the module's service, if it names one: the last step of install
// and rollback, so that a service that does not start with the new tree undoes the
// operation. It is done once per operation; finish calls it again for a Recover that
// completes an operation.
func (e *Engine) startService(ctx context.Context, op *operation) error {
	s := op.m.Service
	if s == nil || op.serviceUp {
		return nil
	}
	e.emit(Event{Module: op.m.Name, Version: op.j.To, Step: StepService, Message: "starting " + s.Name})
	if err := servicectl.Start(ctx, *s, e.svcTimeout); err != nil {
		return &Error{Code: CodeService, Module: op.m.Name, Err: err}
	}
	op.serviceUp = true
	return nil
}

// restartService starts the module's service after an operation was undone; a failure
// is logged, the undo goes on (the previous tree is what it can do best).
func (e *Engine) restartService(ctx context.Context, op *operation) {
	if err := e.startService(ctx, op); err != nil {
		e.log.Error("the module's service did not start again after the undo", "module", op.m.Name, "err", err)
	}
}
