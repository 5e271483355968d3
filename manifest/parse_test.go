package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
)

// readNative returns testdata/native.json decoded into generic maps, for mutations.
func readNative(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/native.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	return doc
}

func rel(doc map[string]any, i int) map[string]any {
	return doc["releases"].([]any)[i].(map[string]any)
}

func pack(doc map[string]any, i, j int) map[string]any {
	return rel(doc, i)["packs"].([]any)[j].(map[string]any)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	mutations := []struct {
		name    string
		mutate  func(d map[string]any)
		wantErr error
		wantMsg string // the whole message, or a prefix when it ends with "…"
	}{
		{"schema missing", func(d map[string]any) { delete(d, "schema") }, manifest.ErrMissing, "schema: missing"},
		{"schema null", func(d map[string]any) { d["schema"] = nil }, manifest.ErrMissing, "schema: missing"},
		{"schema 2", func(d map[string]any) { d["schema"] = 2 }, manifest.ErrSchema, "schema: unsupported schema: 2 (this version reads 1)"},
		{"schema 0", func(d map[string]any) { d["schema"] = 0 }, manifest.ErrSchema, "schema: unsupported schema…"},
		{"schema string", func(d map[string]any) { d["schema"] = "1" }, manifest.ErrInvalid, "schema: invalid: want a number, got a string"},
		{"schema fraction", func(d map[string]any) { d["schema"] = 1.5 }, manifest.ErrInvalid, "schema: invalid: want an integer, got 1.5"},
		{"product missing", func(d map[string]any) { delete(d, "product") }, manifest.ErrMissing, "product: missing"},
		{"product empty", func(d map[string]any) { d["product"] = "" }, manifest.ErrMissing, "product: missing"},
		{"product control", func(d map[string]any) { d["product"] = "a\nb" }, manifest.ErrInvalid, "product: invalid…"},
		{"serial missing", func(d map[string]any) { delete(d, "serial") }, manifest.ErrMissing, "serial: missing"},
		{"serial negative", func(d map[string]any) { d["serial"] = -1 }, manifest.ErrInvalid, "serial: invalid: want an unsigned integer, got -1"},
		{"expires missing", func(d map[string]any) { delete(d, "expires") }, manifest.ErrMissing, "expires: missing"},
		{"expires not RFC 3339", func(d map[string]any) { d["expires"] = "2027-01-01" }, manifest.ErrInvalid, "expires: invalid…"},
		{"expires number", func(d map[string]any) { d["expires"] = 5 }, manifest.ErrInvalid, "expires: invalid: want a string, got a number"},
		{"releases missing", func(d map[string]any) { delete(d, "releases") }, manifest.ErrMissing, "releases: missing"},
		{"releases object", func(d map[string]any) { d["releases"] = map[string]any{} }, manifest.ErrInvalid, "releases: invalid: want an array, got an object"},
		{"release not object", func(d map[string]any) { d["releases"].([]any)[1] = "x" }, manifest.ErrInvalid, "releases[1]: invalid: want a JSON object, got a string"},
		{"module missing", func(d map[string]any) { delete(rel(d, 1), "module") }, manifest.ErrMissing, "releases[1].module: missing"},
		{"module with space", func(d map[string]any) { rel(d, 1)["module"] = "e commerce" }, manifest.ErrInvalid, "releases[1].module: invalid…"},
		{"module dotdot", func(d map[string]any) { rel(d, 1)["module"] = ".." }, manifest.ErrInvalid, "releases[1].module: invalid…"},
		{"version missing", func(d map[string]any) { delete(rel(d, 2), "version") }, manifest.ErrMissing, "releases[2].version: missing"},
		{"version bad", func(d map[string]any) { rel(d, 2)["version"] = "six" }, manifest.ErrInvalid, "releases[2].version: invalid: version \"six\" does not parse…"},
		{"version number", func(d map[string]any) { rel(d, 2)["version"] = 6 }, manifest.ErrInvalid, "releases[2].version: invalid: want a string, got a number"},
		{"version huge", func(d map[string]any) { rel(d, 2)["version"] = strings.Repeat("1.", 100) + "1" }, manifest.ErrInvalid, "releases[2].version: invalid…"},
		{"min_version bad", func(d map[string]any) { rel(d, 2)["min_version"] = "5.x" }, manifest.ErrInvalid, "releases[2].min_version: invalid…"},
		{"min_version above version", func(d map[string]any) { rel(d, 2)["min_version"] = "7" }, manifest.ErrInvalid, "releases[2].min_version: invalid: 7 is above the release's version 6.0.0"},
		{"major negative", func(d map[string]any) { rel(d, 0)["major"] = -3 }, manifest.ErrInvalid, "releases[0].major: invalid: -3 is negative"},
		{"language bad", func(d map[string]any) { rel(d, 0)["language"] = "fr FR" }, manifest.ErrInvalid, "releases[0].language: invalid…"},
		{"channel bad", func(d map[string]any) { rel(d, 0)["channel"] = "be ta" }, manifest.ErrInvalid, "releases[0].channel: invalid…"},
		{"rollout above 100", func(d map[string]any) { rel(d, 2)["rollout"] = 101 }, manifest.ErrInvalid, "releases[2].rollout: invalid: 101 is outside 0..100"},
		{"rollout negative", func(d map[string]any) { rel(d, 2)["rollout"] = -1 }, manifest.ErrInvalid, "releases[2].rollout: invalid: -1 is outside 0..100"},
		{"rollout fraction", func(d map[string]any) { rel(d, 2)["rollout"] = 12.5 }, manifest.ErrInvalid, "releases[2].rollout: invalid: want an integer, got 12.5"},
		{"expires beyond year 9999 in UTC", func(d map[string]any) { d["expires"] = "9999-12-31T23:00:00-02:00" }, manifest.ErrInvalid, "expires: invalid: year 10000 in UTC is outside 0..9999"},
		{"published before year 0 in UTC", func(d map[string]any) { rel(d, 0)["published"] = "0000-01-01T00:00:00+01:00" }, manifest.ErrInvalid, "releases[0].published: invalid: year -1 in UTC is outside 0..9999"},
		{"published bad", func(d map[string]any) { rel(d, 0)["published"] = "yesterday" }, manifest.ErrInvalid, "releases[0].published: invalid…"},
		{"deltas object", func(d map[string]any) { pack(d, 1, 1)["deltas"] = map[string]any{} }, manifest.ErrInvalid, "releases[1].packs[1].deltas: invalid: want an array, got an object"},
		{"delta size missing", func(d map[string]any) {
			pack(d, 1, 1)["deltas"] = []any{map[string]any{"from": "1", "file": "d.zip", "sha256": strings.Repeat("0", 64)}}
		}, manifest.ErrMissing, "releases[1].packs[1].deltas[0].size: missing"},
		{"delta from number", func(d map[string]any) {
			pack(d, 1, 1)["deltas"] = []any{map[string]any{"from": 1, "file": "d.zip", "size": 1, "sha256": strings.Repeat("0", 64)}}
		}, manifest.ErrInvalid, "releases[1].packs[1].deltas[0].from: invalid: want a string, got a number"},
		{"packs missing", func(d map[string]any) { delete(rel(d, 0), "packs") }, manifest.ErrMissing, "releases[0].packs: missing"},
		{"packs empty", func(d map[string]any) { rel(d, 0)["packs"] = []any{} }, manifest.ErrMissing, "releases[0].packs: missing: a release needs at least one pack"},
		{"platform missing", func(d map[string]any) { delete(pack(d, 1, 1), "platform") }, manifest.ErrMissing, "releases[1].packs[1].platform: missing"},
		{"platform not canonical", func(d map[string]any) { pack(d, 1, 1)["platform"] = "win64" }, manifest.ErrInvalid, "releases[1].packs[1].platform: invalid: \"win64\" is not canonical, write \"windows/amd64\""},
		{"platform unknown", func(d map[string]any) { pack(d, 1, 1)["platform"] = "beos/m68k" }, manifest.ErrUnknownPlatform, "releases[1].packs[1].platform: unknown platform \"beos/m68k\"…"},
		{"platform not built by Go", func(d map[string]any) { pack(d, 1, 1)["platform"] = "darwin/386" }, manifest.ErrUnknownPlatform, "releases[1].packs[1].platform: unknown platform…"},
		{"file missing", func(d map[string]any) { delete(pack(d, 1, 0), "file") }, manifest.ErrMissing, "releases[1].packs[0].file: missing"},
		{"file parent", func(d map[string]any) { pack(d, 1, 0)["file"] = "../x.zip" }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid: \"../x.zip\" holds \"..\""},
		{"file dotdot", func(d map[string]any) { pack(d, 1, 0)["file"] = ".." }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid…"},
		{"file slash", func(d map[string]any) { pack(d, 1, 0)["file"] = "a/b.zip" }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid: \"a/b.zip\" holds a path separator"},
		{"file backslash", func(d map[string]any) { pack(d, 1, 0)["file"] = `a\b.zip` }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid…"},
		{"file absolute", func(d map[string]any) { pack(d, 1, 0)["file"] = "/etc/passwd" }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid…"},
		{"file drive", func(d map[string]any) { pack(d, 1, 0)["file"] = "C:x.zip" }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid…"},
		{"file device", func(d map[string]any) { pack(d, 1, 0)["file"] = "NUL.zip" }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid: \"NUL.zip\" is a Windows device name"},
		{"file space", func(d map[string]any) { pack(d, 1, 0)["file"] = "a b.zip" }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid…"},
		{"file non-ASCII", func(d map[string]any) { pack(d, 1, 0)["file"] = "é.zip" }, manifest.ErrInvalid, "releases[1].packs[0].file: invalid…"},
		{"size missing", func(d map[string]any) { delete(pack(d, 0, 0), "size") }, manifest.ErrMissing, "releases[0].packs[0].size: missing"},
		{"size negative", func(d map[string]any) { pack(d, 0, 0)["size"] = -1 }, manifest.ErrInvalid, "releases[0].packs[0].size: invalid: -1 is negative"},
		{"size string", func(d map[string]any) { pack(d, 0, 0)["size"] = "10" }, manifest.ErrInvalid, "releases[0].packs[0].size: invalid: want a number, got a string"},
		{"sha256 missing", func(d map[string]any) { delete(pack(d, 2, 0), "sha256") }, manifest.ErrMissing, "releases[2].packs[0].sha256: missing"},
		{"sha256 empty", func(d map[string]any) { pack(d, 2, 0)["sha256"] = "" }, manifest.ErrMissing, "releases[2].packs[0].sha256: missing"},
		{"sha256 short", func(d map[string]any) { pack(d, 2, 0)["sha256"] = "abcd" }, manifest.ErrInvalid, "releases[2].packs[0].sha256: invalid: want 64 lowercase hex digits, got \"abcd\""},
		{"sha256 upper", func(d map[string]any) { pack(d, 2, 0)["sha256"] = strings.Repeat("A", 64) }, manifest.ErrInvalid, "releases[2].packs[0].sha256: invalid…"},
		{"sha256 not hex", func(d map[string]any) { pack(d, 2, 0)["sha256"] = strings.Repeat("g", 64) }, manifest.ErrInvalid, "releases[2].packs[0].sha256: invalid…"},
		{"signature bad", func(d map[string]any) { pack(d, 1, 1)["signature"] = "../k.sig" }, manifest.ErrInvalid, "releases[1].packs[1].signature: invalid…"},
		{"duplicate platform", func(d map[string]any) { pack(d, 1, 1)["platform"] = "linux/amd64" }, manifest.ErrDuplicate, "releases[1].packs[1].platform: duplicate: linux/amd64 already has a pack in packs[0]"},
		{"duplicate release", func(d map[string]any) { rel(d, 2)["version"] = "5.1.0"; delete(rel(d, 2), "min_version") }, manifest.ErrDuplicate, "releases[2]: duplicate: release 5.1.0 of module \"ecommerce\" is already releases[0]"},
		{"duplicate release, equal version", func(d map[string]any) { rel(d, 2)["version"] = "5.1"; rel(d, 2)["min_version"] = "5.0" }, manifest.ErrDuplicate, "releases[2]: duplicate…"},
	}
	for _, tt := range mutations {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := readNative(t)
			tt.mutate(doc)
			data, err := json.Marshal(doc)
			require.NoError(t, err)
			_, err = manifest.Parse(data)
			require.Error(t, err)
			require.ErrorIs(t, err, tt.wantErr)
			if prefix, ok := strings.CutSuffix(tt.wantMsg, "…"); ok {
				require.True(t, strings.HasPrefix(err.Error(), prefix), "got %q, want prefix %q", err, prefix)
			} else {
				require.Equal(t, tt.wantMsg, err.Error())
			}
			var fe *manifest.FieldError
			require.ErrorAs(t, err, &fe)
		})
	}

	raw := []struct {
		name    string
		data    string
		wantErr error
		wantMsg string
	}{
		{"empty", "", manifest.ErrInvalid, "manifest: invalid: not JSON: EOF"},
		{"not JSON", "{schema", manifest.ErrInvalid, ""},
		{"array", "[]", manifest.ErrInvalid, "manifest: invalid: want a JSON object, got an array"},
		{"trailing data", `{"schema":1} {}`, manifest.ErrInvalid, "manifest: invalid: data after the JSON object"},
		{"truncated", `{"schema":1,"product":"p"`, manifest.ErrInvalid, ""},
		{"key twice", `{"schema":1,"product":"a","product":"b"}`, manifest.ErrDuplicate, "product: duplicate: key given twice"},
		{"key twice in pack", `{"schema":1,"product":"p","serial":1,"expires":"2027-01-01T00:00:00Z","releases":[{"module":"m","version":"1","packs":[{"file":"a","file":"b"}]}]}`,
			manifest.ErrDuplicate, "releases[0].packs[0].file: duplicate: key given twice"},
		{"key in other case is unknown", `{"Schema":1}`, manifest.ErrMissing, "schema: missing"},
		{"too large", `{"schema":1,"notes":"` + strings.Repeat("x", manifest.MaxSize) + `"}`, manifest.ErrTooLarge, ""},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := manifest.Parse([]byte(tt.data))
			require.ErrorIs(t, err, tt.wantErr)
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, err.Error())
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/native.json")
	require.NoError(t, err)
	m, err := manifest.Parse(data)
	require.NoError(t, err)
	require.Equal(t, "shop", m.Product)
	require.EqualValues(t, 7, m.Serial)
	require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), m.Expires)
	require.Len(t, m.Releases, 3)
	require.Nil(t, m.Releases[0].Rollout)
	require.Equal(t, 50, *m.Releases[2].Rollout)
	require.Equal(t, "beta", m.Releases[2].Channel)
	require.Equal(t, "ecommerce-5.1.0-linux-amd64.zip.minisig", m.Releases[0].Packs[0].SignatureFile())
	require.Equal(t, "ecommerce-5.2.0-windows-amd64.sig", m.Releases[1].Packs[1].SignatureFile())

	tests := []struct {
		name  string
		data  string
		check func(t *testing.T, m *manifest.Manifest)
	}{
		{"no releases", `{"schema":1,"product":"p","serial":0,"expires":"2027-01-01T00:00:00Z","releases":[]}`,
			func(t *testing.T, m *manifest.Manifest) { require.Empty(t, m.Releases) }},
		{"defaults and unknown members", `{"schema":1,"product":"p","serial":1,"expires":"2027-01-01T02:00:00+02:00","future":{"x":[1]},
			"releases":[{"module":"m","version":"1.0","extra":true,"rollout":0,"packs":[{"platform":"linux/arm64","file":"m.zip","size":0,"sha256":"` + strings.Repeat("ab", 32) + `","what":null}]}]}`,
			func(t *testing.T, m *manifest.Manifest) {
				require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), m.Expires)
				require.Equal(t, "stable", m.Releases[0].Channel)
				require.Equal(t, 0, *m.Releases[0].Rollout)
			}},
		{"null optional members", `{"schema":1,"product":"p","serial":1,"expires":"2027-01-01T00:00:00Z",
			"releases":[{"module":"m","version":"1.0","min_version":null,"channel":null,"rollout":null,"packs":[{"platform":"linux/arm64","file":"m.zip","size":5,"sha256":"` + strings.Repeat("ab", 32) + `","signature":null}]}]}`,
			func(t *testing.T, m *manifest.Manifest) {
				require.Nil(t, m.Releases[0].Rollout)
				require.Equal(t, "stable", m.Releases[0].Channel)
			}},
		{"same version, two languages", `{"schema":1,"product":"p","serial":1,"expires":"2027-01-01T00:00:00Z","releases":[
			{"module":"m","version":"1.0","language":"F","packs":[{"platform":"linux/arm64","file":"f.zip","size":5,"sha256":"` + strings.Repeat("ab", 32) + `"}]},
			{"module":"m","version":"1.0","language":"A","packs":[{"platform":"linux/arm64","file":"a.zip","size":5,"sha256":"` + strings.Repeat("ab", 32) + `"}]}]}`,
			func(t *testing.T, m *manifest.Manifest) { require.Len(t, m.Releases, 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := manifest.Parse([]byte(tt.data))
			require.NoError(t, err)
			tt.check(t, m)
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	golden, err := os.ReadFile("testdata/native.json")
	require.NoError(t, err)
	fifty, zero := 50, 0
	local := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name string
		m    *manifest.Manifest
	}{
		{"testdata/native.json", mustParse(t, golden)},
		{"built in code", &manifest.Manifest{
			Schema: 1, Product: "p", Serial: 3, Expires: time.Date(2026, 12, 1, 8, 0, 0, 5, time.UTC),
			Releases: []manifest.Release{
				{Module: "a", Version: "1.0.0", Channel: "stable", Rollout: &fifty, Major: 2, Language: "F",
					Published: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Notes: "<fix> & \"quote\"\n",
					Packs: []manifest.Pack{{Platform: "windows/386", File: "a.zip", Size: 10, SHA256: strings.Repeat("0f", 32), Signature: "a.sign",
						Deltas: []manifest.Delta{{From: "0.9.0", File: "a-from-0.9.0.zip", Size: 3, SHA256: strings.Repeat("a", 64)}}}}},
				{Module: "b", Version: "2", MinVersion: "1", Channel: "dev", Rollout: &zero,
					Packs: []manifest.Pack{{Platform: "linux/amd64", File: "b.zip", Size: 0, SHA256: strings.Repeat("e", 64)}}},
			}}},
		{"no releases", &manifest.Manifest{Schema: 1, Product: "p", Expires: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := tt.m.Marshal()
			require.NoError(t, err)
			require.True(t, bytes.HasSuffix(out, []byte("}\n")))
			back, err := manifest.Parse(out)
			require.NoError(t, err)
			require.Equal(t, tt.m, back)
			again, err := back.Marshal()
			require.NoError(t, err)
			require.Equal(t, string(out), string(again))
		})
	}
	// The golden file is itself canonical.
	out, err := mustParse(t, golden).Marshal()
	require.NoError(t, err)
	require.Equal(t, string(golden), string(out))

	// Canonical form: channel written out, times in UTC.
	m := &manifest.Manifest{Schema: 1, Product: "p", Serial: 1, Expires: time.Date(2027, 1, 1, 2, 0, 0, 0, local),
		Releases: []manifest.Release{{Module: "a", Version: "1", Packs: []manifest.Pack{{Platform: "linux/amd64", File: "a.zip", SHA256: strings.Repeat("0", 64)}}}}}
	out, err = m.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(out), `"expires": "2027-01-01T00:00:00Z"`)
	require.Contains(t, string(out), `"channel": "stable"`)
	require.NotContains(t, string(out), `"published"`)
	back := mustParse(t, out)
	again, err := back.Marshal()
	require.NoError(t, err)
	require.Equal(t, string(out), string(again))
}

func mustParse(t *testing.T, data []byte) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse(data)
	require.NoError(t, err)
	return m
}

