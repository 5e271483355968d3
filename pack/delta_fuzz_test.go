package pack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// fuzzDeltaBase is the base of FuzzDeltaReader, written once.
var fuzzDeltaBase = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pack-fuzz-delta-")
	if err != nil {
		return "", err
	}
	for p, c := range (deltaTree{"a.txt": textBlob(7, 5000), "lib/same.txt": textBlob(3, 500)}) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
})

// FuzzDeltaReader checks that no delta makes ReadDeltaInfo or ApplyDelta panic,
// write outside the destination or leave a partial tree, and that the two agree:
// ApplyDelta never accepts a delta ReadDeltaInfo refuses, and every file it writes
// has the listing's size.
func FuzzDeltaReader(f *testing.F) {
	for _, s := range fuzzDeltaSeeds(f) {
		f.Add(s)
	}
	base, err := fuzzDeltaBase()
	if err != nil {
		f.Fatal(err)
	}
	lim := Limits{MaxTotal: 1 << 20, MaxFiles: 64, MaxFileSize: 256 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, infoErr := ReadDeltaInfo(bytes.NewReader(data), int64(len(data)), WithLimits(lim))
		parent := t.TempDir()
		dest := filepath.Join(parent, "dest")
		rep, err := ApplyDelta(context.Background(), bytes.NewReader(data), int64(len(data)), base, dest,
			WithLimits(lim), WithoutSync(), WithWorkers(2))
		ents, _ := os.ReadDir(parent)
		if err != nil {
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v is not an *EntryError", err)
			}
			if len(ents) != 0 {
				t.Fatalf("failed apply left %v", ents)
			}
			return
		}
		if infoErr != nil {
			t.Fatalf("ApplyDelta accepted what ReadDeltaInfo refused: %v", infoErr)
		}
		if rep.Same+rep.Patched+rep.Whole != rep.Files || rep.Bytes != info.Size {
			t.Fatalf("report %+v disagrees with info (%d bytes)", rep, info.Size)
		}
		for _, e := range info.Entries {
			fi, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(e.Path)))
			if err != nil {
				t.Fatal(err)
			}
			if e.Mode.IsRegular() && fi.Size() != e.Size {
				t.Fatalf("%s: %d bytes, listing says %d", e.Path, fi.Size(), e.Size)
			}
		}
	})
}

// fuzzDeltaSeeds are valid and hostile deltas against fuzzDeltaBase's tree.
func fuzzDeltaSeeds(t testing.TB) [][]byte {
	oldT := deltaTree{"a.txt": textBlob(7, 5000), "lib/same.txt": textBlob(3, 500)}
	newT := deltaTree{"a.txt": textBlob(7, 4000) + "changed", "lib/same.txt": textBlob(3, 500),
		"new.txt": "new", "l": "->a.txt", "e/": ""}
	_, _, d := buildTestDelta(t, oldT, newT)
	return [][]byte{d, rawDelta(t, deltaListing{Format: DeltaFormat}),
		rawDelta(t, `{"format":"upkeep-delta/1","entries":[{"path":"x","type":"file","mode":420,"size":1,"sha256":"`+sumHex([]byte("x"))+`","op":"whole"}]}`,
			deltaRawEntry{name: "file/x", data: []byte("x"), method: Zstd})}
}

// TestWriteDeltaFuzzSeeds writes fuzzDeltaSeeds into testdata/fuzz/FuzzDeltaReader
// when PACK_WRITE_SEEDS=1.
func TestWriteDeltaFuzzSeeds(t *testing.T) {
	if os.Getenv("PACK_WRITE_SEEDS") != "1" {
		t.Skip("set PACK_WRITE_SEEDS=1 to regenerate testdata/fuzz/FuzzDeltaReader")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDeltaReader")
	os.MkdirAll(dir, 0o755)
	for i, s := range fuzzDeltaSeeds(t) {
		c := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, "seed"+string(rune('0'+i))), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
