package pack

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// deepChains is the adversarial pack of three chains of 2,047 nested folders
// ("a/a/…/a/", "b/b/…/b/", "c/c/…/c/"): 24 KB that once took seconds to extract, as
// every folder was created, chmod-ed and dated through a walk of all its parents.
func deepChains() []byte {
	var es []rawEntry
	for _, c := range []string{"a", "b", "c"} {
		es = append(es, stored(strings.Repeat(c+"/", 2047), "", fs.ModeDir|0o750))
	}
	return rawZip(es...)
}

func TestDeepChainsRefusedByDefault(t *testing.T) {
	t.Parallel()
	z := deepChains()
	first := strings.Repeat("a/", 2047)
	_, err := ReadInfo(bytes.NewReader(z), int64(len(z)))
	requireRule(t, err, hostileCase{wantErr: ErrLimit, wantRule: RuleMaxDepth, wantEntry: first})
	parent := t.TempDir()
	_, err = Extract(context.Background(), bytes.NewReader(z), int64(len(z)), filepath.Join(parent, "dest"), WithoutSync())
	requireRule(t, err, hostileCase{wantErr: ErrLimit, wantRule: RuleMaxDepth, wantEntry: first})
	require.Empty(t, dirNames(t, parent))
}

// TestDeepChainsLifted extracts the three chains with the depth limit lifted (into
// tmpfs when there is one: on a disk, creating 6,141 folders costs seconds whatever
// their depth).
func TestDeepChainsLifted(t *testing.T) {
	t.Parallel()
	z := deepChains()
	dest := filepath.Join(scratchDir(t), "dest")
	rep, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest,
		WithLimits(Limits{MaxDepth: -1}), WithoutSync())
	require.NoError(t, err)
	require.Equal(t, 3*2047, rep.Dirs)
	root, err := os.OpenRoot(dest)
	require.NoError(t, err)
	defer root.Close()
	for _, c := range []string{"a", "b", "c"} {
		fi, err := root.Stat(strings.Repeat(c+"/", 2046) + c)
		require.NoError(t, err)
		require.Equal(t, fs.ModeDir|0o750, fi.Mode())
		fi, err = root.Stat(c)
		require.NoError(t, err)
		require.Equal(t, fs.ModeDir|0o755, fi.Mode(), "implied folder")
	}
}

// TestDeepTree extracts, with the depth limit lifted, what the deepest names allow: a
// file at the bottom of a chain of 2,047 folders whose name is 4,096 bytes (too long
// for one openat2), and a link 1,000 folders down whose target climbs back to the top.
func TestDeepTree(t *testing.T) {
	t.Parallel()
	a := strings.Repeat("a/", 2047)
	deepFile := a + "xy"
	require.Len(t, deepFile, maxNameLen)
	linkPath := strings.Repeat("a/", 1000) + "up"
	linkTarget := strings.Repeat("../", 1000) + strings.Repeat("a/", 500) + "a"
	z := rawZip(
		stored(a, "", fs.ModeDir|0o750),
		stored(strings.Repeat("a/", 1500)+"file.txt", "middle", 0o644),
		stored(deepFile, "longest name", 0o600),
		stored(linkPath, linkTarget, fs.ModeSymlink|0o777),
	)
	dest := filepath.Join(scratchDir(t), "dest")
	rep, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest,
		WithLimits(Limits{MaxDepth: -1}), WithoutSync())
	require.NoError(t, err)
	require.Equal(t, 2047, rep.Dirs)
	require.Equal(t, 2, rep.Files)
	require.Equal(t, 1, rep.Links)

	root, err := os.OpenRoot(dest)
	require.NoError(t, err)
	defer root.Close()
	b, err := fs.ReadFile(root.FS(), strings.Repeat("a/", 1500)+"file.txt")
	require.NoError(t, err)
	require.Equal(t, "middle", string(b))
	b, err = fs.ReadFile(root.FS(), deepFile)
	require.NoError(t, err)
	require.Equal(t, "longest name", string(b))
	fi, err := root.Stat(deepFile)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode())
	target, err := root.Readlink(linkPath)
	require.NoError(t, err)
	require.Equal(t, linkTarget, target)

	// A link that climbs one folder too many is still refused.
	bad := rawZip(stored(linkPath, strings.Repeat("../", 1001)+"a", fs.ModeSymlink|0o777))
	_, err = ReadInfo(bytes.NewReader(bad), int64(len(bad)), WithLimits(Limits{MaxDepth: -1}))
	requireRule(t, err, hostileCase{wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: linkPath})
}

// BenchmarkExtractDeep extracts three chains of nested folders, deeper and deeper:
// the time per folder must stay flat (it grew with the depth when each folder was
// reached by a walk from the root).
func BenchmarkExtractDeep(b *testing.B) {
	for _, depth := range []int{256, 1024, 2047} {
		b.Run(fmt.Sprintf("depth-%d", depth), func(b *testing.B) {
			var es []rawEntry
			for _, c := range []string{"a", "b", "c"} {
				es = append(es, stored(strings.Repeat(c+"/", depth), "", fs.ModeDir|0o755))
			}
			z := rawZip(es...)
			into := scratchDir(b)
			i := 0
			for b.Loop() {
				dest := filepath.Join(into, fmt.Sprint(i))
				i++
				if _, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest,
					WithLimits(Limits{MaxDepth: -1}), WithoutSync()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dest)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(3*depth), "ns/folder")
		})
	}
}
