// Command selfrestart is built by the tests of package handoff, once per version, and
// run from a module folder that the test swaps while it runs: then it restarts itself
// ("upgrade": through Handoff.Upgrade; "restart": through Restart) and the program that
// runs next prints its version.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/upkeep-go/upkeep/update/handoff"
)

var version = "0"

func main() {
	ctx := context.Background()
	fmt.Printf("version=%s pid=%d args=%s gen=%s\n", version, os.Getpid(), strings.Join(os.Args[1:], ","), os.Getenv("SELFRESTART_GEN"))
	h, err := handoff.New()
	if err != nil {
		fail(err)
	}
	if os.Getenv("SELFRESTART_GEN") != "" {
		// The restarted program: printing its version was its job.
		if err := h.Ready(); err != nil {
			fail(err)
		}
		return
	}
	os.Setenv("SELFRESTART_GEN", "2")
	fmt.Println("waiting for the swap")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fail(err)
	}
	switch os.Args[1] {
	case "upgrade":
		child, err := h.Upgrade(ctx)
		if err != nil {
			fail(err)
		}
		fmt.Printf("handed over to pid %d\n", child.PID)
	case "restart":
		fail(handoff.Restart()) // returns only on failure
	}
}

func fail(err error) {
	fmt.Println("error:", err)
	os.Exit(1)
}
