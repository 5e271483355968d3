package pack

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostileCase is a pack that must be refused.
type hostileCase struct {
	name      string
	zip       []byte
	limits    Limits
	wantErr   error
	wantRule  Rule
	wantEntry string
	needsData bool // refused only once data is decompressed (ReadInfo accepts it)
}

func u16(v uint16) *uint16 { return &v }

// hostileCases is the generated corpus of hostile packs, one or more per rule.
func hostileCases() []hostileCase {
	ok := stored("ok.txt", "fine", 0o644)
	zeros := bytes.Repeat([]byte{0}, 2<<20)
	bomb := deflated("bomb.bin", zeros, 0o644)
	liar := deflated("liar.bin", zeros, 0o644)
	liar.usize = 10
	short := deflated("short.bin", []byte("hello world"), 0o644)
	short.usize = 20
	badCRC := stored("crc.txt", "data", 0o644)
	badCRC.crc++
	// A zstd frame whose own checksum holds, of bytes other than those the CRC-32
	// declares: extraction does not read the frame's checksum (the CRC-32 covers the
	// same bytes), so the CRC-32 must refuse it.
	zstdCRC := zstded("zcrc.txt", []byte("other data"))
	zstdCRC.crc = crc32.ChecksumIEEE([]byte("other datA"))
	zeroCRC := stored("zero.txt", "data", 0o644)
	zeroCRC.crc = 0
	bzip := stored("bz.txt", "data", 0o644)
	bzip.method = 12
	enc := stored("enc.txt", "data", 0o644)
	enc.flags = 1
	aes := stored("aes.txt", "data", 0o644)
	aes.method = 99
	renamed := stored("good.txt", "data", 0o644)
	renamed.localName = "evil.txt"
	otherMethod := stored("m.txt", "data", 0o644)
	otherMethod.localMethod = u16(8)
	// The overlapping construction: B's local header and data sit inside A's data,
	// and B's central header points there.
	inner := stored("b.txt", "BBBB", 0o644)
	outerData := append(localHeader(inner), inner.data...)
	outer := rawEntry{name: "a.txt", data: outerData, crc: crc32.ChecksumIEEE(outerData),
		csize: uint64(len(outerData)), usize: uint64(len(outerData)), mode: 0o644}
	inner.inside = 1
	dosDir := stored("dosdir", "", 0)
	dosDir.rawMode, dosDir.ext = true, 0x10
	dosDir.usize, dosDir.csize, dosDir.data = 0, 0, nil
	dirData := stored("d/", "x", fs.ModeDir|0o755)
	linkTo := func(name, target string) rawEntry { return stored(name, target, fs.ModeSymlink|0o777) }

	unsafe := func(name string, rule Rule) hostileCase {
		return hostileCase{name: "name " + name, zip: rawZip(ok, stored(name, "x", 0o644)), wantErr: ErrUnsafePath, wantRule: rule, wantEntry: name}
	}
	cases := []hostileCase{
		unsafe("../evil.txt", RuleDotDot),
		unsafe("a/../../evil.txt", RuleDotDot),
		unsafe("a/./b", RuleDotDot),
		unsafe("a//b", RuleDotDot),
		unsafe("/etc/passwd", RuleAbsolute),
		unsafe("//server/share/x", RuleAbsolute),
		unsafe("C:/Windows/x", RuleAbsolute),
		unsafe("c:x", RuleAbsolute),
		unsafe("a:b", RuleAbsolute), // drive-relative on Windows
		unsafe("file.txt:stream", RuleColon),
		unsafe(`..\..\evil.txt`, RuleBackslash),
		unsafe(`\\server\share\x`, RuleBackslash),
		unsafe("a\x00b", RuleNUL),
		unsafe("a\x01b", RuleName),
		unsafe("bad\xff.txt", RuleName),
		unsafe(strings.Repeat("a/", 2049)+"x", RuleName),
		unsafe("CON", RuleReserved),
		unsafe("con.txt", RuleReserved),
		unsafe("dir/nul.tar.gz", RuleReserved),
		unsafe("COM1", RuleReserved),
		unsafe("lpt9.log", RuleReserved),
		unsafe("x/Aux/y", RuleReserved),
		unsafe("file.", RuleTrailingDot),
		unsafe("file ", RuleTrailingDot),
		unsafe("dir./x", RuleTrailingDot),
		{name: "duplicate", zip: rawZip(ok, stored("ok.txt", "again", 0o644)), wantErr: ErrDuplicate, wantRule: RuleDuplicate, wantEntry: "ok.txt"},
		{name: "duplicate dir and file", zip: rawZip(stored("d/", "", fs.ModeDir|0o755), stored("d", "x", 0o644)), wantErr: ErrDuplicate, wantRule: RuleDuplicate, wantEntry: "d"},
		{name: "case collision", zip: rawZip(stored("Read.me", "a", 0o644), stored("READ.ME", "b", 0o644)), wantErr: ErrDuplicate, wantRule: RuleCaseCollision, wantEntry: "READ.ME"},
		{name: "file then folder", zip: rawZip(stored("a", "x", 0o644), stored("a/b", "y", 0o644)), wantErr: ErrDuplicate, wantRule: RuleFileDir, wantEntry: "a/b"},
		{name: "folder under file by case", zip: rawZip(stored("A", "x", 0o644), stored("a/b", "y", 0o644)), wantErr: ErrDuplicate, wantRule: RuleFileDir, wantEntry: "a/b"},
		{name: "file under link", zip: rawZip(linkTo("l", "sub"), stored("sub/", "", fs.ModeDir|0o755), stored("l/x", "y", 0o644)), wantErr: ErrDuplicate, wantRule: RuleFileDir, wantEntry: "l/x"},
		{name: "char device", zip: rawZip(stored("dev", "", fs.ModeDevice|fs.ModeCharDevice|0o666)), wantErr: ErrUnsupported, wantRule: RuleSpecial, wantEntry: "dev"},
		{name: "block device", zip: rawZip(stored("blk", "", fs.ModeDevice|0o666)), wantErr: ErrUnsupported, wantRule: RuleSpecial, wantEntry: "blk"},
		{name: "fifo", zip: rawZip(stored("fifo", "", fs.ModeNamedPipe|0o666)), wantErr: ErrUnsupported, wantRule: RuleSpecial, wantEntry: "fifo"},
		{name: "socket", zip: rawZip(stored("sock", "", fs.ModeSocket|0o666)), wantErr: ErrUnsupported, wantRule: RuleSpecial, wantEntry: "sock"},
		{name: "folder with data", zip: rawZip(dirData), wantErr: ErrFormat, wantRule: RuleSize, wantEntry: "d/"},
		{name: "link absolute", zip: rawZip(linkTo("l", "/etc/passwd")), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "l"},
		{name: "link up", zip: rawZip(linkTo("l", "../x")), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "l"},
		{name: "link up from folder", zip: rawZip(linkTo("d/l", "../../x")), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "d/l"},
		{name: "link up hidden", zip: rawZip(linkTo("d/l", "e/../../../x")), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "d/l"},
		{name: "link through link", zip: rawZip(linkTo("d/l", "."), linkTo("m", "d/l/../..")), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "m"},
		{name: "link chain", zip: rawZip(stored("a/", "", fs.ModeDir|0o755), linkTo("a/up", ".."), linkTo("esc", "a/up/..")), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "esc"},
		{name: "link backslash", zip: rawZip(linkTo("l", `..\..\x`)), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "l"},
		{name: "link drive", zip: rawZip(linkTo("l", `C:/x`)), wantErr: ErrUnsafePath, wantRule: RuleLink, wantEntry: "l"},
		{name: "link bad crc", zip: rawZip(func() rawEntry { e := linkTo("l", "x"); e.crc++; return e }()), wantErr: ErrChecksum, wantRule: RuleCRC, wantEntry: "l"},
		{name: "too many entries", zip: rawZip(ok, stored("b", "b", 0o644), stored("c", "c", 0o644)), limits: Limits{MaxFiles: 2}, wantErr: ErrLimit, wantRule: RuleMaxFiles},
		{name: "file too large", zip: rawZip(ok, stored("big", strings.Repeat("x", 100), 0o644)), limits: Limits{MaxFileSize: 50}, wantErr: ErrLimit, wantRule: RuleMaxFileSize, wantEntry: "big"},
		{name: "total too large", zip: rawZip(stored("a", strings.Repeat("x", 60), 0o644), stored("b", strings.Repeat("x", 60), 0o644)), limits: Limits{MaxTotal: 100}, wantErr: ErrLimit, wantRule: RuleMaxTotal, wantEntry: "b"},
		{name: "too deep", zip: rawZip(ok, stored("a/b/c", "x", 0o644)), limits: Limits{MaxDepth: 2}, wantErr: ErrLimit, wantRule: RuleMaxDepth, wantEntry: "a/b/c"},
		{name: "ratio", zip: rawZip(bomb), wantErr: ErrLimit, wantRule: RuleMaxRatio, wantEntry: "bomb.bin"},
		{name: "declared size lie", zip: rawZip(liar), wantErr: ErrLimit, wantRule: RuleSize, wantEntry: "liar.bin", needsData: true},
		{name: "short data", zip: rawZip(short), wantErr: ErrFormat, wantRule: RuleSize, wantEntry: "short.bin", needsData: true},
		{name: "crc", zip: rawZip(ok, badCRC), wantErr: ErrChecksum, wantRule: RuleCRC, wantEntry: "crc.txt", needsData: true},
		{name: "zstd crc", zip: rawZip(ok, zstdCRC), wantErr: ErrChecksum, wantRule: RuleCRC, wantEntry: "zcrc.txt", needsData: true},
		{name: "zero crc", zip: rawZip(zeroCRC), wantErr: ErrChecksum, wantRule: RuleZeroCRC, wantEntry: "zero.txt"},
		{name: "bzip2", zip: rawZip(bzip), wantErr: ErrUnsupported, wantRule: RuleMethod, wantEntry: "bz.txt"},
		{name: "encrypted", zip: rawZip(enc), wantErr: ErrUnsupported, wantRule: RuleEncrypted, wantEntry: "enc.txt"},
		{name: "aes", zip: rawZip(aes), wantErr: ErrUnsupported, wantRule: RuleEncrypted, wantEntry: "aes.txt"},
		{name: "local name differs", zip: rawZip(ok, renamed), wantErr: ErrFormat, wantRule: RuleLocalHeader, wantEntry: "good.txt"},
		{name: "local method differs", zip: rawZip(otherMethod), wantErr: ErrFormat, wantRule: RuleLocalHeader, wantEntry: "m.txt"},
		{name: "overlap", zip: rawZip(outer, inner), wantErr: ErrFormat, wantRule: RuleOverlap, wantEntry: "b.txt"},
		{name: "same local header twice", zip: func() []byte {
			z := rawZip(ok, stored("ok.txt", "fine", 0o644))
			return z
		}(), wantErr: ErrDuplicate, wantRule: RuleDuplicate, wantEntry: "ok.txt"},
		{name: "dos folder with data", zip: rawZip(func() rawEntry {
			e := dosDir
			e.name = "dd/"
			e.data = []byte("x")
			e.csize, e.usize, e.crc = 1, 1, crc32.ChecksumIEEE([]byte("x"))
			return e
		}()), wantErr: ErrFormat, wantRule: RuleSize, wantEntry: "dd/"},
		{name: "empty", zip: nil, wantErr: ErrFormat, wantRule: RuleStructure},
		{name: "garbage", zip: bytes.Repeat([]byte("garbage!"), 100), wantErr: ErrFormat, wantRule: RuleStructure},
		{name: "truncated", zip: rawZip(ok)[:40], wantErr: ErrFormat, wantRule: RuleStructure},
		{name: "central directory cut", zip: func() []byte {
			z := rawZip(ok)
			return append(z[:len(z)-30], z[len(z)-22:]...)
		}(), wantErr: ErrFormat, wantRule: RuleStructure},
	}
	return cases
}

