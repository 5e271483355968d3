package manifest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzVersionCompare checks that parsedVersion.compare, which Select sorts and
// searches with, orders versions exactly as go-version's Compare does.
func FuzzVersionCompare(f *testing.F) {
	for _, p := range [][2]string{
		{"1.0", "1.0.0"}, {"1.0.0.0", "1.0.0-rc"}, {"1.0-rc.1", "1.0-rc.2"}, {"1.0-rc.1+b", "1.0-rc.1"},
		{"220099", "220036"}, {"v2.0.0-alpha", "2.0.0-alpha.1"}, {"1.2.3-beta.11", "1.2.3-beta.2"}, {"1", "1.0.0.1"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, err := parseVersion(a)
		if err != nil {
			return
		}
		vb, err := parseVersion(b)
		if err != nil {
			return
		}
		require.Equal(t, va.v.Compare(vb.v), va.compare(vb), "%q vs %q", a, b)
		require.Equal(t, vb.v.Compare(va.v), vb.compare(va), "%q vs %q", b, a)
	})
}
