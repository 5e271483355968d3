// Command upkeep is the operator and publisher command of the upkeep library: keys and
// signatures, packs, manifests, publishing, and operating a server's modules. Its
// contract (names, flags, exit codes, JSON) is fixed, since scripts and tests drive it; run `upkeep -h` for the
// subcommands this build has.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes, the same for every subcommand.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// command is one subcommand. Each cmd_*.go file registers its own in init, so that
// the subcommands of different packages live in different files.
type command struct {
	name    string // as typed: "keygen", "manifest"
	summary string // one line for `upkeep -h`
	run     func(ctx context.Context, cl *cli, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("upkeep: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// cli is what a command sees of the process: its standard streams and whether stderr,
// where progress bars are drawn, is a terminal. Tests build one over buffers.
type cli struct {
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	terminal bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cl := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, terminal: isTerminal(os.Stderr)}
	code := cl.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// main runs one command line and returns the exit code.
func (cl *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		cl.usage(cl.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		cl.usage(cl.stdout)
		return exitOK
	case "--version", "-version", "-v":
		fmt.Fprintf(cl.stdout, "upkeep %s\n", version())
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		if s := suggest(args[0]); s != "" {
			fmt.Fprintf(cl.stderr, "upkeep: unknown command %q: did you mean %q? (run `upkeep -h` for the list)\n", args[0], s)
		} else {
			fmt.Fprintf(cl.stderr, "upkeep: unknown command %q (run `upkeep -h` for the list)\n", args[0])
		}
		return exitUsage
	}
	err := c.run(ctx, cl, args[1:])
	return cl.exitCode(c.name, err)
}

func (cl *cli) exitCode(name string, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelpShown):
		return exitOK
	case errors.Is(err, errSilentFailure):
		return exitFailed
	case errors.Is(err, errSilentUsage):
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(cl.stderr, "upkeep %s: %v\n", name, ue.err)
		return exitUsage
	default:
		fmt.Fprintf(cl.stderr, "upkeep %s: %s\n", name, oneLine(err.Error()))
		return exitFailed
	}
}

func (cl *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: upkeep COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `upkeep COMMAND -h` for a command's flags.")
}

// oneLine folds an error message onto one line, since a failure is one line on stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