func TestValidateBuiltInCode(t *testing.T) {
	t.Parallel()
	good := func() *manifest.Manifest {
		return &manifest.Manifest{Schema: 1, Product: "p", Expires: time.Unix(1e9, 0),
			Releases: []manifest.Release{{Module: "a", Version: "1", Packs: []manifest.Pack{{Platform: "linux/amd64", File: "a.zip", SHA256: strings.Repeat("0", 64)}}}}}
	}
	tests := []struct {
		name    string
		mutate  func(m *manifest.Manifest)
		wantErr error
		wantMsg string
	}{
		{"schema zero", func(m *manifest.Manifest) { m.Schema = 0 }, manifest.ErrSchema, "schema: unsupported schema: 0 (this version reads 1)"},
		{"expires zero", func(m *manifest.Manifest) { m.Expires = time.Time{} }, manifest.ErrMissing, "expires: missing"},
		{"no product", func(m *manifest.Manifest) { m.Product = "" }, manifest.ErrMissing, "product: missing"},
		{"nil packs", func(m *manifest.Manifest) { m.Releases[0].Packs = nil }, manifest.ErrMissing, "releases[0].packs: missing: a release needs at least one pack"},
		{"no sha", func(m *manifest.Manifest) { m.Releases[0].Packs[0].SHA256 = "" }, manifest.ErrMissing, "releases[0].packs[0].sha256: missing"},
		{"alias platform", func(m *manifest.Manifest) { m.Releases[0].Packs[0].Platform = "linux-x86_64" }, manifest.ErrInvalid, `releases[0].packs[0].platform: invalid: "linux-x86_64" is not canonical, write "linux/amd64"`},
		{"delta without from", func(m *manifest.Manifest) {
			m.Releases[0].Packs[0].Deltas = []manifest.Delta{{File: "d.zip", SHA256: strings.Repeat("0", 64)}}
		}, manifest.ErrMissing, "releases[0].packs[0].deltas[0].from: missing"},
		{"delta bad from", func(m *manifest.Manifest) {
			m.Releases[0].Packs[0].Deltas = []manifest.Delta{{From: "x.y", File: "d.zip", SHA256: strings.Repeat("0", 64)}}
		}, manifest.ErrInvalid, `releases[0].packs[0].deltas[0].from: invalid: version "x.y" does not parse (want numbers separated by dots, such as 1.4.2 or 220099)`},
		{"delta path", func(m *manifest.Manifest) {
			m.Releases[0].Packs[0].Deltas = []manifest.Delta{{From: "0.1", File: "../d.zip", SHA256: strings.Repeat("0", 64)}}
		}, manifest.ErrInvalid, ""},
		{"delta is the pack", func(m *manifest.Manifest) {
			m.Releases[0].Packs[0].Deltas = []manifest.Delta{{From: "0.1", File: "a.zip", SHA256: strings.Repeat("0", 64)}}
		}, manifest.ErrInvalid, `releases[0].packs[0].deltas[0].file: invalid: "a.zip" is the pack's own file`},
		{"delta twice", func(m *manifest.Manifest) {
			d := manifest.Delta{From: "0.1", File: "d.zip", SHA256: strings.Repeat("0", 64)}
			m.Releases[0].Packs[0].Deltas = []manifest.Delta{d, d}
		}, manifest.ErrInvalid, "releases[0].packs[0].deltas[1].from: invalid: a second delta from 0.1"},
		{"delta bad sha", func(m *manifest.Manifest) {
			m.Releases[0].Packs[0].Deltas = []manifest.Delta{{From: "0.1", File: "d.zip", SHA256: "AB"}}
		}, manifest.ErrInvalid, `releases[0].packs[0].deltas[0].sha256: invalid: want 64 lowercase hex digits, got "AB"`},
	}
	require.NoError(t, good().Validate())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := good()
			tt.mutate(m)
			err := m.Validate()
			require.ErrorIs(t, err, tt.wantErr)
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, err.Error())
			}
			_, err = m.Marshal()
			require.ErrorIs(t, err, tt.wantErr, "Marshal validates")
		})
	}
}

