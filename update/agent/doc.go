// Package agent is the part of upkeep that runs on its own, on a server: it owns the
// agent configuration file read by `upkeep agent` and the other operator commands ([LoadConfig]: the engine's configuration plus
// check_interval and auto_install), the schedule of checks, background downloads and
// automatic installs inside a maintenance window, and the operations a person asks for
// through a portal.
//
// [Agent] is the long-running form: [Agent.Run] recovers, checks within seconds of
// start, then on a schedule; [Agent.Install], [Agent.Rollback] and [Agent.Check] start
// operations in the background (one queue per module: a second Install while one runs
// joins it), each an [Operation] appended to the operations log in the state dir
// (STATE/agent/operations.jsonl, one fsync'd JSON line per change, rotated at
// [DefaultLogLimit]), which survives restarts. [Agent.Subscribe] follows their progress,
// and [Agent.Modules] shows each module as the portal (package update/portal) does.
// [Run] and [RunOnce] run an [Agent] built from an engine and [RunOptions], for a
// program that only wants its modules kept up to date: there is one loop, and one
// rule after an automatic install ([WithAfterInstall]).
//
// A module on hold ([Hold], kept in STATE/agent/holds) is never installed unattended,
// by the agent or by [Run]: a person's rollback holds it ([Agent.Rollback], `upkeep
// rollback`), so does [Agent.Hold] (`upkeep hold`); a person's install or
// [Agent.Release] ends it. Operations another process ran (the upkeep command) are
// recorded with [RecordOperation] and listed with the agent's own.
//
// [Agent.UpdateSettings] changes check_interval, auto_install, source and lang while
// the agent runs (the portal's settings): the configuration file is rewritten in those
// keys only, every other byte kept ("//" comments included), atomically, and the change
// is in force at once; [ModuleView] shows the next check and the window in force.
//
// It drives an engine (package update) through its public API only: Recover at
// start-up, Check, Download, Install with InstallOptions.Unattended, and Rollback when
// a version installed unattended does not become ready. It installs nothing itself and
// renders no HTML.
package agent
