package update

import (
	"fmt"
	"slices"
	"strings"

	"github.com/upkeep-go/upkeep/manifest"
)

// channelWarnings warns when the configured channel is one the manifest has never
// listed: a misspelt channel ("stabel", "beta " for "beta") would otherwise leave the
// server offered nothing but the stable releases, silently.
func channelWarnings(channel string, m *manifest.Manifest) []string {
	if channel == "" || channel == "stable" || len(m.Releases) == 0 {
		return nil
	}
	seen := map[string]bool{"stable": true}
	for _, r := range m.Releases {
		c := r.Channel
		if c == "" {
			c = "stable"
		}
		if c == channel {
			return nil
		}
		seen[c] = true
	}
	listed := slices.Sorted(func(yield func(string) bool) {
		for c := range seen {
			if !yield(c) {
				return
			}
		}
	})
	return []string{fmt.Sprintf("channel %q: the manifest lists no release in it (channels it lists: %s); check the configuration's \"channel\"",
		channel, strings.Join(listed, ", "))}
}