func TestAddPack(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("1", 64)
	m := &manifest.Manifest{Schema: 1, Product: "p", Serial: 1, Expires: time.Unix(2e9, 0)}
	r := manifest.Release{Module: "api", Version: "1.2.0", MinVersion: "1.0", Packs: []manifest.Pack{{File: "ignored"}}}
	require.NoError(t, m.AddPack(r, manifest.Pack{Platform: "linux64", File: "api-linux.zip", Size: 3, SHA256: sha}))
	require.Len(t, m.Releases, 1)
	require.Equal(t, "linux/amd64", m.Releases[0].Packs[0].Platform, "stored canonical")
	require.Equal(t, "1.0", m.Releases[0].MinVersion)

	// Same release (1.2 == 1.2.0), another platform: added to it, fields kept.
	r2 := manifest.Release{Module: "api", Version: "1.2", MinVersion: "1.1"}
	require.NoError(t, m.AddPack(r2, manifest.Pack{Platform: "windows/amd64", File: "api-win.zip", Size: 4, SHA256: sha}))
	require.Len(t, m.Releases, 1)
	require.Len(t, m.Releases[0].Packs, 2)
	require.Equal(t, "1.0", m.Releases[0].MinVersion)

	err := m.AddPack(r2, manifest.Pack{Platform: "win64", File: "other.zip", Size: 4, SHA256: sha})
	require.ErrorIs(t, err, manifest.ErrDuplicate)
	require.Equal(t, `releases[0].packs[2].platform: duplicate: release 1.2.0 of module "api" already has a pack for windows/amd64 in packs[1]`, err.Error())

	// Another version: a new release at the end.
	require.NoError(t, m.AddPack(manifest.Release{Module: "api", Version: "1.3.0"}, manifest.Pack{Platform: "linux/amd64", File: "api-1.3.zip", Size: 5, SHA256: sha}))
	require.Len(t, m.Releases, 2)
	require.NoError(t, m.Validate())

	bad := []struct {
		name    string
		r       manifest.Release
		p       manifest.Pack
		wantErr error
		wantMsg string
	}{
		{"bad sha", manifest.Release{Module: "api", Version: "1.2.0"}, manifest.Pack{Platform: "darwin/arm64", File: "x.zip", SHA256: "x"}, manifest.ErrInvalid, "releases[0].packs[2].sha256: invalid…"},
		{"bad file", manifest.Release{Module: "api", Version: "2"}, manifest.Pack{Platform: "darwin/arm64", File: "../x.zip", SHA256: sha}, manifest.ErrInvalid, "releases[2].packs[0].file: invalid…"},
		{"no module", manifest.Release{Version: "2"}, manifest.Pack{Platform: "darwin/arm64", File: "x.zip", SHA256: sha}, manifest.ErrMissing, "releases[2].module: missing"},
		{"bad version", manifest.Release{Module: "api", Version: "two"}, manifest.Pack{Platform: "darwin/arm64", File: "x.zip", SHA256: sha}, manifest.ErrInvalid, "releases[2].version: invalid…"},
		{"bad platform", manifest.Release{Module: "api", Version: "2"}, manifest.Pack{Platform: "amiga", File: "x.zip", SHA256: sha}, manifest.ErrUnknownPlatform, "releases[2].packs[0].platform: unknown platform…"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := m.AddPack(tt.r, tt.p)
			require.ErrorIs(t, err, tt.wantErr)
			prefix, _ := strings.CutSuffix(tt.wantMsg, "…")
			require.True(t, strings.HasPrefix(err.Error(), prefix), "got %q", err)
		})
	}
	require.Len(t, m.Releases, 2, "failed AddPack leaves the manifest as it was")
	require.Len(t, m.Releases[0].Packs, 2)
}

