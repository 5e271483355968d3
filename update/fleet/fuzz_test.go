package fleet_test

import (
	"testing"

	"github.com/upkeep-go/upkeep/update/fleet"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"role":"master","listen":"127.0.0.1:8443","store":"sqlite:fleet.db","enrol_token_file":"e","admin_token_file":"a"}`))
	f.Add([]byte(`{"role":"slave","master":"https://m:8443","name":"s 1","mode":"push","listen":":9000","poll_interval":"30s","enrol_token_file":"e","master_ca_file":"ca.pem"}`))
	f.Add([]byte(`{"role":"slave","mode":"mailbox","poll_interval":"-1s"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := fleet.ParseConfig(data, "/base")
		if err != nil {
			return
		}
		// What parses validates again, unchanged.
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
	})
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Watchdoc 6.1 ", "", "a/b", "\x00", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := fleet.CleanName(s)
		if err != nil {
			return
		}
		if err := fleet.ValidateName(n); err != nil {
			t.Fatalf("CleanName(%q) = %q, which does not validate: %v", s, n, err)
		}
		if m, _ := fleet.CleanName(n); m != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, m)
		}
	})
}
