//go:build race

package signature

// raceEnabled reports whether the race detector is on: it makes scrypt at minisign's
// default cost take tens of seconds.
const raceEnabled = true
