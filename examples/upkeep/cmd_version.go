package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func init() {
	register(&command{name: "version", summary: "print upkeep's version", run: runVersion})
}

// version returns the module version of this build: "v1.2.0" when installed with
// `go install …@v1.2.0`, "(devel)" when built from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "(devel)"
	}
	return bi.Main.Version
}

func runVersion(ctx context.Context, cl *cli, args []string) error {
	fs := cl.newFlags("version", "upkeep version")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(pos, 0, "no argument"); err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "upkeep %s\n", version())
	return nil
}

// suggest returns the command nearest to name, "" when none is near: "instal" gives
// "install", "stauts" gives "status".
func suggest(name string) string {
	best, bestD := "", 3
	for n := range commands {
		d := editDistance(name, n)
		if d < bestD || d == bestD && n < best {
			best, bestD = n, d
		}
	}
	if bestD > max(1, len(best)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, with a swap of two neighbours
// counted as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
