//go:build !linux

package update

// exchangeDirs swaps two paths with three renames; Recover finishes or undoes an
// interrupted sequence from the paths that exist (see recover.go).
func (o *ops) exchangeDirs(a, b string) error { return o.exchangeByRenames(a, b) }
