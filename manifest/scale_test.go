package manifest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
)

// chainBase is the build number below the first release of the chains built here, so
// that every version has six digits and every entry of an HFSQL chain the same size.
const chainBase = 100000

// chainHFSQL returns an hfsql_updateinfo.json of n releases (builds chainBase+1 ..
// chainBase+n), each of which may only be applied over the one before it: the worst
// case of an upgrade path. With n = 92,000 it fills nearly [manifest.MaxSize].
func chainHFSQL(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"pack":[`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		v := chainBase + i
		fmt.Fprintf(&b, `{"version":%d,"min_version":%d,"pack":[{"plateform":"linux64","data":"p%d"}]}`, v, v-1, v)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// chainManifest returns the native manifest of the same chain, built in code.
func chainManifest(n int) *manifest.Manifest {
	m := &manifest.Manifest{Schema: 1, Product: "p", Serial: 1, Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	m.Releases = make([]manifest.Release, n)
	for i := range n {
		v := chainBase + 1 + i
		m.Releases[i] = manifest.Release{Module: "m", Version: strconv.Itoa(v), MinVersion: strconv.Itoa(v - 1),
			Packs: []manifest.Pack{{Platform: "linux/amd64", File: fmt.Sprintf("p%d.zip", v), SHA256: strings.Repeat("0", 64)}}}
	}
	return m
}

// TestSelectLongChain selects over a chain of 92,000 releases, about as many as
// [manifest.MaxSize] bytes of HFSQL file hold: the adversarial input that once took
// quadratic time (25 s of CPU), now a fraction of a second. The whole chain is the
// path. With the race detector on, which is about data races, the chain is shorter.
func TestSelectLongChain(t *testing.T) {
	t.Parallel()
	n := 92000
	if raceEnabled {
		n = 10000
	}
	m := chainManifest(n)
	s := m.Select(manifest.Target{Module: "m", Installed: strconv.Itoa(chainBase), Platform: "linux/amd64"})
	require.Equal(t, manifest.StatusUpdate, s.Status, s.Reason)
	require.Len(t, s.Path, n)
	for i, st := range s.Path {
		if st.Release != &m.Releases[i] {
			t.Fatalf("step %d is release %s, want %s", i, st.Release.Version, m.Releases[i].Version)
		}
	}
	require.Equal(t, strconv.Itoa(chainBase+n), s.Release.Version)
	// The Reason names the ends of the path, not all of it.
	require.Contains(t, s.Reason, fmt.Sprintf("install 100001, then 100002, then 100003, then 100004, then ... (%d more) ..., then %d, then %d, then %d, then %d in this order",
		n-8, chainBase+n-3, chainBase+n-2, chainBase+n-1, chainBase+n))

	// From the middle, the path is the second half; from above the goal's min_version,
	// the goal alone.
	m = chainManifest(1000)
	s = m.Select(manifest.Target{Module: "m", Installed: strconv.Itoa(chainBase + 500), Platform: "linux/amd64"})
	require.Len(t, s.Path, 500)
	require.Equal(t, strconv.Itoa(chainBase+501), s.Path[0].Release.Version)
	s = m.Select(manifest.Target{Module: "m", Installed: strconv.Itoa(chainBase + 999), Platform: "linux/amd64"})
	require.Len(t, s.Path, 1)
}

func BenchmarkSelect(b *testing.B) {
	for _, n := range []int{1000, 10000, 92000} {
		m := chainManifest(n)
		name := fmt.Sprintf("%dk", n/1000)
		// chain: each release only over the one before, so the path is the whole chain.
		b.Run("chain/"+name, func(b *testing.B) {
			target := manifest.Target{Module: "m", Installed: strconv.Itoa(chainBase), Platform: "linux/amd64"}
			b.ReportAllocs()
			for b.Loop() {
				if s := m.Select(target); len(s.Path) != n {
					b.Fatalf("path of %d steps: %s", len(s.Path), s.Reason)
				}
			}
		})
		// direct: the newest release applies over the installed one, no path to search;
		// the baseline of the cost every Select pays (reading the releases).
		b.Run("direct/"+name, func(b *testing.B) {
			target := manifest.Target{Module: "m", Installed: strconv.Itoa(chainBase + n - 1), Platform: "linux/amd64"}
			b.ReportAllocs()
			for b.Loop() {
				if s := m.Select(target); len(s.Path) != 1 {
					b.Fatalf("path of %d steps: %s", len(s.Path), s.Reason)
				}
			}
		})
	}
}

// BenchmarkParseHFSQL reads HFSQL chains of up to MaxReleases releases; its baseline,
// encoding-json, only decodes the same bytes into untyped values.
func BenchmarkParseHFSQL(b *testing.B) {
	for _, n := range []int{1000, manifest.MaxReleases} {
		data := chainHFSQL(n)
		name := fmt.Sprintf("%dk", n/1000)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := manifest.ParseAny(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse reads native manifests of up to MaxReleases releases; its baseline,
// encoding-json, decodes the same bytes into a Manifest without any check.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{1000, manifest.MaxReleases} {
		data, err := chainManifest(n).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("%dk", n/1000)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := manifest.Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var m manifest.Manifest
				if err := json.Unmarshal(data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
