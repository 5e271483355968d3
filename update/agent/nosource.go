package agent

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/source"
)

// ErrNoSource is what a check returns when the configuration names no source: a
// fleet slave's, whose updates come from its master.
var ErrNoSource = errors.New("agent: no source configured: this server takes its updates from its fleet master")

// fleetSlave reports whether the configuration's fleet block is a slave's (package
// update/fleet parses and checks the block; only its role matters here).
func (c *Config) fleetSlave() bool {
	var f struct {
		Role string `json:"role"`
	}
	return len(c.Fleet) > 0 && json.Unmarshal(c.Fleet, &f) == nil && f.Role == "slave"
}

// engineOptions returns the options update.New needs for this configuration besides
// the configuration itself (NewEngine adds them): for a fleet slave's that names no
// source, a source that answers every fetch with ErrNoSource. The engine's
// Config().Source is then "", and Run makes no scheduled check (a source set later
// through the settings starts them). Otherwise none (update.New then asks for a
// source as it always does).
func (c *Config) engineOptions() []update.Option {
	if c.Source != "" || !c.fleetSlave() {
		return nil
	}
	return []update.Option{update.WithSource(noSource{})}
}

// noSource reports whether the agent has nothing to check: a fleet slave whose
// configuration names no source, and none was set since (an engine given its source
// with update.WithSource, not in a fleet, checks it as always).
func (a *Agent) noSource() bool {
	return a.eng.Config().Source == "" && a.cfg.fleetSlave()
}

// noSource is the source of a configuration that names none.
type noSource struct{}

func (noSource) Fetch(context.Context, source.Request) (*source.Response, error) {
	return nil, ErrNoSource
}
