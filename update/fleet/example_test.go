package fleet_test

import (
	"fmt"

	"github.com/upkeep-go/upkeep/update/fleet"
)

// The seed's operators typed a space after an update's name; the master trims it.
func ExampleCleanName() {
	name, err := fleet.CleanName("Watchdoc 6.1 ")
	fmt.Printf("%q %v\n", name, err)
	_, err = fleet.CleanName("   ")
	fmt.Println(err)
	// Output:
	// "Watchdoc 6.1" <nil>
	// empty name
}

func ExampleParseConfig() {
	cfg, err := fleet.ParseConfig([]byte(`{"role": "slave", "master": "http://127.0.0.1:8443",
		"name": "print-2", "mode": "mailbox", "enrol_token_file": "enrol.token"}`), "/etc/upkeep")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Mode, cfg.EnrolTokenFile, cfg.PollInterval.String())
	_, err = fleet.ParseConfig([]byte(`{"role": "slave", "master": "http://10.0.0.5:8443",
		"name": "print-2", "mode": "mailbox", "enrol_token_file": "enrol.token"}`), "/etc/upkeep")
	fmt.Println(err)
	// Output:
	// mailbox /etc/upkeep/enrol.token 30s
	// fleet.master: "http://10.0.0.5:8443": plain http is accepted for a loopback master only, use https
}
