package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQuickstart runs the whole story, as `go run ./examples/quickstart` does.
func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, false, false), out.String())
	s := out.String()
	for _, want := range []string{
		"the module answers on", ": 1.0.0",
		"check: hello installed 1.0.0, update 1.1.0",
		"hook STARTUPDATE", "hook PREBACKUP", "hook POSTBACKUP", "hook PREINSTALL", "hook POSTINSTALL", "hook ENDUPDATE",
		"the module now answers: 1.1.0",
		"the local portal at http://127.0.0.1:", "shows hello: installed 1.1.0, up-to-date",
		"Done: the story completed",
	} {
		require.Contains(t, s, want)
	}
	// A delta not smaller than the pack is neither listed nor offered (it printed
	// "delta from 1.0.0: 816 bytes instead of 647").
	require.NotContains(t, s, "delta from")
	pre, post := strings.Index(s, "hook PREINSTALL  hello 1.0.0 → 1.1.0"), strings.Index(s, "hook POSTINSTALL hello 1.0.0 → 1.1.0")
	require.True(t, pre >= 0 && post > pre, "PREINSTALL then POSTINSTALL of the update:\n%s", s)
}
