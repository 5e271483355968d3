package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
)

const (
	seedHFSQL  = "../../manifest/testdata/hfsql_updateinfo.json"
	seedNative = "../../manifest/testdata/native.json"
)

// writeTemp writes content to name in a new temporary folder and returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestManifestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no subcommand", []string{"manifest"}, exitUsage, "", "upkeep manifest: want a subcommand"},
		{"unknown subcommand", []string{"manifest", "frobnicate"}, exitUsage, "", `unknown subcommand "frobnicate"`},
		{"help", []string{"manifest", "-h"}, exitOK, "import-hfsql HFSQL.json -o manifest.json", ""},
		{"validate help", []string{"manifest", "validate", "-h"}, exitOK, "usage: upkeep manifest validate FILE", ""},
		{"select help", []string{"manifest", "select", "--help"}, exitOK, "-installed", ""},
		{"import help", []string{"manifest", "import-hfsql", "-h"}, exitOK, "-packs", ""},
		{"validate no file", []string{"manifest", "validate"}, exitUsage, "", "want one manifest FILE"},
		{"validate two files", []string{"manifest", "validate", "a", "b"}, exitUsage, "", "want one manifest FILE"},
		{"validate unknown flag", []string{"manifest", "validate", seedNative, "--frob"}, exitUsage, "", "frob"},
		{"import without -o", []string{"manifest", "import-hfsql", seedHFSQL}, exitUsage, "", "-o manifest.json is required"},
		{"import no file", []string{"manifest", "import-hfsql", "-o", "x.json"}, exitUsage, "", "want one HFSQL.json file"},
		{"select no installed", []string{"manifest", "select", seedNative, "--platform", "linux64"}, exitUsage, "", "--installed VERSION is required"},
		{"select no platform", []string{"manifest", "select", seedNative, "--installed", "1"}, exitUsage, "", "--platform PLATFORM is required"},
		{"select bad platform", []string{"manifest", "select", seedNative, "--installed", "1", "--platform", "amiga"}, exitUsage, "", `--platform: unknown platform "amiga"`},
		{"select bad version", []string{"manifest", "select", seedNative, "--installed", "v-one", "--platform", "linux64"}, exitUsage, "", `--installed: invalid: version "v-one" does not parse`},
		{"select bad major", []string{"manifest", "select", seedNative, "--installed", "1", "--platform", "linux64", "--major", "x"}, exitUsage, "", "major"},
		{"select negative major", []string{"manifest", "select", seedNative, "--installed", "1", "--platform", "linux64", "--major", "-2"}, exitUsage, "", "--major: -2 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCLI(t, tt.args...)
			require.Equal(t, tt.wantCode, code, "stdout %q stderr %q", out, errs)
			require.Contains(t, out, tt.wantOut)
			require.Contains(t, errs, tt.wantErr)
		})
	}
}

