package agent_test

import (
	"fmt"
	"log"
	"path/filepath"
	"time"

	"github.com/upkeep-go/upkeep/update/agent"
)

// ExampleParseConfig reads an agent configuration: the engine's part (update.Config,
// given to update.New) and the schedule (given to agent.Run).
func ExampleParseConfig() {
	c, err := agent.ParseConfig([]byte(`{
	  "source": "http://127.0.0.1:8090/",
	  "keys": ["publisher.pub"],
	  "state_dir": "/var/lib/upkeep",
	  "check_interval": "6h",
	  "auto_install": {"days": ["sat", "sun"], "hours": "02:00-05:00"},
	  "modules": [{"name": "web", "path": "/srv/web"}]
	}`), "/etc/upkeep")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.ToSlash(c.Keys[0]), c.Modules[0].Strategy)
	opts := c.RunOptions()
	fmt.Println(opts.Interval, opts.AutoInstall.Contains(time.Date(2026, 11, 21, 3, 0, 0, 0, time.Local)))
	// Output:
	// /etc/upkeep/publisher.pub swap
	// 6h0m0s true
}
