//go:build race

package manifest_test

// raceEnabled reports whether the race detector is on: its instrumentation makes
// version parsing some thirty times slower, so the largest inputs are scaled down.
const raceEnabled = true
