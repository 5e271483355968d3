package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
)

func init() {
	register(&command{name: "hold", summary: "no automatic install of a module until released", run: runHold})
	register(&command{name: "release", summary: "end a module's hold", run: runRelease})
}

func runHold(ctx context.Context, cl *cli, args []string) error {
	return holdCommand(ctx, cl, "hold", args)
}

func runRelease(ctx context.Context, cl *cli, args []string) error {
	return holdCommand(ctx, cl, "release", args)
}

// holdCommand is `upkeep hold` and `upkeep release`: they change the hold file the
// agent reads before each automatic install, and record an operation.
func holdCommand(ctx context.Context, cl *cli, name string, args []string) error {
	e, module, err := cl.moduleEngine(name, "upkeep "+name+" --config FILE MODULE", args)
	if err != nil {
		return err
	}
	cfg := e.Config()
	if _, err := cfg.Module(module); err != nil {
		return err
	}
	dir := e.Config().StateDir
	started := time.Now()
	if name == "release" {
		before, err := agent.ReadHold(dir, module)
		if err == nil {
			err = agent.WriteHold(dir, module, nil)
		}
		cl.record(e, agent.Operation{Module: module, Kind: agent.OpRelease, Started: started}, err)
		if err != nil {
			return err
		}
		if before == nil {
			fmt.Fprintf(cl.stdout, "%s was not on hold\n", module)
		} else {
			fmt.Fprintf(cl.stdout, "%s released: automatic installs resume\n", module)
		}
		return nil
	}
	h, err := agent.SetHold(dir, module, agent.HoldOperator, started)
	cl.record(e, agent.Operation{Module: module, Kind: agent.OpHold, Started: started}, err)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "%s on hold (%s, since %s): no automatic install until `upkeep release` or a person's install\n",
		module, h.Reason, h.Since.Format(time.RFC3339))
	return nil
}

// record adds an operation this command ran to the operations log the portal lists,
// with err as its outcome. A failure to record is said on stderr, not returned: the
// operation itself is done.
func (cl *cli) record(e *update.Engine, op agent.Operation, err error) {
	op.Result = agent.ResultSucceeded
	if err != nil {
		op.Result, op.Code, op.Error = agent.ResultFailed, string(update.CodeOf(err)), err.Error()
	}
	if _, rerr := agent.RecordOperation(e.Config().StateDir, op); rerr != nil {
		fmt.Fprintf(cl.stderr, "upkeep: the operations log: %v\n", rerr)
	}
}

// withHolds writes each module status as `status --json` prints it: every key, with
// code null when there is none (after a success) so that scripts can read each key,
// its "hold" key (null when not held) and, for a maintenance flag upkeep did not place,
// "maintenance_foreign".
func withHolds(cfg update.Config, sts []update.ModuleStatus) ([]json.RawMessage, error) {
	type plain update.ModuleStatus
	type module struct {
		plain
		Code *string `json:"code"`
	}
	dir := cfg.StateDir
	out := make([]json.RawMessage, 0, len(sts))
	for _, s := range sts {
		b, err := json.Marshal(module{plain(s), nullable(string(s.Code))})
		if err != nil {
			return nil, err
		}
		h, err := agent.ReadHold(dir, s.Name)
		if err != nil {
			return nil, err
		}
		hb, err := json.Marshal(h)
		if err != nil {
			return nil, err
		}
		b = bytes.TrimSuffix(b, []byte("}"))
		b = append(append(b, `,"hold":`...), hb...)
		if m, err := cfg.Module(s.Name); err == nil && agent.ForeignFlag(m) {
			b = append(b, `,"maintenance_foreign":true`...)
		}
		b = append(b, '}')
		out = append(out, b)
	}
	return out, nil
}

// installedNow returns the installed version of module, "" when nothing is.
func installedNow(ctx context.Context, e *update.Engine, module string) string {
	st, err := e.ModuleStatus(ctx, module)
	if err != nil || st.Installed == nil {
		return ""
	}
	return *st.Installed
}

// lastInstalled returns the version an install or rollback left in place.
func lastInstalled(res *update.InstallResult, from string) string {
	if res == nil || len(res.Installed) == 0 {
		return from
	}
	return res.Installed[len(res.Installed)-1]
}

// ignoreNoUpdate treats "nothing to install" as a success.
func ignoreNoUpdate(err error) error {
	if errors.Is(err, update.ErrNoUpdate) {
		return nil
	}
	return err
}

// releaseOnInstall ends module's hold, saying so: a person's install is the person
// taking the module back.
func releaseOnInstall(cl *cli, e *update.Engine, module string) {
	dir := e.Config().StateDir
	h, err := agent.ReadHold(dir, module)
	if err != nil || h == nil {
		return
	}
	if err := agent.WriteHold(dir, module, nil); err != nil {
		fmt.Fprintf(cl.stderr, "upkeep: %v\n", err)
		return
	}
	fmt.Fprintf(cl.stderr, "%s: hold (%s) ended by this install\n", module, h.Reason)
}
