package manifest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
)

// selectManifest builds the manifest the Select tests share. A release is written
// "module version [min=V] [ch=C] [roll=N] [major=N] [lang=L] platform..." .
func selectManifest(t testing.TB) *manifest.Manifest {
	t.Helper()
	lines := []string{
		"app 1.0.0 linux/amd64 windows/amd64",
		"app 2.0.0 min=1.0.0 ch=stable linux/amd64 windows/amd64",
		"app 3.0.0 min=2.0.0 linux/amd64",
		"app 4.0.0 min=3.0.0 ch=beta linux/amd64",
		"app 5.0.0 min=4.0.0 roll=0 linux/amd64",

		"chain 1 linux/amd64",
		"chain 2 min=1 linux/amd64",
		"chain 3 min=1 linux/amd64",
		"chain 4 min=1 linux/amd64",
		"chain 5 min=3 linux/amd64",
		"chain 6 min=5 linux/amd64",

		"stuck 1.0 linux/amd64",
		"stuck 2.0 min=1.5 linux/amd64",

		"partial 1.0 linux/amd64",
		"partial 1.2 linux/amd64",
		"partial 2.0 min=1.5 linux/amd64",

		"srv 220099 min=220036 major=22 lang=F windows/386 linux/amd64",
		"srv 220099 min=220036 major=22 lang=A windows/386",
		"srv 230010 min=230001 major=23 lang=F linux/amd64",

		"staged 1.1 roll=50 ch=Stable linux/amd64",
		"staged 1.2 roll=100 ch=dev linux/amd64",
	}
	m := &manifest.Manifest{Schema: 1, Product: "p", Serial: 1, Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, line := range lines {
		f := strings.Fields(line)
		r := manifest.Release{Module: f[0], Version: f[1]}
		var platforms []string
		for _, w := range f[2:] {
			k, v, ok := strings.Cut(w, "=")
			var n int
			switch k {
			case "min":
				r.MinVersion = v
			case "ch":
				r.Channel = v
			case "roll":
				fmt.Sscan(v, &n)
				r.Rollout = &n
			case "major":
				fmt.Sscan(v, &r.Major)
			case "lang":
				r.Language = v
			default:
				require.False(t, ok, w)
				platforms = append(platforms, w)
			}
		}
		for _, p := range platforms {
			file := fmt.Sprintf("%s-%s-%s-%s.zip", r.Module, r.Version, r.Language, strings.ReplaceAll(p, "/", "-"))
			require.NoError(t, m.AddPack(r, manifest.Pack{Platform: p, File: file, Size: 1, SHA256: strings.Repeat("0", 64)}))
		}
	}
	require.NoError(t, m.Validate())
	return m
}

// installID returns an install ID whose rollout bucket for the release is below
// (want true) or at least (want false) the percentage.
func installID(t *testing.T, module, version string, percent int, below bool) string {
	for i := range 1000 {
		id := fmt.Sprintf("server-%d", i)
		if (manifest.RolloutBucket(id, module, version) < percent) == below {
			return id
		}
	}
	t.Fatal("no install ID found")
	return ""
}

func TestSelect(t *testing.T) {
	t.Parallel()
	m := selectManifest(t)
	inRollout := installID(t, "staged", "1.1", 50, true)
	outOfRollout := installID(t, "staged", "1.1", 50, false)
	type want struct {
		status manifest.Status
		code   manifest.Code
		path   string // versions, space-separated
		file   string // the final pack's file
		reason string // a substring of Reason
	}
	tests := []struct {
		name string
		t    manifest.Target
		want want
	}{
		// Bad targets and ineligible codes first.
		{"unknown platform", manifest.Target{Module: "app", Installed: "1.0.0", Platform: "beos"},
			want{status: manifest.StatusIneligible, code: manifest.CodeInvalidTarget, reason: `platform "beos" of this installation is unknown`}},
		{"installed does not parse", manifest.Target{Module: "app", Installed: "one", Platform: "linux64"},
			want{status: manifest.StatusIneligible, code: manifest.CodeInvalidTarget, reason: `installed version "one"`}},
		{"no release", manifest.Target{Module: "nope", Installed: "1", Platform: "linux64"},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoRelease, reason: `the manifest has no release of module "nope"`}},
		{"no release, nothing installed", manifest.Target{Module: "nope", Platform: "linux64"},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoRelease}},
		{"module names are exact", manifest.Target{Module: "APP", Installed: "1", Platform: "linux64"},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoRelease}},
		{"other major", manifest.Target{Module: "srv", Installed: "210500", Platform: "linux64", Language: "F", Major: 21},
			want{status: manifest.StatusIneligible, code: manifest.CodeOtherMajor, reason: `release 230010 of module "srv" is for major version 23, and this installation is major version 21`}},
		{"other major before language and platform", manifest.Target{Module: "srv", Installed: "210500", Platform: "linux/arm64", Language: "Z", Major: 21},
			want{status: manifest.StatusIneligible, code: manifest.CodeOtherMajor}},
		{"language", manifest.Target{Module: "srv", Installed: "220040", Platform: "linux64", Language: "E", Major: 22},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoPackForLanguage, reason: `release 220099 of module "srv" is for language "F", and this installation's language is "E"`}},
		{"language before platform", manifest.Target{Module: "srv", Installed: "220040", Platform: "linux/arm64", Language: "E", Major: 22},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoPackForLanguage}},
		{"platform", manifest.Target{Module: "srv", Installed: "220040", Platform: "win64", Language: "F", Major: 22},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoPackForPlatform, reason: `release 220099 of module "srv" has no pack for windows/amd64 (only for windows/386, linux/amd64)`}},
		{"platform of the language's release", manifest.Target{Module: "srv", Installed: "220040", Platform: "linux64", Language: "A", Major: 22},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoPackForPlatform}},
		{"platform before min version", manifest.Target{Module: "stuck", Installed: "0.5", Platform: "darwin/arm64"},
			want{status: manifest.StatusIneligible, code: manifest.CodeNoPackForPlatform}},
		{"below min version, no chain", manifest.Target{Module: "stuck", Installed: "1.0", Platform: "linux64"},
			want{status: manifest.StatusIneligible, code: manifest.CodeBelowMinVersion, reason: `release 2.0 of module "stuck" needs 1.5 or later installed, 1.0 is installed, and no chain of releases leads there`}},
		{"below min version, HFSQL", manifest.Target{Module: "srv", Installed: "220035", Platform: "linux64", Language: "F", Major: 22},
			want{status: manifest.StatusIneligible, code: manifest.CodeBelowMinVersion}},

		// Up to date, including what channel and rollout hold back.
		{"newest installed", manifest.Target{Module: "stuck", Installed: "2.0", Platform: "linux64"},
			want{status: manifest.StatusUpToDate}},
		{"newer than all", manifest.Target{Module: "stuck", Installed: "9", Platform: "beos/m68k"},
			want{status: manifest.StatusIneligible, code: manifest.CodeInvalidTarget}},
		{"newer than all, platform fine", manifest.Target{Module: "stuck", Installed: "9", Platform: "linux64"},
			want{status: manifest.StatusUpToDate}},
		{"beta held back from stable", manifest.Target{Module: "app", Installed: "3.0.0", Platform: "linux64"},
			want{status: manifest.StatusUpToDate, reason: "not offered yet"}},
		{"rollout 0 held back from beta", manifest.Target{Module: "app", Installed: "4.0.0", Platform: "linux64", Channel: "beta"},
			want{status: manifest.StatusUpToDate}},
		{"held back although other major", manifest.Target{Module: "app", Installed: "3.0.0", Platform: "linux64", Major: 9},
			want{status: manifest.StatusUpToDate}},
		{"out of rollout", manifest.Target{Module: "staged", Installed: "1.0", Platform: "linux64", InstallID: outOfRollout},
			want{status: manifest.StatusUpToDate}},

		// Updates.
		{"next release", manifest.Target{Module: "app", Installed: "2.0.0", Platform: "linux64"},
			want{status: manifest.StatusUpdate, path: "3.0.0", file: "app-3.0.0--linux-amd64.zip", reason: `module "app": 3.0.0 is available for linux/amd64`}},
		{"chain through min_version", manifest.Target{Module: "app", Installed: "1.0.0", Platform: "linux/amd64"},
			want{status: manifest.StatusUpdate, path: "2.0.0 3.0.0", file: "app-3.0.0--linux-amd64.zip", reason: "install 2.0.0, then 3.0.0 in this order"}},
		{"chain on beta", manifest.Target{Module: "app", Installed: "1.0.0", Platform: "linux/amd64", Channel: "beta"},
			want{status: manifest.StatusUpdate, path: "2.0.0 3.0.0 4.0.0", file: "app-4.0.0--linux-amd64.zip"}},
		{"channel names ignore case", manifest.Target{Module: "app", Installed: "3.0.0", Platform: "linux/amd64", Channel: "BETA"},
			want{status: manifest.StatusUpdate, path: "4.0.0"}},
		{"dev does not get beta", manifest.Target{Module: "app", Installed: "3.0.0", Platform: "linux/amd64", Channel: "dev"},
			want{status: manifest.StatusUpToDate}},
		{"windows stops where its packs stop", manifest.Target{Module: "app", Installed: "1.0.0", Platform: "win64"},
			want{status: manifest.StatusUpdate, path: "2.0.0", file: "app-2.0.0--windows-amd64.zip"}},
		{"first install ignores min_version", manifest.Target{Module: "app", Platform: "linux64", Channel: "beta"},
			want{status: manifest.StatusUpdate, path: "4.0.0", reason: "first install"}},
		{"first install, HFSQL", manifest.Target{Module: "srv", Platform: "win32", Language: "A"},
			want{status: manifest.StatusUpdate, path: "220099", file: "srv-220099-A-windows-386.zip"}},
		{"shortest chain, newest steps", manifest.Target{Module: "chain", Installed: "1", Platform: "linux64"},
			want{status: manifest.StatusUpdate, path: "4 5 6"}},
		{"shortest chain from below every release", manifest.Target{Module: "chain", Installed: "0.1", Platform: "linux64"},
			want{status: manifest.StatusUpdate, path: "1 4 5 6"}},
		{"min_version met directly", manifest.Target{Module: "chain", Installed: "5.5", Platform: "linux64"},
			want{status: manifest.StatusUpdate, path: "6"}},
		{"newest unreachable, newest reachable offered", manifest.Target{Module: "partial", Installed: "1.0", Platform: "linux64"},
			want{status: manifest.StatusUpdate, path: "1.2", reason: "no chain of releases leads there from 1.0; 1.2 is the newest release that can be installed"}},
		{"HFSQL update", manifest.Target{Module: "srv", Installed: "220036", Platform: "windows/386", Language: "a", Major: 22},
			want{status: manifest.StatusUpdate, path: "220099", file: "srv-220099-A-windows-386.zip"}},
		{"unset major and language accept any", manifest.Target{Module: "srv", Installed: "230001", Platform: "linux64"},
			want{status: manifest.StatusUpdate, path: "230010"}},
		{"in rollout", manifest.Target{Module: "staged", Installed: "1.0", Platform: "linux64", InstallID: inRollout},
			want{status: manifest.StatusUpdate, path: "1.1"}},
		{"dev channel gets dev and stable", manifest.Target{Module: "staged", Installed: "1.0", Platform: "linux64", Channel: "dev", InstallID: outOfRollout},
			want{status: manifest.StatusUpdate, path: "1.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := m.Select(tt.t)
			require.Equal(t, tt.want.status, s.Status, s.Reason)
			require.Equal(t, tt.want.code, s.Code, s.Reason)
			require.NotEmpty(t, s.Reason)
			require.Contains(t, s.Reason, tt.want.reason)
			if s.Status != manifest.StatusUpdate {
				require.Nil(t, s.Release)
				require.Nil(t, s.Pack)
				require.Empty(t, s.Path)
				return
			}
			var path []string
			for _, st := range s.Path {
				path = append(path, st.Release.Version)
				require.Equal(t, tt.t.Module, st.Release.Module)
				p, _ := manifest.Platform(tt.t.Platform)
				require.Equal(t, p, st.Pack.Platform)
			}
			require.Equal(t, tt.want.path, strings.Join(path, " "))
			last := s.Path[len(s.Path)-1]
			require.Same(t, last.Release, s.Release)
			require.Same(t, last.Pack, s.Pack)
			if tt.want.file != "" {
				require.Equal(t, tt.want.file, s.Pack.File)
			}
			// Pointers into the manifest, not copies.
			found := false
			for i := range m.Releases {
				found = found || &m.Releases[i] == s.Release
			}
			require.True(t, found)
		})
	}
}