// dirNames lists a folder's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func requireRule(t *testing.T, err error, c hostileCase) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, c.wantErr, "%v", err)
	var ee *EntryError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, c.wantRule, ee.Rule, "%v", err)
	require.Equal(t, c.wantEntry, ee.Entry, "%v", err)
	if c.wantEntry != "" {
		require.Contains(t, err.Error(), string(c.wantRule))
	}
}

func TestReadInfoRefusesHostile(t *testing.T) {
	t.Parallel()
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			info, err := ReadInfo(bytes.NewReader(c.zip), int64(len(c.zip)), WithLimits(c.limits))
			if c.needsData {
				require.NoError(t, err)
				require.NotNil(t, info)
				return
			}
			require.Nil(t, info)
			requireRule(t, err, c)
		})
	}
}

func TestExtractRefusesHostile(t *testing.T) {
	t.Parallel()
	for _, c := range hostileCases() {
		for _, existing := range []bool{false, true} {
			t.Run(c.name+map[bool]string{false: "/new", true: "/empty-dest"}[existing], func(t *testing.T) {
				t.Parallel()
				parent := t.TempDir()
				dest := filepath.Join(parent, "dest")
				if existing {
					require.NoError(t, os.Mkdir(dest, 0o750))
				}
				rep, err := Extract(context.Background(), bytes.NewReader(c.zip), int64(len(c.zip)), dest,
					WithLimits(c.limits), WithoutSync(), WithWorkers(2))
				require.Nil(t, rep)
				requireRule(t, err, c)
				if existing {
					require.Equal(t, []string{"dest"}, dirNames(t, parent), "nothing beside dest")
					require.Empty(t, dirNames(t, dest), "dest left as it was")
					fi, err := os.Stat(dest)
					require.NoError(t, err)
					require.Equal(t, fs.ModeDir|0o750, fi.Mode())
				} else {
					require.Empty(t, dirNames(t, parent), "nothing left behind")
				}
			})
		}
	}
}

func TestAllowCaseCollisions(t *testing.T) {
	t.Parallel()
	z := rawZip(stored("Read.me", "a", 0o644), stored("READ.ME", "b", 0o644))
	info, err := ReadInfo(bytes.NewReader(z), int64(len(z)), AllowCaseCollisions())
	require.NoError(t, err)
	require.Equal(t, 2, info.Files)
}

func TestEntryErrorMessage(t *testing.T) {
	t.Parallel()
	z := rawZip(stored("../evil", "x", 0o644))
	_, err := ReadInfo(bytes.NewReader(z), int64(len(z)))
	require.EqualError(t, err, `pack: entry "../evil": dot-segment: unsafe path: path segment ".."`)
	require.True(t, errors.Is(err, ErrUnsafePath))
}
