package manifest_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
)

func TestParseHFSQLErrors(t *testing.T) {
	t.Parallel()
	entry := func(fields string) string {
		return `{"pack":[{"major_version":22,"language":"F","version":"220099","min_version":"220036",` + fields + `}]}`
	}
	tests := []struct {
		name    string
		data    string
		wantErr error
		wantMsg string
	}{
		{"no pack", `{}`, manifest.ErrMissing, "pack: missing"},
		{"pack not array", `{"pack":{}}`, manifest.ErrInvalid, "pack: invalid: want an array, got an object"},
		{"entry not object", `{"pack":[1]}`, manifest.ErrInvalid, "pack[0]: invalid: want a JSON object, got a number"},
		{"no version", `{"pack":[{"pack":[{"plateform":"win32","data":"a"}]}]}`, manifest.ErrMissing, "pack[0].version: missing"},
		{"bad version", `{"pack":[{"version":"22.x","pack":[{"plateform":"win32","data":"a"}]}]}`, manifest.ErrInvalid, `pack[0].version: invalid: version "22.x" does not parse…`},
		{"bad min_version", `{"pack":[{"version":"2","min_version":"x","pack":[{"plateform":"win32","data":"a"}]}]}`, manifest.ErrInvalid, "pack[0].min_version: invalid…"},
		{"min above version", `{"pack":[{"version":"2","min_version":"3","pack":[{"plateform":"win32","data":"a"}]}]}`, manifest.ErrInvalid, "pack[0].min_version: invalid: 3 is above the release's version 2"},
		{"bad major", `{"pack":[{"major_version":"vingt","version":"2","pack":[{"plateform":"win32","data":"a"}]}]}`, manifest.ErrInvalid, "pack[0].major_version: invalid…"},
		{"negative major", `{"pack":[{"major_version":-1,"version":"2","pack":[{"plateform":"win32","data":"a"}]}]}`, manifest.ErrInvalid, "pack[0].major_version: invalid…"},
		{"bad language", `{"pack":[{"language":"F R","version":"2","pack":[{"plateform":"win32","data":"a"}]}]}`, manifest.ErrInvalid, "pack[0].language: invalid…"},
		{"no packs", entry(`"pack":[]`), manifest.ErrMissing, "pack[0].pack: missing"},
		{"no plateform", entry(`"pack":[{"data":"a"}]`), manifest.ErrMissing, "pack[0].pack[0].plateform: missing"},
		{"unknown plateform", entry(`"pack":[{"plateform":"os2","data":"a"}]`), manifest.ErrUnknownPlatform, `pack[0].pack[0].plateform: unknown platform "os2"…`},
		{"no data", entry(`"pack":[{"plateform":"win32"}]`), manifest.ErrMissing, "pack[0].pack[0].data: missing"},
		{"data with slash", entry(`"pack":[{"plateform":"win32","data":"../../etc/x"}]`), manifest.ErrInvalid, "pack[0].pack[0].data: invalid…"},
		{"data with backslash", entry(`"pack":[{"plateform":"win32","data":"a\\b"}]`), manifest.ErrInvalid, "pack[0].pack[0].data: invalid…"},
		{"data not string", entry(`"pack":[{"plateform":"win32","data":5}]`), manifest.ErrInvalid, "pack[0].pack[0].data: invalid: want a string, got a number"},
		{"same platform twice", entry(`"pack":[{"plateform":"win64","data":"a"},{"plateform":"windows/amd64","data":"b"}]`), manifest.ErrDuplicate,
			"pack[0].pack[1]: duplicate: platform windows/amd64 (windows/amd64) already has a pack in pack[0]"},
		{"same release twice", `{"pack":[{"version":"220099","language":"F","pack":[{"plateform":"win32","data":"a"}]},{"version":"220099","language":"f","pack":[{"plateform":"win64","data":"b"}]}]}`,
			manifest.ErrDuplicate, `pack[1]: duplicate: version 220099 (language "f") is already pack[0]`},
		{"too large", `{"pack":[],"x":"` + strings.Repeat("x", manifest.MaxSize) + `"}`, manifest.ErrTooLarge, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := manifest.ParseHFSQL([]byte(tt.data))
			require.ErrorIs(t, err, tt.wantErr)
			if prefix, ok := strings.CutSuffix(tt.wantMsg, "…"); ok {
				require.True(t, strings.HasPrefix(err.Error(), prefix), "got %q, want prefix %q", err, prefix)
			} else {
				require.Equal(t, tt.wantMsg, err.Error())
			}
		})
	}
}

func TestParseHFSQLSeed(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/hfsql_updateinfo.json")
	require.NoError(t, err)
	h, err := manifest.ParseHFSQL(data)
	require.NoError(t, err)
	require.Equal(t, &manifest.HFSQL{Releases: []manifest.HFSQLRelease{{
		MajorVersion: 22, Language: "F", Version: "220099", MinVersion: "220036",
		Packs: []manifest.HFSQLPack{
			{Platform: "win32", Data: "srv_hfsql_win32_90F220099z"},
			{Platform: "win64", Data: "srv_hfsql_win64_90F220099z"},
			{Platform: "linux32", Data: "srv_hfsql_linux32_90F220099z"},
			{Platform: "linux64", Data: "srv_hfsql_linux64_90F220099z"},
		},
	}}}, h)

	// Lenient on what hand-written files carry: numbers for versions, "platform".
	h2, err := manifest.ParseHFSQL([]byte(`{"pack":[{"major_version":"23","version":230010,"min_version":230001,"pack":[{"platform":"linux64","data":"x"}]}]}`))
	require.NoError(t, err)
	require.Equal(t, "230010", h2.Releases[0].Version)
	require.Equal(t, "230001", h2.Releases[0].MinVersion)
	require.Equal(t, 23, h2.Releases[0].MajorVersion)
	require.Equal(t, "linux64", h2.Releases[0].Packs[0].Platform)
}

