package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/limited"
)

// A hold keeps a module where a person put it: while a module is on hold, neither the
// agent nor Run installs it unattended. A person's rollback (Agent.Rollback, the
// portal, `upkeep rollback`) puts the module on hold, so that the version just rolled
// away from is not installed again a few seconds later; a person can also hold a module
// at any time. A person's install, or a release, ends the hold. Holds live in the
// state dir (STATE/agent/holds/MODULE.json), so they survive restarts and are shared by
// every process over the same state dir (the agent and the upkeep command).

// HoldReason says why a module is on hold.
type HoldReason string

// Reasons of a hold.
const (
	HoldRollback HoldReason = "rollback" // a person rolled the module back
	HoldOperator HoldReason = "operator" // a person asked for it (`upkeep hold`)
)

// Hold is a module's hold, as status and the portal show it.
type Hold struct {
	Reason HoldReason `json:"reason"`
	Since  time.Time  `json:"since"`
}

// OpHold and OpRelease are the operations that put a module on hold and end it, and
// OpMaintenanceOff the one that takes a module out of a maintenance flag upkeep did
// not place.
const (
	OpHold           OpKind = "hold"
	OpRelease        OpKind = "release"
	OpMaintenanceOff OpKind = "maintenance-off"
)

// maxHoldFile bounds a hold file read back.
const maxHoldFile = 4 << 10

func holdPath(stateDir, module string) string {
	return filepath.Join(stateDir, "agent", "holds", module+".json")
}

// ReadHold returns the hold of module in the state dir, nil when it is not on hold.
func ReadHold(stateDir, module string) (*Hold, error) {
	b, err := limited.ReadFile(holdPath(stateDir, module), maxHoldFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent: hold of %s: %w", module, err)
	}
	var h *Hold
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("agent: hold of %s: %s: %w", module, holdPath(stateDir, module), err)
	}
	return h, nil
}

// WriteHold puts module on hold (h) or ends its hold (nil), atomically. An ended hold
// is written as null rather than removed: the state dir keeps a trace of it.
func WriteHold(stateDir, module string, h *Hold) error {
	p := holdPath(stateDir, module)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("agent: hold of %s: %w", module, err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("agent: hold of %s: %w", module, err)
	}
	return nil
}

// held reports whether module is on hold; a hold that cannot be read counts as one,
// since installing over a person's decision is worse than waiting.
func held(stateDir, module string, log func(msg string, args ...any)) bool {
	h, err := ReadHold(stateDir, module)
	if err != nil {
		log("automatic install skipped: the hold cannot be read", "module", module, "err", err)
		return true
	}
	if h != nil {
		log("automatic install skipped: on hold", "module", module, "reason", h.Reason, "since", h.Since)
	}
	return h != nil
}

// skipHeld returns modules without those on hold.
func (a *Agent) skipHeld(modules []string) []string {
	var out []string
	for _, m := range modules {
		if !held(a.eng.Config().StateDir, m, a.log.Info) {
			out = append(out, m)
		}
	}
	return out
}

// Hold puts module on hold (reason HoldOperator) and records it as an operation. A
// module already on hold keeps its first reason and time.
func (a *Agent) Hold(ctx context.Context, module string) (*Hold, error) {
	return a.setHold(ctx, module, OpHold, &Hold{Reason: HoldOperator})
}

// Release ends module's hold, if any, and records it as an operation.
func (a *Agent) Release(ctx context.Context, module string) (*Hold, error) {
	return a.setHold(ctx, module, OpRelease, nil)
}

// holdOnRollback puts module on hold after a person asked for its rollback.
func (a *Agent) holdOnRollback(module string) {
	if _, err := SetHold(a.eng.Config().StateDir, module, HoldRollback, a.now()); err != nil {
		a.log.Error("hold after rollback", "module", module, "err", err)
	}
}

// releaseOnInstall ends module's hold when a person asks for its install. Without a
// hold it writes nothing: the write (a file and its folder fsync'd) would run beside
// the install the call just started.
func (a *Agent) releaseOnInstall(module string) {
	dir := a.eng.Config().StateDir
	if h, err := ReadHold(dir, module); err == nil && h == nil {
		return
	}
	if err := WriteHold(dir, module, nil); err != nil {
		a.log.Error("release on install", "module", module, "err", err)
	}
}

func (a *Agent) setHold(ctx context.Context, module string, kind OpKind, h *Hold) (*Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := a.module(module); err != nil {
		return nil, err
	}
	dir := a.eng.Config().StateDir
	op := Operation{Module: module, Kind: kind, Started: a.now()}
	var err error
	if h != nil {
		h, err = SetHold(dir, module, h.Reason, op.Started)
	} else {
		err = WriteHold(dir, module, nil)
	}
	a.recordDone(op, err)
	return h, err
}

// SetHold puts module on hold for reason, since now, unless it is on hold already (the
// first hold's reason and time stay). It returns the hold in force.
func SetHold(stateDir, module string, reason HoldReason, now time.Time) (*Hold, error) {
	h, err := ReadHold(stateDir, module)
	if err == nil && h != nil {
		return h, nil
	}
	h = &Hold{Reason: reason, Since: now.UTC().Truncate(time.Second)}
	return h, WriteHold(stateDir, module, h)
}
