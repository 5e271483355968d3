package service_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/upkeep-go/upkeep/update/agent/service"
)

// ExampleSystemd_Render prints the unit `upkeep service install --print` writes.
func ExampleSystemd_Render() {
	unit, err := service.Systemd{}.Render(service.Definition{
		Exe:  "/usr/local/bin/upkeep",
		Args: []string{"agent", "--config", "/etc/upkeep/agent.json"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(unit, "\n") {
		if strings.HasPrefix(line, "Type=") || strings.HasPrefix(line, "ExecStart=") || strings.HasPrefix(line, "Watchdog") {
			fmt.Println(line)
		}
	}
	// Output:
	// Type=notify
	// ExecStart="/usr/local/bin/upkeep" "agent" "--config" "/etc/upkeep/agent.json"
	// WatchdogSec=60s
}
