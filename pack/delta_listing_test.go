package pack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// peakHeap runs f and returns the most heap it had in use above what was in use
// before, sampled every 200 µs (runtime/metrics: live and not yet swept objects).
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	before := read()
	peak := before
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			if v := read(); v > peak {
				peak = v
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	if v := read(); v > peak {
		peak = v
	}
	return peak - before
}

// genListing returns head, then entry(i) for i = 0, 1, … separated by commas until
// the listing reaches size bytes, then "]}".
func genListing(head string, entry func(i int) string, size int) []byte {
	var js bytes.Buffer
	js.Grow(size)
	js.WriteString(head)
	for i := 0; ; i++ {
		e := entry(i)
		if js.Len()+len(e)+3 > size {
			break
		}
		if i > 0 {
			js.WriteByte(',')
		}
		js.WriteString(e)
	}
	js.WriteString("]}")
	return js.Bytes()
}

// listingDelta returns a delta holding only the listing js, stored with method.
func listingDelta(t testing.TB, js []byte, method Method) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(uint16(Zstd), func(w io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(8<<20), zstd.WithEncoderConcurrency(1))
	})
	h := &zip.FileHeader{Name: DeltaListingName, Method: uint16(method)}
	h.SetMode(0o644)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(js)
	zw.Close()
	return buf.Bytes()
}

// TestDeltaListingHeap checks that a hostile listing is refused within 64 MiB of
// heap: the listing is decoded entry by entry, and MaxFiles and the size limits
// apply while it is.
func TestDeltaListingHeap(t *testing.T) {
	const limit = 64 << 20
	head := `{"format":"` + DeltaFormat + `","entries":[`
	cases := []struct {
		name   string
		delta  func(t *testing.T) []byte
		rule   Rule
		maxLen int // bytes of the delta, when it must be small
	}{
		{"100KB-bomb-of-empty-entries", func(t *testing.T) []byte {
			// About 19 MB of "{}," with a little random whitespace, compressed to
			// under 200 KB (within the 200:1 ratio): decoded whole, its 6 million
			// entries took 2.27 GB before the first one was checked.
			r := rand.New(rand.NewPCG(1, 2))
			ws := []string{" ", "\n", "\t", "\r"}
			return listingDelta(t, genListing(head, func(int) string {
				if r.IntN(160) == 0 {
					return "{}" + ws[r.IntN(4)]
				}
				return "{}"
			}, 19<<20), Zstd)
		}, RuleName, 200 << 10},
		{"100KB-bomb-of-folders-past-max-files", func(t *testing.T) []byte {
			return listingDelta(t, genListing(head, func(i int) string {
				return `{"path":"d` + strconv.FormatInt(int64(i), 16) + `","type":"dir","mode":493,"mtime":0}`
			}, maxDeltaListing), Zstd)
		}, RuleMaxFiles, 0},
		{"64MiB-stored-listing-past-max-files", func(t *testing.T) []byte {
			long := strings.Repeat("n", 200)
			return listingDelta(t, genListing(head, func(i int) string {
				return `{"path":"folder-` + strconv.Itoa(100000000+i) + "/" + long + `","type":"dir","mode":493,"mtime":0}`
			}, maxDeltaListing), Store)
		}, RuleMaxFiles, 0},
		{"64MiB-path", func(t *testing.T) []byte {
			return listingDelta(t, []byte(head+`{"path":"`+strings.Repeat("a", maxDeltaListing-200)+`","type":"dir"}]}`), Store)
		}, RuleListing, 0},
		{"64MiB-of-spaces", func(t *testing.T) []byte {
			return listingDelta(t, []byte(head+strings.Repeat(" ", maxDeltaListing-100)+"]}"), Store)
		}, RuleListing, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.delta(t)
			if c.maxLen > 0 && len(d) > c.maxLen {
				t.Fatalf("test delta has %d bytes, want at most %d", len(d), c.maxLen)
			}
			var err error
			heap := peakHeap(func() { _, err = ReadDeltaInfo(bytes.NewReader(d), int64(len(d))) })
			msg := fmt.Sprint(err)
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			t.Logf("delta of %d bytes: peak heap %.1f MiB: %s", len(d), float64(heap)/(1<<20), msg)
			var ee *EntryError
			if c.rule == "" && err != nil || c.rule != "" && (!errors.As(err, &ee) || ee.Rule != c.rule) {
				t.Fatalf("err = %s, want an *EntryError with rule %q", msg, c.rule)
			}
			if heap > limit {
				t.Fatalf("peak heap %d bytes, more than %d", heap, limit)
			}
		})
	}
}

// FuzzDeltaListing checks that the entry-by-entry listing decoder never panics,
// reports every failure as an *EntryError, and agrees with decoding the listing
// whole: what it accepts, encoding/json accepts, with the same entries.
func FuzzDeltaListing(f *testing.F) {
	f.Add([]byte(`{"format":"` + DeltaFormat + `","entries":[{"path":"a","type":"dir","mode":493,"mtime":0}]}`))
	f.Add([]byte(`{"format":"` + DeltaFormat + `","entries":[]}`))
	f.Add([]byte(`{"entries":[],"format":"` + DeltaFormat + `"}`))
	f.Add([]byte(`{"format":"` + DeltaFormat + `","entries":[{}, {"path":"x"}]} `))
	f.Add([]byte(`{"format":"` + DeltaFormat + `","entries":[{"path":"a","type":"file","mode":420,"size":1,"sha256":"` + strings.Repeat("0", 64) + `","op":"same","bogus":1}]}`))
	f.Add([]byte(`{"format":"upkeep-delta/0"}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		listing := &file{name: DeltaListingName, usize: uint64(len(js))}
		var got []deltaListItem
		var version int
		err := readListing(bytes.NewReader(js), listing, &version, func(it *deltaListItem) error {
			if len(got) > 1000 {
				return entryErr("", RuleMaxFiles, ErrLimit, "too many")
			}
			got = append(got, *it)
			return nil
		})
		if err != nil {
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("error %v is not an *EntryError", err)
			}
			return
		}
		var whole deltaListing
		jd := json.NewDecoder(bytes.NewReader(js))
		jd.DisallowUnknownFields()
		if err := jd.Decode(&whole); err != nil {
			t.Fatalf("accepted a listing encoding/json refuses: %v", err)
		}
		if whole.Format != DeltaFormat && whole.Format != DeltaFormatV1 {
			t.Fatalf("accepted format %q", whole.Format)
		}
		if len(whole.Entries) != len(got) {
			t.Fatalf("%d entries, encoding/json has %d", len(got), len(whole.Entries))
		}
		for i := range got {
			if got[i] != whole.Entries[i] {
				t.Fatalf("entry %d: %+v, encoding/json has %+v", i, got[i], whole.Entries[i])
			}
		}
	})
}