func TestDetectAndParseAny(t *testing.T) {
	t.Parallel()
	native, err := os.ReadFile("testdata/native.json")
	require.NoError(t, err)
	hfsql, err := os.ReadFile("testdata/hfsql_updateinfo.json")
	require.NoError(t, err)
	tests := []struct {
		name    string
		data    []byte
		want    manifest.Format
		wantErr error
	}{
		{"native", native, manifest.FormatNative, nil},
		{"hfsql", hfsql, manifest.FormatHFSQL, nil},
		{"neither", []byte(`{"releases":[]}`), 0, manifest.ErrFormat},
		{"not an object", []byte(`"x"`), 0, manifest.ErrFormat},
		{"garbage", []byte(`\x00`), 0, manifest.ErrFormat},
		{"too large", bytes.Repeat([]byte(" "), manifest.MaxSize+1), 0, manifest.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := manifest.Detect(tt.data)
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, tt.want, f)
			m, f2, err := manifest.ParseAny(tt.data)
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, tt.want, f2)
			if tt.wantErr == nil {
				require.NotNil(t, m)
			}
		})
	}
	// A native manifest with an error is reported as native, with its path.
	_, f, err := manifest.ParseAny([]byte(`{"schema":1}`))
	require.Equal(t, manifest.FormatNative, f)
	require.EqualError(t, err, "product: missing")
	require.True(t, errors.Is(err, manifest.ErrMissing))
	require.Equal(t, "native", manifest.FormatNative.String())
	require.Equal(t, "hfsql", manifest.FormatHFSQL.String())
}
