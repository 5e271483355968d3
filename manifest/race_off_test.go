//go:build !race

package manifest_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
