package pack

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// diffSeeds are packs written by archive/zip's own writer, whose habits differ from
// Build's: data descriptors, MS-DOS attributes, comments, extra fields.
func diffSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	write := func(build func(w *zip.Writer) error) {
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		require.NoError(tb, build(w))
		require.NoError(tb, w.Close())
		seeds = append(seeds, b.Bytes())
	}
	mt := time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)
	write(func(w *zip.Writer) error { // MS-DOS attributes, data descriptors
		for _, h := range []*zip.FileHeader{
			{Name: "dir/", Method: zip.Store, Modified: mt, ExternalAttrs: 0x10},
			{Name: "dir/a.txt", Method: zip.Deflate, Modified: mt},
			{Name: "ro.txt", Method: zip.Store, Modified: mt, ExternalAttrs: 0x01},
		} {
			fw, err := w.CreateHeader(h)
			if err != nil {
				return err
			}
			if !strings.HasSuffix(h.Name, "/") {
				io.WriteString(fw, strings.Repeat(h.Name+" ", 40))
			}
		}
		return w.SetComment("a comment")
	})
	write(func(w *zip.Writer) error { // Unix modes, a link, an extra field
		for _, e := range []struct {
			name, data string
			mode       fs.FileMode
		}{
			{"bin/", "", fs.ModeDir | 0o755},
			{"bin/run", "#!/bin/sh\n", 0o755},
			{"bin/link", "run", fs.ModeSymlink | 0o777},
			{"tmp/", "", fs.ModeDir | fs.ModeSticky | 0o777},
		} {
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mt,
				Extra: []byte{0xfe, 0xca, 2, 0, 1, 2}}
			h.SetMode(e.mode)
			fw, err := w.CreateHeader(h)
			if err != nil {
				return err
			}
			io.WriteString(fw, e.data)
		}
		return nil
	})
	return seeds
}

// fuzzCorpus returns the inputs kept for target under testdata/fuzz.
func fuzzCorpus(tb testing.TB, target string) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
	require.NoError(tb, err)
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(tb, err)
		_, rest, ok := strings.Cut(string(b), "\n")
		require.True(tb, ok, p)
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, "[]byte(") {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(rest, "[]byte("), ")"))
		require.NoError(tb, err, p)
		out = append(out, []byte(s))
	}
	return out
}

// FuzzReaderDifferential reads the same bytes with pack's reader and with
// archive/zip. Whenever both accept, they must agree on every entry's name, sizes,
// method, CRC-32, kind and mode (as pack keeps it), and, for stored and deflated
// entries, on the content (pack's through the code extraction uses). Where pack
// refuses what archive/zip accepts, the refusal must name one of the documented
// rules; pack must never accept what archive/zip refuses.
func FuzzReaderDifferential(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.zip"))
	require.NoError(f, err)
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, b := range diffSeeds(f) {
		f.Add(b)
	}
	for _, c := range hostileCases() {
		if len(c.zip) < 64<<10 {
			f.Add(c.zip)
		}
	}
	for _, b := range fuzzCorpus(f, "FuzzExtract") {
		f.Add(b)
	}
	rules := documentedRules(f)
	for _, c := range differentialCases() {
		f.Add(c.zip)
	}
	f.Fuzz(func(t *testing.T, data []byte) { diffCheck(t, rules, data) })
}

// diffCheck is FuzzReaderDifferential's check of one input.
func diffCheck(t *testing.T, rules map[Rule]string, data []byte) {
	t.Helper()
	lim := Limits{MaxTotal: 1 << 20, MaxFiles: 64, MaxFileSize: 256 << 10}.withDefaults()
	zr, zerr := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(zerr, zip.ErrInsecurePath) {
		zerr = nil // archive/zip read it, and only warns
	}
	a, perr := openArchive(bytes.NewReader(data), int64(len(data)), lim, false)
	if perr != nil {
		requireDocumented(t, rules, perr)
		return
	}
	require.NoError(t, zerr, "pack accepted what archive/zip refuses")
	require.Len(t, a.files, len(zr.File), "entry count")
	x := &extraction{a: a, o: &options{limits: lim}}
	w := &worker{br: newReadBuffer(), buf: make([]byte, copyBufSize)}
	defer w.dec.close()
	var refused error
	for i, pf := range a.files {
		zf := zr.File[i]
		where := fmt.Sprintf("entry %d %q", i, pf.name)
		require.Equal(t, zf.Name, pf.name, where)
		require.Equal(t, zf.UncompressedSize64, pf.usize, where+": size")
		require.Equal(t, zf.CompressedSize64, pf.csize, where+": compressed size")
		require.Equal(t, zf.Method, uint16(pf.method), where+": method")
		require.Equal(t, zf.CRC32, pf.crc, where+": CRC-32")
		requireSameMode(t, zf, pf, where)
		if pf.method == Zstd || refused != nil {
			continue
		}
		zdata, zerr := readZipEntry(zf, pf.usize)
		var pdata []byte
		var perr error
		switch pf.kind {
		case kindLink:
			pdata = []byte(pf.link)
		default:
			var b bytes.Buffer
			perr = x.decode(context.Background(), w, pf, nil, &b)
			pdata = b.Bytes()
		}
		if perr != nil {
			requireDocumented(t, rules, perr)
			refused = perr // as extraction would, stop at the first refusal
			continue
		}
		require.NoError(t, zerr, where+": pack read what archive/zip refuses")
		require.Equal(t, string(zdata), string(pdata), where+": content")
	}
}

