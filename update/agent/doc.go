// Package agent is the part of upkeep that runs on its own, on a server: it owns the
// agent configuration file read by `upkeep agent` and the other operator commands ([LoadConfig]: the engine's configuration plus
// check_interval and auto_install) and the schedule of checks, background downloads and
// automatic installs inside a maintenance window ([Run], [RunOnce], [Window]).
//
// It drives an engine (package update) through its public API only: Recover at
// start-up, Check, Download, Install with InstallOptions.Unattended, and Rollback when
// a version installed unattended does not become ready. It installs nothing itself and
// renders no HTML: a portal or service wrapper is built on top of it.
package agent