func TestManifestValidate(t *testing.T) {
	t.Parallel()
	native, err := os.ReadFile(seedNative)
	require.NoError(t, err)
	noSHA := strings.Replace(string(native), `"sha256": "0000000000000000000000000000000000000000000000000000000000000004"`, `"shasum": "x"`, 1)
	bad := writeTemp(t, "bad.json", noSHA)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"native", []string{"manifest", "validate", seedNative}, exitOK, "native.json: valid manifest: product shop, serial 7, expires 2027-01-01T00:00:00Z, 3 release(s), 4 pack(s)", ""},
		{"hfsql", []string{"manifest", "validate", seedHFSQL}, exitOK, "hfsql_updateinfo.json: valid HFSQL file: 1 release(s), 4 pack(s)", ""},
		{"missing field", []string{"manifest", "validate", bad}, exitFailed, "", "upkeep manifest: " + bad + ": releases[2].packs[0].sha256: missing\n"},
		{"no such file", []string{"manifest", "validate", "/nonexistent/m.json"}, exitFailed, "", "/nonexistent/m.json"},
		{"neither format", []string{"manifest", "validate", writeTemp(t, "x.json", `{"hello":1}`)}, exitFailed, "", "unrecognised format"},
		{"bad HFSQL", []string{"manifest", "validate", writeTemp(t, "h.json", `{"pack":[{"version":"1","pack":[{"plateform":"os2","data":"a"}]}]}`)}, exitFailed, "", `pack[0].pack[0].plateform: unknown platform "os2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCLI(t, tt.args...)
			require.Equal(t, tt.wantCode, code, "stdout %q stderr %q", out, errs)
			require.Contains(t, out, tt.wantOut)
			require.Contains(t, errs, tt.wantErr)
			if code != exitOK {
				require.Equal(t, 1, strings.Count(errs, "\n"), "one line on stderr")
			}
		})
	}
}

// hfsqlRepo copies the seed's hfsql_updateinfo.json into a folder with a pack for each
// of its platforms but skip, and returns the folder and each pack's size and SHA-256
// by file name.
func hfsqlRepo(t *testing.T, skip string) (string, map[string]packWant) {
	t.Helper()
	dir := t.TempDir()
	seed, err := os.ReadFile(seedHFSQL)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hfsql_updateinfo.json"), seed, 0o644))
	want := map[string]packWant{}
	for _, p := range []string{"win32", "win64", "linux32", "linux64"} {
		file := "srv_hfsql_" + p + "_90F220099z.zip"
		if p == skip {
			continue
		}
		content := strings.Repeat("pack for "+p+"\n", len(p)*10)
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644))
		sum := sha256.Sum256([]byte(content))
		want[file] = packWant{int64(len(content)), hex.EncodeToString(sum[:])}
	}
	return dir, want
}

// packWant is a pack's expected size and SHA-256.
type packWant struct {
	size   int64
	sha256 string
}

func TestManifestImportHFSQL(t *testing.T) {
	t.Parallel()
	t.Run("beside the file, flags after the positional", func(t *testing.T) {
		t.Parallel()
		dir, want := hfsqlRepo(t, "")
		out := filepath.Join(t.TempDir(), "manifest.json")
		code, stdout, errs := runCLI(t, "manifest", "import-hfsql", filepath.Join(dir, "hfsql_updateinfo.json"), "-o", out)
		require.Equal(t, exitOK, code, errs)
		require.Contains(t, stdout, "wrote "+out)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		m, err := manifest.Parse(data)
		require.NoError(t, err)
		require.Equal(t, "hfsql", m.Product)
		require.EqualValues(t, 1, m.Serial)
		require.WithinDuration(t, time.Now().AddDate(1, 0, 0), m.Expires, time.Hour)
		require.Len(t, m.Releases, 1)
		r := m.Releases[0]
		require.Equal(t, "hfsql", r.Module)
		require.Equal(t, "220099", r.Version)
		require.Equal(t, "220036", r.MinVersion)
		require.Equal(t, 22, r.Major)
		require.Equal(t, "F", r.Language)
		require.Len(t, r.Packs, 4)
		for _, p := range r.Packs {
			require.Equal(t, want[p.File], packWant{p.Size, p.SHA256}, p.File)
			require.Equal(t, strings.TrimSuffix(p.File, ".zip")+".sign", p.Signature)
		}
		require.Equal(t, "linux/amd64", r.Packs[3].Platform)
		// The canonical form: marshalling again changes nothing.
		again, err := m.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(data), string(again))
	})
	t.Run("--packs, --product, --module before the positional", func(t *testing.T) {
		t.Parallel()
		dir, _ := hfsqlRepo(t, "")
		other := t.TempDir()
		in := filepath.Join(other, "info.json")
		seed, err := os.ReadFile(seedHFSQL)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(in, seed, 0o644))
		out := filepath.Join(other, "m.json")
		code, _, errs := runCLI(t, "manifest", "import-hfsql", "--packs", dir, "--product", "acme", "--module", "db", "-o", out, in)
		require.Equal(t, exitOK, code, errs)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		m, err := manifest.Parse(data)
		require.NoError(t, err)
		require.Equal(t, "acme", m.Product)
		require.Equal(t, "db", m.Releases[0].Module)
	})
	t.Run("missing pack", func(t *testing.T) {
		t.Parallel()
		dir, _ := hfsqlRepo(t, "linux32")
		out := filepath.Join(dir, "manifest.json")
		require.NoError(t, os.WriteFile(out, []byte("previous"), 0o644))
		code, stdout, errs := runCLI(t, "manifest", "import-hfsql", filepath.Join(dir, "hfsql_updateinfo.json"), "-o", out)
		require.Equal(t, exitFailed, code)
		require.Empty(t, stdout)
		require.Contains(t, errs, "srv_hfsql_linux32_90F220099z.zip")
		require.Contains(t, errs, "not found")
		require.Equal(t, 1, strings.Count(errs, "\n"))
		prev, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, "previous", string(prev), "output left as it was")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			require.False(t, strings.Contains(e.Name(), ".tmp"), "no temporary file left: %s", e.Name())
		}
	})
	t.Run("native input", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "m.json")
		code, _, errs := runCLI(t, "manifest", "import-hfsql", seedNative, "-o", out)
		require.Equal(t, exitFailed, code)
		require.Contains(t, errs, "a native manifest, not an HFSQL")
		require.NoFileExists(t, out)
	})
	t.Run("invalid HFSQL", func(t *testing.T) {
		t.Parallel()
		in := writeTemp(t, "h.json", `{"pack":[{"version":"1","pack":[{"plateform":"win32","data":"../x"}]}]}`)
		out := filepath.Join(t.TempDir(), "m.json")
		code, _, errs := runCLI(t, "manifest", "import-hfsql", in, "-o", out)
		require.Equal(t, exitFailed, code)
		require.Contains(t, errs, "pack[0].pack[0].data: invalid")
		require.NoFileExists(t, out)
	})
	t.Run("bad module name", func(t *testing.T) {
		t.Parallel()
		dir, _ := hfsqlRepo(t, "")
		out := filepath.Join(dir, "m.json")
		code, _, errs := runCLI(t, "manifest", "import-hfsql", filepath.Join(dir, "hfsql_updateinfo.json"), "-o", out, "--module", "my module")
		require.Equal(t, exitFailed, code)
		require.Contains(t, errs, "my module")
		require.NoFileExists(t, out)
	})
}

func TestManifestSelect(t *testing.T) {
	t.Parallel()
	multi := writeTemp(t, "multi.json", `{"schema":1,"product":"p","serial":1,"expires":"2030-01-01T00:00:00Z","releases":[
		{"module":"a","version":"1","packs":[{"platform":"linux/amd64","file":"a.zip","size":1,"sha256":"`+strings.Repeat("a", 64)+`"}]},
		{"module":"b","version":"1","packs":[{"platform":"linux/amd64","file":"b.zip","size":1,"sha256":"`+strings.Repeat("b", 64)+`"}]},
		{"module":"b","version":"2","min_version":"1.5","packs":[{"platform":"linux/amd64","file":"b2.zip","size":1,"sha256":"`+strings.Repeat("b", 64)+`"}]},
		{"module":"old","version":"20.1","major":20,"packs":[{"platform":"linux/amd64","file":"o.zip","size":1,"sha256":"`+strings.Repeat("c", 64)+`"}]},
		{"module":"fr","version":"3","language":"F","packs":[{"platform":"linux/amd64","file":"f.zip","size":1,"sha256":"`+strings.Repeat("d", 64)+`"}]}]}`)
	empty := writeTemp(t, "empty.json", `{"schema":1,"product":"p","serial":1,"expires":"2030-01-01T00:00:00Z","releases":[]}`)
	invalid := writeTemp(t, "invalid.json", `{"schema":1,"product":"p","serial":1,"expires":"2030-01-01T00:00:00Z","releases":[{"module":"a","version":"1"}]}`)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // exact stdout
		wantErr  string
	}{
		{"update with path", []string{seedNative, "--installed", "4.0", "--platform", "linux64", "--channel", "beta", "--id", "x"}, exitOK,
			`{"status":"update","release":{"module":"ecommerce","version":"5.2.0"},"pack":{"platform":"linux/amd64","file":"ecommerce-5.2.0-linux-amd64.zip","size":1050000,"sha256":"0000000000000000000000000000000000000000000000000000000000000002"},"path":["5.1.0","5.2.0"]}` + "\n", ""},
		{"flags before the file", []string{"--installed", "5.1.0", "--platform", "windows/amd64", seedNative}, exitOK,
			`{"status":"update","release":{"module":"ecommerce","version":"5.2.0"},"pack":{"platform":"windows/amd64","file":"ecommerce-5.2.0-windows-amd64.zip","size":1060000,"sha256":"0000000000000000000000000000000000000000000000000000000000000003"},"path":["5.2.0"]}` + "\n", ""},
		{"nothing installed", []string{seedNative, "--installed", "", "--platform", "linux/amd64"}, exitOK,
			`{"status":"update","release":{"module":"ecommerce","version":"5.2.0"},"pack":{"platform":"linux/amd64","file":"ecommerce-5.2.0-linux-amd64.zip","size":1050000,"sha256":"0000000000000000000000000000000000000000000000000000000000000002"},"path":["5.2.0"]}` + "\n", ""},
		{"up to date: beta held back", []string{seedNative, "--installed", "5.2.0", "--platform", "linux64"}, exitOK, `{"status":"up-to-date"}` + "\n", ""},
		{"up to date: newest", []string{seedNative, "--installed", "6.0.0", "--platform", "linux64", "--channel", "beta"}, exitOK, `{"status":"up-to-date"}` + "\n", ""},
		{"HFSQL update, sizes unknown", []string{seedHFSQL, "--installed", "220036", "--platform", "win32", "--language", "F", "--major", "22"}, exitOK,
			`{"status":"update","release":{"module":"hfsql","version":"220099"},"pack":{"platform":"windows/386","file":"srv_hfsql_win32_90F220099z.zip","size":0,"sha256":""},"path":["220099"]}` + "\n", ""},
		{"below_min_version", []string{seedHFSQL, "--installed", "220000", "--platform", "linux64"}, exitOK,
			`{"status":"ineligible","code":"below_min_version","reason":"release 220099 of module \"hfsql\" needs 220036 or later installed, 220000 is installed, and no chain of releases leads there"}` + "\n", ""},
		{"other_major", []string{seedHFSQL, "--installed", "210000", "--platform", "linux64", "--major", "21"}, exitOK,
			`{"status":"ineligible","code":"other_major","reason":"release 220099 of module \"hfsql\" is for major version 22, and this installation is major version 21"}` + "\n", ""},
		{"no_pack_for_language", []string{seedHFSQL, "--installed", "220040", "--platform", "linux64", "--language", "A"}, exitOK,
			`{"status":"ineligible","code":"no_pack_for_language","reason":"release 220099 of module \"hfsql\" is for language \"F\", and this installation's language is \"A\""}` + "\n", ""},
		{"no_pack_for_platform", []string{seedHFSQL, "--installed", "220040", "--platform", "darwin/arm64"}, exitOK,
			`{"status":"ineligible","code":"no_pack_for_platform","reason":"release 220099 of module \"hfsql\" has no pack for darwin/arm64 (only for windows/386, windows/amd64, linux/386, linux/amd64)"}` + "\n", ""},
		{"no_release", []string{multi, "--module", "zzz", "--installed", "1", "--platform", "linux64"}, exitOK,
			`{"status":"ineligible","code":"no_release","reason":"the manifest has no release of module \"zzz\""}` + "\n", ""},
		{"no_release, empty manifest", []string{empty, "--installed", "1", "--platform", "linux64"}, exitOK,
			`{"status":"ineligible","code":"no_release","reason":"the manifest has no release of module \"\""}` + "\n", ""},
		{"several modules need --module", []string{multi, "--installed", "1", "--platform", "linux64"}, exitUsage, "", "--module is required: " + multi + " has modules a, b, old, fr"},
		{"--module picks", []string{multi, "--module", "b", "--installed", "1", "--platform", "linux64"}, exitOK, "", ""},
		{"invalid manifest", []string{invalid, "--installed", "1", "--platform", "linux64"}, exitFailed, "", invalid + ": releases[0].packs: missing"},
		{"unreadable manifest", []string{"/nonexistent/m.json", "--installed", "1", "--platform", "linux64"}, exitFailed, "", "/nonexistent/m.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCLI(t, append([]string{"manifest", "select"}, tt.args...)...)
			require.Equal(t, tt.wantCode, code, "stdout %q stderr %q", out, errs)
			if tt.wantOut != "" {
				require.Equal(t, tt.wantOut, out)
			}
			require.Contains(t, errs, tt.wantErr)
			if code == exitOK {
				require.Empty(t, errs)
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(out), &v), "one JSON object")
				require.Equal(t, 1, strings.Count(out, "\n"))
			} else {
				require.Empty(t, out)
			}
		})
	}
	// The --module case above: b 2 needs 1.5, no chain.
	_, out, _ := runCLI(t, "manifest", "select", multi, "--module", "b", "--installed", "1", "--platform", "linux64")
	require.Contains(t, out, `"code":"below_min_version"`)
	_, out, _ = runCLI(t, "manifest", "select", multi, "--module", "old", "--installed", "1", "--platform", "linux64", "--major", "21")
	require.Contains(t, out, `"code":"other_major"`)
	_, out, _ = runCLI(t, "manifest", "select", multi, "--module", "fr", "--installed", "1", "--platform", "linux64", "--language", "E")
	require.Contains(t, out, `"code":"no_pack_for_language"`)
}