// readZipEntry reads an entry through archive/zip, at most one byte more than
// declared.
func readZipEntry(zf *zip.File, size uint64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(size)+1))
	if err == nil && uint64(len(b)) > size {
		err = errors.New("longer than declared")
	}
	return b, err
}

// requireSameMode checks pack's mode of an entry against archive/zip's: the kind
// always; the permissions where the pack holds Unix modes (pack keeps those bits and
// a folder's sticky bit; it gives its own permissions to MS-DOS attributes).
func requireSameMode(t *testing.T, zf *zip.File, pf *file, where string) {
	t.Helper()
	zm := zf.Mode()
	switch pf.kind {
	case kindDir:
		require.True(t, zm.IsDir(), "%s: pack reads a folder, archive/zip %v", where, zm)
	case kindLink:
		require.Equal(t, fs.ModeSymlink, zm.Type(), "%s: pack reads a link, archive/zip %v", where, zm)
	default:
		require.True(t, zm.IsRegular(), "%s: pack reads a file, archive/zip %v", where, zm)
	}
	if creator := zf.CreatorVersion >> 8; (creator == 3 || creator == 19) && zf.ExternalAttrs>>16 != 0 {
		want := zm.Type() | zm.Perm()
		if zm.IsDir() {
			want |= zm & fs.ModeSticky
		}
		require.Equal(t, want, pf.mode, "%s: mode", where)
	}
}

// requireDocumented checks that err is an *EntryError naming a documented rule and
// wrapping one of the sentinel errors.
func requireDocumented(t *testing.T, rules map[Rule]string, err error) {
	t.Helper()
	var ee *EntryError
	require.ErrorAs(t, err, &ee, "%v", err)
	_, ok := rules[ee.Rule]
	require.True(t, ok, "rule %q is not documented: %v", ee.Rule, err)
	sentinel := false
	for _, s := range []error{ErrFormat, ErrUnsafePath, ErrDuplicate, ErrLimit, ErrChecksum, ErrUnsupported} {
		sentinel = sentinel || errors.Is(err, s)
	}
	require.True(t, sentinel, "no sentinel error: %v", err)
}

