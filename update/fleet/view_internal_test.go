package fleet

import (
	"testing"
	"time"
)

// TestPollEnd: a long poll of 5 s or more ends on a whole second, at most a second
// late, so that the polls of many slaves end and come back together; a shorter one
// waits what it asked.
func TestPollEnd(t *testing.T) {
	base := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		start      time.Duration // after base
		wait, want time.Duration
	}{
		{0, 30 * time.Second, 30 * time.Second},
		{250 * time.Millisecond, 30 * time.Second, 30*time.Second + 750*time.Millisecond},
		{999 * time.Millisecond, 30 * time.Second, 30*time.Second + time.Millisecond},
		{400 * time.Millisecond, 5 * time.Second, 5*time.Second + 600*time.Millisecond},
		{400 * time.Millisecond, 2 * time.Second, 2 * time.Second},
		{400 * time.Millisecond, 0, 0},
	} {
		if got := pollEnd(base.Add(tt.start), tt.wait); got != tt.want {
			t.Errorf("wait %v from +%v: %v, want %v", tt.wait, tt.start, got, tt.want)
		}
	}
}
