package manifest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
)

// addSeeds adds every JSON file of testdata as a seed.
func addSeeds(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(f, err)
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"schema":1,"product":"p","serial":1,"expires":"2027-01-01T00:00:00+02:00","releases":[{"module":"m","version":"1.0-rc.1+b","rollout":0,"channel":"","packs":[{"platform":"linux/arm64","file":"m.zip","size":0,"sha256":"` + string(bytes.Repeat([]byte("ab"), 32)) + `"}]}]}`))
	f.Add([]byte(`{"pack":[{"version":230010,"major_version":"23","pack":[{"platform":"linux64","data":"x"}]}]}`))
}

// FuzzParse checks that Parse never panics, and that whatever it accepts survives a
// round trip through Marshal unchanged, byte for byte.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Parse(data)
		if err != nil {
			require.Nil(t, m)
			return
		}
		require.NoError(t, m.Validate())
		out, err := m.Marshal()
		require.NoError(t, err)
		back, err := manifest.Parse(out)
		require.NoError(t, err, "%s", out)
		require.Equal(t, m, back)
		again, err := back.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
		for _, r := range m.Releases {
			s := m.Select(manifest.Target{Module: r.Module, Installed: r.MinVersion, Platform: r.Packs[0].Platform, InstallID: "x"})
			if s.Status == manifest.StatusUpdate {
				require.Same(t, s.Path[len(s.Path)-1].Release, s.Release)
			}
		}
	})
}

// FuzzParseAny checks that ParseAny agrees with Detect, Parse and ParseHFSQL, and that
// Select on what it returns never panics.
func FuzzParseAny(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, format, err := manifest.ParseAny(data)
		detected, derr := manifest.Detect(data)
		if derr != nil {
			require.Error(t, err)
			return
		}
		require.Equal(t, detected, format)
		switch format {
		case manifest.FormatNative:
			_, perr := manifest.Parse(data)
			require.Equal(t, perr == nil, err == nil)
		case manifest.FormatHFSQL:
			_, herr := manifest.ParseHFSQL(data)
			require.Equal(t, herr == nil, err == nil)
		}
		if err != nil {
			return
		}
		for _, r := range m.Releases {
			for _, p := range r.Packs {
				s := m.Select(manifest.Target{Module: r.Module, Installed: "0", Platform: p.Platform, Language: r.Language, Major: r.Major})
				require.NotEqual(t, manifest.CodeNoRelease, s.Code)
				require.NotEmpty(t, s.Reason)
			}
		}
	})
}

// FuzzPlatform checks that Platform's canonical form is a fixed point and a platform
// Go builds for.
func FuzzPlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "win32", "linux64", "Linux x86_64", "windows_x64", "amd64", "darwin/386", "macos-aarch64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := manifest.Platform(s)
		if err != nil {
			require.ErrorIs(t, err, manifest.ErrUnknownPlatform)
			return
		}
		again, err := manifest.Platform(p)
		require.NoError(t, err)
		require.Equal(t, p, again)
	})
}

// FuzzSelectPath checks Select's upgrade paths against a plain breadth-first search
// over the same releases: data[0] is the installed build, and each further byte makes
// a release, build i, applied over builds at or above its byte modulo i+1 (0: over
// anything). Both must find the same path: the fewest steps to the newest release that
// can be reached, preferring the newer release at each step.
func FuzzSelectPath(f *testing.F) {
	f.Add([]byte{1, 0, 1, 1, 1, 3, 5})
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{2, 0, 0, 2, 9, 4, 255, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 || len(data) > 200 {
			return
		}
		installed := int(data[0])
		n := len(data) - 1
		mins := make([]int, n+1) // mins[v] for build v in 1..n
		m := &manifest.Manifest{Schema: 1, Product: "p", Serial: 1, Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		for v := 1; v <= n; v++ {
			mins[v] = int(data[v]) % (v + 1)
			r := manifest.Release{Module: "m", Version: strconv.Itoa(v),
				Packs: []manifest.Pack{{Platform: "linux/amd64", File: "f.zip", SHA256: strings.Repeat("0", 64)}}}
			if mins[v] > 0 {
				r.MinVersion = strconv.Itoa(mins[v])
			}
			m.Releases = append(m.Releases, r)
		}
		s := m.Select(manifest.Target{Module: "m", Installed: strconv.Itoa(installed), Platform: "linux/amd64"})
		var got []string
		for _, st := range s.Path {
			got = append(got, st.Release.Version)
		}

		// The reference: level by level, each release's parent the newest release of the
		// level before that it applies over.
		parent := make([]int, n+1) // 0: the installed build; -1: not reached
		var level []int
		for v := installed + 1; v <= n; v++ {
			parent[v] = -1
			if installed >= mins[v] {
				parent[v] = 0
				level = append(level, v)
			}
		}
		for len(level) > 0 {
			var next []int
			for v := installed + 1; v <= n; v++ {
				if parent[v] != -1 {
					continue
				}
				for _, u := range level {
					if u >= mins[v] && u < v {
						parent[v] = u
					}
				}
				if parent[v] != -1 {
					next = append(next, v)
				}
			}
			level = next
		}
		goal := n
		for goal > installed && parent[goal] == -1 {
			goal--
		}
		var want []string
		if goal > installed && !(n > installed && installed >= mins[n]) {
			for v := goal; v > 0; v = parent[v] {
				want = append([]string{strconv.Itoa(v)}, want...)
			}
		} else if goal > installed {
			want = []string{strconv.Itoa(n)}
		}
		require.Equal(t, want, got, s.Reason)
		if len(want) == 0 && installed < n {
			require.Equal(t, manifest.CodeBelowMinVersion, s.Code, s.Reason)
		}
	})
}
