package main

import (
	"context"
	"fmt"
	"time"

	"github.com/upkeep-go/upkeep/update/agent"
)

func init() {
	register(&command{name: "maintenance", summary: "take a module out of a maintenance flag upkeep did not place", run: runMaintenance})
}

// runMaintenance is `upkeep maintenance off`: the seed's procedure for a site left
// "en maintenance", done by the tool.
func runMaintenance(ctx context.Context, cl *cli, args []string) error {
	const synopsis = "upkeep maintenance off --config FILE MODULE"
	if len(args) == 0 || args[0] != "off" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintf(cl.stdout, "usage: %s\n\nRenames a maintenance flag upkeep did not place to NAME.bak when no NAME.bak\nis there, else moves it into the state dir (never deletes it).\n", synopsis)
			return errHelpShown
		}
		return usagef("want `%s`", synopsis)
	}
	e, module, err := cl.moduleEngine("maintenance off", synopsis, args[1:])
	if err != nil {
		return err
	}
	cfg := e.Config()
	m, err := cfg.Module(module)
	if err != nil {
		return err
	}
	started := time.Now()
	where, err := agent.TakeDownFlag(cfg.StateDir, m)
	cl.record(e, agent.Operation{Module: m.Name, Kind: agent.OpMaintenanceOff, Started: started}, err)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "%s: maintenance flag %s moved to %s\n", m.Name, m.MaintenanceFile, where)
	return nil
}
