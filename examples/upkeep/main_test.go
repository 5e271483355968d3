package main

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

// runCLI runs one command line in-process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cl := &cli{stdin: bytes.NewReader(nil), stdout: &out, stderr: &errb}
	code := cl.main(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestParseInterleaved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantPos []string
		wantJ   bool
	}{
		{[]string{"a", "--json"}, []string{"a"}, true},
		{[]string{"--json", "a"}, []string{"a"}, true},
		{[]string{"a", "b", "--json", "c"}, []string{"a", "b", "c"}, true},
		{[]string{"a", "--", "--json"}, []string{"a", "--json"}, false},
		{nil, nil, false},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		j := fs.Bool("json", false, "")
		pos, err := parse(fs, tt.args)
		require.NoError(t, err)
		require.Equal(t, tt.wantPos, pos, "%v", tt.args)
		require.Equal(t, tt.wantJ, *j, "%v", tt.args)
	}
}

func TestUsageExitCodes(t *testing.T) {
	t.Parallel()
	code, _, _ := runCLI(t)
	require.Equal(t, exitUsage, code)
	code, out, _ := runCLI(t, "-h")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "usage: upkeep")
	code, _, errs := runCLI(t, "no-such-command")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "no-such-command")
}

func TestParseTerminatorAsValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantPos []string
		wantC   string
	}{
		{[]string{"--comment", "--", "file"}, []string{"file"}, "--"},
		{[]string{"file", "--comment", "--"}, []string{"file"}, "--"},
		{[]string{"a", "--", "--comment", "x"}, []string{"a", "--comment", "x"}, ""},
		{[]string{"--", "-x", "--comment"}, []string{"-x", "--comment"}, ""},
		{[]string{"--comment=--", "a", "--", "b"}, []string{"a", "b"}, "--"},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		c := fs.String("comment", "", "")
		pos, err := parse(fs, tt.args)
		require.NoError(t, err, "%v", tt.args)
		require.Equal(t, tt.wantPos, pos, "%v", tt.args)
		require.Equal(t, tt.wantC, *c, "%v", tt.args)
	}
}
