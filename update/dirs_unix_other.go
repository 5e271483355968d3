//go:build unix && !linux

package update

// exchangeAt has no atomic form on this system: the caller falls back to three
// renames.
func exchangeAt(a *dir, aName string, b *dir, bName string) error { return errNoExchange }
