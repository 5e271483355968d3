package manifest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
)

func TestPlatform(t *testing.T) {
	t.Parallel()
	bad := []struct {
		in      string
		wantMsg string
	}{
		{"", `unknown platform ""`},
		{"amd64", "give both system and architecture"},
		{"x86_64", "give both system and architecture"},
		{"linux", "give both system and architecture"},
		{"beos/m68k", "want GOOS/GOARCH"},
		{"linux/", "want GOOS/GOARCH"},
		{"/amd64", "want GOOS/GOARCH"},
		{"darwin/386", "Go does not build for darwin/386"},
		{"windows/s390x", "Go does not build for windows/s390x"},
		{"linux//amd64", "want GOOS/GOARCH"},
		{"win128", "want GOOS/GOARCH"},
		{strings.Repeat("linux", 20), "name too long"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.in, func(t *testing.T) {
			t.Parallel()
			_, err := manifest.Platform(tt.in)
			require.ErrorIs(t, err, manifest.ErrUnknownPlatform)
			require.Contains(t, err.Error(), tt.wantMsg)
		})
	}
	good := []struct{ in, want string }{
		{"linux/amd64", "linux/amd64"},
		{"windows/arm64", "windows/arm64"},
		{"wasip1/wasm", "wasip1/wasm"},
		{"win32", "windows/386"},
		{"win64", "windows/amd64"},
		{"linux32", "linux/386"},
		{"linux64", "linux/amd64"},
		{"WIN64", "windows/amd64"},
		{"linux-amd64", "linux/amd64"},
		{"linux_x86_64", "linux/amd64"},
		{"linux-x86_64", "linux/amd64"},
		{"Linux x86-64", "linux/amd64"},
		{"windows_amd64", "windows/amd64"},
		{"windows-x64", "windows/amd64"},
		{"win/x64", "windows/amd64"},
		{"linux/i386", "linux/386"},
		{"linux-i686", "linux/386"},
		{"linux/aarch64", "linux/arm64"},
		{"darwin-arm64", "darwin/arm64"},
		{"macos/aarch64", "darwin/arm64"},
		{"linux-armv7l", "linux/arm"},
		{"linux/ppc64le", "linux/ppc64le"},
		{" linux/amd64 ", "linux/amd64"},
	}
	for _, tt := range good {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := manifest.Platform(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			again, err := manifest.Platform(got)
			require.NoError(t, err)
			require.Equal(t, got, again, "the canonical form is a fixed point")
		})
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"220099", "220036", 1},
		{"220036", "220099", -1},
		{"99999", "220036", -1}, // numbers, not strings
		{"1.0", "1.0.0", 0},
		{"v1.2.3", "1.2.3", 0},
		{"1.10.0", "1.9.3", 1},
		{"2.0.0-rc.1", "2.0.0", -1},
		{"2.0.0-rc.2", "2.0.0-rc.10", -1},
		{"1.0.0+build5", "1.0.0", 0},
		{"1.2.3.4", "1.2.3", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			t.Parallel()
			got, err := manifest.CompareVersions(tt.a, tt.b)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	for _, bad := range []string{"", "one", "1..2", "1.2.x", "1.2 3", strings.Repeat("9", 40), strings.Repeat("1.", 80) + "1"} {
		_, err := manifest.CompareVersions("1", bad)
		require.ErrorIs(t, err, manifest.ErrInvalid, "%q", bad)
		_, err = manifest.CompareVersions(bad, "1")
		require.ErrorIs(t, err, manifest.ErrInvalid, "%q", bad)
	}
	v, err := manifest.ParseVersion("220099")
	require.NoError(t, err)
	require.Equal(t, []int{220099, 0, 0}, v.Segments())
}