// differentialCases are zip files that archive/zip reads one way and pack, before it
// refused them, read another. Each must now be refused by pack with wantRule.
func differentialCases() []struct {
	name     string
	zip      []byte
	wantRule Rule
} {
	le := binary.LittleEndian
	good := stored("good.txt", "good", 0o644)
	evil := stored("evil.txt", "evil", 0o644)

	// A second end of central directory record inside the comment of the real one:
	// archive/zip takes the last signature whose comment fits, pack the last whose
	// comment reaches exactly the end of the file; the second one's central directory
	// starts one entry earlier, so archive/zip sees an entry pack does not.
	gBody, gCD := rawZipParts(0, good)
	eBody, eCD := rawZipParts(len(gBody), evil)
	fake := string(eocd(2, len(eCD)+len(gCD), len(gBody)+len(eBody), ""))
	var commentEOCD []byte
	commentEOCD = append(commentEOCD, gBody...)
	commentEOCD = append(commentEOCD, eBody...)
	commentEOCD = append(commentEOCD, eCD...)
	commentEOCD = append(commentEOCD, gCD...)
	commentEOCD = append(commentEOCD, eocd(1, len(gCD), len(gBody)+len(eBody)+len(eCD), fake+"xx")...)

	// A data descriptor announced (flag 8) but missing: archive/zip reads the next
	// record's signature as its CRC-32 and refuses the content.
	noDesc := stored("nodesc.txt", "data", 0o644)
	noDesc.flags = 0x8

	// A data descriptor whose CRC-32 disagrees with the central directory.
	badDesc := stored("baddesc.txt", "data", 0o644)
	badDesc.flags = 0x8
	badDesc.data = append([]byte("data"), 0x50, 0x4b, 0x07, 0x08, 1, 2, 3, 4, 4, 0, 0, 0, 4, 0, 0, 0)
	badDescZip := rawZip(badDesc)

	// MS-DOS folder attribute from a creator that is not MS-DOS: archive/zip reads a
	// file, pack read a folder.
	otherCreator := stored("x", "", 0)
	otherCreator.rawMode, otherCreator.creator, otherCreator.ext = true, 5, 0x10
	unixNoMode := stored("y", "", 0)
	unixNoMode.rawMode, unixNoMode.creator, unixNoMode.ext = true, 3, 0x10

	// A central directory of exactly 0xffff bytes, whose last header's comment ends
	// with a zip64 end record and locator pointing at another central directory:
	// archive/zip takes 0xffff for a zip64 marker and follows the locator to a
	// central directory one entry longer, pack read the 32-bit values.
	eBody2, eCD2 := rawZipParts(0, evil)
	gBody2, _ := rawZipParts(len(eBody2), good)
	cdOff := len(eBody2) + len(gBody2) + len(eCD2)
	var z64 [56 + 20]byte
	le.PutUint32(z64[0:], sigEnd64)
	le.PutUint64(z64[4:], 44)
	le.PutUint64(z64[24:], 2)
	le.PutUint64(z64[32:], 2)
	le.PutUint64(z64[40:], uint64(len(eCD2)+0xffff-76))
	le.PutUint64(z64[48:], uint64(len(eBody2)+len(gBody2)))
	le.PutUint32(z64[56:], sigEnd64Loc)
	le.PutUint64(z64[56+8:], uint64(cdOff+0xffff-76))
	le.PutUint32(z64[56+16:], 1)
	padded := good
	padded.comment = strings.Repeat("p", 0xffff-46-len(good.name)-76) + string(z64[:])
	_, gCD2 := rawZipParts(len(eBody2), padded)
	var zip64Hidden []byte
	zip64Hidden = append(zip64Hidden, eBody2...)
	zip64Hidden = append(zip64Hidden, gBody2...)
	zip64Hidden = append(zip64Hidden, eCD2...)
	zip64Hidden = append(zip64Hidden, gCD2...)
	zip64Hidden = append(zip64Hidden, eocd(1, len(gCD2), cdOff, "")...)

	// Bytes after the last central header, inside the central directory's size.
	tailBody, tailCD := rawZipParts(0, good)
	tail := append(append(tailBody, tailCD...), []byte("hidden")...)
	tail = append(tail, eocd(1, len(tailCD)+6, len(tailBody), "")...)

	return []struct {
		name     string
		zip      []byte
		wantRule Rule
	}{
		{"end record in comment", commentEOCD, RuleStructure},
		{"data descriptor missing", rawZip(noDesc), RuleLocalHeader},
		{"data descriptor CRC", badDescZip, RuleLocalHeader},
		{"folder attribute, other creator", rawZip(otherCreator), ""},
		{"folder attribute, Unix creator without mode", rawZip(unixNoMode), ""},
		{"zip64 record behind a 0xffff central directory", zip64Hidden, RuleStructure},
		{"bytes after the central directory entries", tail, RuleStructure},
	}
}

// TestReaderDifferentialCases checks the zip files on which pack and archive/zip
// once disagreed: pack refuses them (naming wantRule), or, where wantRule is empty,
// now reads them as archive/zip does.
func TestReaderDifferentialCases(t *testing.T) {
	t.Parallel()
	lim := DefaultLimits()
	for _, c := range differentialCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := openArchive(bytes.NewReader(c.zip), int64(len(c.zip)), lim, false)
			if c.wantRule == "" {
				require.NoError(t, err)
			} else {
				var ee *EntryError
				require.ErrorAs(t, err, &ee, "pack accepts it")
				require.Equal(t, c.wantRule, ee.Rule, "%v", err)
			}
			diffCheck(t, documentedRules(t), c.zip)
		})
	}
}