func TestHFSQLConvert(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/hfsql_updateinfo.json")
	require.NoError(t, err)
	h, err := manifest.ParseHFSQL(data)
	require.NoError(t, err)

	var asked []string
	m, err := h.Convert("", "", func(file string) (int64, string, error) {
		asked = append(asked, file)
		return int64(len(file)), strings.Repeat("a", 64), nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{
		"srv_hfsql_win32_90F220099z.zip", "srv_hfsql_win64_90F220099z.zip",
		"srv_hfsql_linux32_90F220099z.zip", "srv_hfsql_linux64_90F220099z.zip",
	}, asked)
	require.Equal(t, "hfsql", m.Product)
	require.Len(t, m.Releases, 1)
	r := m.Releases[0]
	require.Equal(t, manifest.Release{Module: "hfsql", Version: "220099", MinVersion: "220036", Major: 22, Language: "F", Channel: "stable", Packs: r.Packs}, r)
	require.Equal(t, manifest.Pack{Platform: "linux/amd64", File: "srv_hfsql_linux64_90F220099z.zip", Size: 32,
		SHA256: strings.Repeat("a", 64), Signature: "srv_hfsql_linux64_90F220099z.sign"}, r.Packs[3])
	require.Equal(t, "srv_hfsql_linux64_90F220099z.sign", r.Packs[3].SignatureFile())
	// Complete it as import-hfsql does and it is a valid native manifest.
	m.Serial = 1
	m.Expires = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, m.Validate())

	m, err = h.Convert("server", "hf", nil)
	require.NoError(t, err)
	require.Equal(t, "server", m.Product)
	require.Equal(t, "hf", m.Releases[0].Module)
	require.Zero(t, m.Releases[0].Packs[0].Size)
	require.Empty(t, m.Releases[0].Packs[0].SHA256)

	notFound := errors.New("no such file")
	_, err = h.Convert("", "", func(file string) (int64, string, error) { return 0, "", fmt.Errorf("%s: %w", file, notFound) })
	require.ErrorIs(t, err, notFound)
	require.Contains(t, err.Error(), "srv_hfsql_win32_90F220099z.zip")

	_, err = h.Convert("", "bad module", nil)
	require.ErrorIs(t, err, manifest.ErrInvalid)
}

// TestHFSQLSeedSelect checks that the seed's example file, read as is, gives each of
// its four platforms its own pack.
func TestHFSQLSeedSelect(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/hfsql_updateinfo.json")
	require.NoError(t, err)
	m, f, err := manifest.ParseAny(data)
	require.NoError(t, err)
	require.Equal(t, manifest.FormatHFSQL, f)
	tests := []struct{ platform, want string }{
		{"win32", "srv_hfsql_win32_90F220099z"},
		{"win64", "srv_hfsql_win64_90F220099z"},
		{"linux32", "srv_hfsql_linux32_90F220099z"},
		{"linux64", "srv_hfsql_linux64_90F220099z"},
		{"windows/386", "srv_hfsql_win32_90F220099z"},
		{"linux/amd64", "srv_hfsql_linux64_90F220099z"},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			t.Parallel()
			s := m.Select(manifest.Target{Module: "hfsql", Installed: "220036", Platform: tt.platform, Language: "F", Major: 22})
			require.Equal(t, manifest.StatusUpdate, s.Status, s.Reason)
			require.Equal(t, "220099", s.Release.Version)
			require.Equal(t, tt.want+".zip", s.Pack.File)
			require.Equal(t, tt.want+".sign", s.Pack.SignatureFile())
			require.Len(t, s.Path, 1)
		})
	}
	ineligible := []struct {
		name string
		t    manifest.Target
		want manifest.Code
	}{
		{"below min", manifest.Target{Module: "hfsql", Installed: "220035", Platform: "linux64", Language: "F", Major: 22}, manifest.CodeBelowMinVersion},
		{"english server", manifest.Target{Module: "hfsql", Installed: "220040", Platform: "linux64", Language: "A", Major: 22}, manifest.CodeNoPackForLanguage},
		{"version 23 server", manifest.Target{Module: "hfsql", Installed: "220040", Platform: "linux64", Language: "F", Major: 21}, manifest.CodeOtherMajor},
		{"arm server", manifest.Target{Module: "hfsql", Installed: "220040", Platform: "linux/arm64", Language: "F", Major: 22}, manifest.CodeNoPackForPlatform},
	}
	for _, tt := range ineligible {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := m.Select(tt.t)
			require.Equal(t, manifest.StatusIneligible, s.Status)
			require.Equal(t, tt.want, s.Code, s.Reason)
		})
	}
	s := m.Select(manifest.Target{Module: "hfsql", Installed: "220099", Platform: "win64"})
	require.Equal(t, manifest.StatusUpToDate, s.Status)
}
