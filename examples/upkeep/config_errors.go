package main

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/fleet"
)

// fleetConfigErr places an error of the configuration's "fleet" block in the file, as
// the agent does for the rest: "FILE:LINE:COL: fleet.master: …", with "did you mean"
// for an unknown key.
func fleetConfigErr(cfg *agent.Config, err error) error {
	var fe *fleet.ConfigError
	if !errors.As(err, &fe) {
		return err
	}
	field, cause := fe.Field, fe.Err
	if rest, ok := strings.CutPrefix(cause.Error(), "json: unknown field "); ok {
		if name, uerr := strconv.Unquote(rest); uerr == nil {
			field = "fleet." + name
			msg := "unknown key"
			if s := nearestKey(name, reflect.TypeFor[fleet.Config]()); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			cause = errors.New(msg)
		}
	}
	return cfg.Locate(&update.ConfigError{Field: field, Err: cause})
}

// nearestKey returns the JSON key of struct type t nearest to name, "" when none is
// an edit or two away.
func nearestKey(name string, t reflect.Type) string {
	best, bestD := "", 3
	for f := range t.Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if key == "" || key == "-" {
			continue
		}
		if d := editDistance(name, key); d < bestD && d <= max(1, len(key)/3) {
			best, bestD = key, d
		}
	}
	return best
}
