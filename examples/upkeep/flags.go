package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageError is a bad command line: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error (exit code 2).
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// errHelpShown is returned after -h printed a command's usage: exit code 0.
var errHelpShown = errors.New("help shown")

// errSilentFailure makes the command exit 1 without printing anything more (it has
// already said why, e.g. in its JSON).
var errSilentFailure = errors.New("failed")

// newFlags returns a FlagSet for a subcommand whose usage goes to cl.stdout on -h.
// synopsis is the line after "usage: ".
func (cl *cli) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(cl.stdout, "usage: %s\n", synopsis)
		fs.SetOutput(cl.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args with fs, accepting flags before, between and after positional
// arguments (Go's flag package alone stops at the first positional). "--" ends the
// flags: everything after it is positional ("--" given as a flag's value is a value).
// It returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		end := terminator(fs, args)
		var rest []string
		if end >= 0 {
			args, rest = args[:end], args[end+1:]
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) { // the flag package has printed the usage
				return nil, errHelpShown
			}
			return nil, &usageError{err}
		}
		left := fs.Args()
		if len(left) == 0 {
			return append(pos, rest...), nil
		}
		pos = append(pos, left[0])
		// What follows the first positional is parsed again; a terminator cut off
		// above goes back at the end.
		args = left[1:]
		if end >= 0 {
			args = append(append(args, "--"), rest...)
		}
	}
}

// terminator returns the index of the "--" that ends the flags in args, or -1. It
// walks args as the flag package does, so that "--" given as a flag's value, or found
// after the first positional, is not taken for it.
func terminator(fs *flag.FlagSet, args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return i
		}
		if len(a) < 2 || a[0] != '-' {
			return -1 // a positional: flag parsing stops here
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			return -1 // an unknown flag: the flag package reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		i++ // the flag's value
	}
	return -1
}

// exactArgs checks the number of positional arguments.
func exactArgs(pos []string, n int, what string) error {
	if len(pos) != n {
		return usagef("want %s, got %d argument(s): %s", what, len(pos), strings.Join(pos, " "))
	}
	return nil
}

// multiFlag is a flag that may be repeated (--pub A --pub B).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
