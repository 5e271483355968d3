package handoff

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// spec describes one inherited listener in [EnvListeners].
type spec struct {
	FD      int    `json:"fd"`
	Network string `json:"network"`
	Addr    string `json:"addr"`
}

// maxListeners bounds the listeners one process hands over; a value above it is not
// something a parent of this package wrote.
const maxListeners = 64

// parseEnv reads the two variables a parent sets. Descriptors 0–2 are the standard
// streams and never a listener; each descriptor may appear once.
func parseEnv(listeners, ready string) ([]spec, int, error) {
	if ready == "" {
		return nil, 0, &EnvError{Var: EnvReady, Value: ready, Err: errors.New("missing while " + EnvListeners + " is set")}
	}
	rfd, err := strconv.Atoi(ready)
	if err != nil || rfd < 3 {
		return nil, 0, &EnvError{Var: EnvReady, Value: ready, Err: errors.New("want a file descriptor number of 3 or more")}
	}
	var specs []spec
	if listeners != "" {
		dec := json.NewDecoder(strings.NewReader(listeners))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&specs); err != nil {
			return nil, 0, &EnvError{Var: EnvListeners, Value: listeners, Err: fmt.Errorf("want a JSON array of {\"fd\",\"network\",\"addr\"}: %v", err)}
		}
	}
	if len(specs) > maxListeners {
		return nil, 0, &EnvError{Var: EnvListeners, Value: listeners, Err: fmt.Errorf("%d listeners, at most %d", len(specs), maxListeners)}
	}
	seen := map[int]bool{rfd: true}
	for i, s := range specs {
		bad := func(format string, args ...any) error {
			return &EnvError{Var: EnvListeners, Value: listeners, Err: fmt.Errorf("[%d]: "+format, append([]any{i}, args...)...)}
		}
		switch {
		case s.FD < 3:
			return nil, 0, bad("fd %d: want 3 or more", s.FD)
		case seen[s.FD]:
			return nil, 0, bad("fd %d appears twice", s.FD)
		case s.Network == "" || s.Addr == "":
			return nil, 0, bad("network and addr are required")
		}
		seen[s.FD] = true
	}
	return specs, rfd, nil
}