func TestRolloutBucket(t *testing.T) {
	t.Parallel()
	// Stable: the same inputs give the same bucket, documented formula.
	require.Equal(t, manifest.RolloutBucket("id", "m", "1.0"), manifest.RolloutBucket("id", "m", "1.0"))
	// The separators keep ("ab","c") and ("a","bc") apart; any bucket is in 0..99, and
	// about the right share of installations fall under a percentage.
	const n = 2000
	under := 0
	for i := range n {
		b := manifest.RolloutBucket(fmt.Sprintf("install-%d", i), "m", "1.0")
		require.True(t, b >= 0 && b < 100)
		if b < 30 {
			under++
		}
	}
	require.InDelta(t, 0.30*n, under, 0.05*n)

	// A release's answer does not flip between checks, and rollout 0 and 100 are
	// exact.
	m := selectManifest(t)
	for i := range 50 {
		id := fmt.Sprintf("install-%d", i)
		target := manifest.Target{Module: "staged", Installed: "1.0", Platform: "linux64", InstallID: id}
		first := m.Select(target).Status
		for range 3 {
			require.Equal(t, first, m.Select(target).Status)
		}
		want := manifest.StatusUpToDate
		if manifest.RolloutBucket(id, "staged", "1.1") < 50 {
			want = manifest.StatusUpdate
		}
		require.Equal(t, want, first)
		require.Equal(t, manifest.StatusUpToDate, m.Select(manifest.Target{Module: "app", Installed: "4.0.0", Platform: "linux64", Channel: "beta", InstallID: id}).Status)
	}
}
