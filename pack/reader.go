package pack

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Method is a zip compression method.
type Method uint16

// The compression methods a pack may use.
const (
	Store   Method = 0  // no compression
	Deflate Method = 8  // deflate (the default)
	Zstd    Method = 93 // Zstandard, as WinZip numbers it
)

// String returns "store", "deflate", "zstd" or "method-N".
func (m Method) String() string {
	switch m {
	case Store:
		return "store"
	case Deflate:
		return "deflate"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("method-%d", uint16(m))
}

// Entry describes one entry of a pack.
type Entry struct {
	Name       string      // as stored: slash-separated, folders end with "/"
	Size       int64       // declared uncompressed size
	Compressed int64       // compressed size
	Mode       fs.FileMode // type bits, permissions, and the sticky bit of a folder
	Method     Method
	Link       string    // target, for a symbolic link
	ModTime    time.Time // UTC, second precision
}

// Info describes a pack: counts, sizes (declared uncompressed, and compressed), the
// methods used, and its entries in central directory order.
type Info struct {
	Files, Dirs, Links int
	Size, Compressed   int64
	Methods            []Method
	Entries            []Entry
}

// ReadInfo reads a pack's central directory and runs every check that needs no
// decompression of file data: names, duplicates, folders used as files, links (their
// targets are read), declared sizes against the limits, methods, encryption, local
// headers and overlapping entries. Only [WithLimits] and [AllowCaseCollisions] apply.
func ReadInfo(r io.ReaderAt, size int64, opts ...Option) (*Info, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	a, err := openArchive(r, size, o.limits, o.allowCase)
	if err != nil {
		return nil, err
	}
	info := &Info{Entries: make([]Entry, 0, len(a.files))}
	methods := map[Method]bool{}
	for _, f := range a.files {
		switch f.kind {
		case kindDir:
			info.Dirs++
		case kindLink:
			info.Links++
		default:
			info.Files++
		}
		info.Size += int64(f.usize)
		info.Compressed += int64(f.csize)
		if !methods[f.method] {
			methods[f.method] = true
			info.Methods = append(info.Methods, f.method)
		}
		info.Entries = append(info.Entries, Entry{
			Name: f.name, Size: int64(f.usize), Compressed: int64(f.csize),
			Mode: f.mode, Method: f.method, Link: f.link, ModTime: f.modTime,
		})
	}
	slices.Sort(info.Methods)
	return info, nil
}

// zip record signatures and sizes.
const (
	sigLocal       = 0x04034b50
	sigCentral     = 0x02014b50
	sigEnd         = 0x06054b50
	sigEnd64       = 0x06064b50
	sigEnd64Loc    = 0x07064b50
	sigDescriptor  = 0x08074b50
	lenLocal       = 30
	lenCentral     = 46
	lenEnd         = 22
	lenEnd64       = 56
	lenEnd64Loc    = 20
	extraZip64     = 0x0001
	extraTimestamp = 0x5455
	flagEncrypted  = 0x1
	flagDescriptor = 0x8
	flagStrongEnc  = 0x40
	methodAES      = 99
	maxLinkTarget  = maxNameLen
	maxCentralSize = 1 << 30 // the central directory is read through a buffer, never whole
)

// file is one checked central directory entry.
type file struct {
	name, path   string
	kind         kind
	flags        uint16
	method       Method
	crc          uint32
	csize, usize uint64
	offset       uint64 // local header
	dataOffset   int64
	mode         fs.FileMode
	modTime      time.Time
	link         string
}

// archive is a pack whose structure has been checked.
type archive struct {
	r     io.ReaderAt
	size  int64
	files []*file
}

func formatErr(entry, detail string) *EntryError {
	return entryErr(entry, RuleStructure, ErrFormat, detail)
}

// openArchive parses and checks the central directory, the local headers and the
// links of the pack in r.
func openArchive(r io.ReaderAt, size int64, lim Limits, allowCase bool) (*archive, error) {
	if size < lenEnd {
		return nil, formatErr("", "too short for a zip file")
	}
	cdOff, cdSize, count, cdEnd, err := readEnd(r, size)
	if err != nil {
		return nil, err
	}
	if count > uint64(lim.MaxFiles) {
		return nil, entryErr("", RuleMaxFiles, ErrLimit, fmt.Sprintf("%d entries, more than %d", count, lim.MaxFiles))
	}
	if cdOff+cdSize != cdEnd || count*lenCentral > cdSize || cdSize > maxCentralSize {
		return nil, formatErr("", "central directory bounds are inconsistent")
	}
	a := &archive{r: r, size: size, files: make([]*file, 0, count)}
	br := bufio.NewReaderSize(io.NewSectionReader(r, int64(cdOff), int64(cdSize)), 64<<10)
	var total, read uint64
	for i := uint64(0); i < count; i++ {
		f, n, err := readCentral(br)
		if err != nil {
			return nil, err
		}
		read += uint64(n)
		if err := checkEntry(f, lim); err != nil {
			return nil, err
		}
		total += f.usize
		if total > uint64(lim.MaxTotal) {
			return nil, entryErr(f.name, RuleMaxTotal, ErrLimit, fmt.Sprintf("pack declares more than %d bytes in all", lim.MaxTotal))
		}
		a.files = append(a.files, f)
	}
	// Bytes left in the central directory could hold entries that a reader
	// walking it to its end, rather than counting, would see.
	if read != cdSize {
		return nil, formatErr("", fmt.Sprintf("central directory holds %d bytes after its last entry", cdSize-read))
	}
	if err := a.checkLocal(cdOff); err != nil {
		return nil, err
	}
	tree := make([]treeEntry, len(a.files))
	for i, f := range a.files {
		if f.kind == kindLink {
			if err := a.readLink(f); err != nil {
				return nil, err
			}
		}
		tree[i] = treeEntry{raw: f.name, path: f.path, kind: f.kind, link: f.link}
	}
	if err := checkTree(tree, allowCase); err != nil {
		return nil, err
	}
	return a, nil
}

// readEnd finds the end of central directory record (zip64 too) and returns the
// central directory's offset, size and entry count, and where it must end.
func readEnd(r io.ReaderAt, size int64) (off, n, count, end uint64, err error) {
	return readEndWithin(r, size, lenEnd+0xffff)
}

// readEndWithin is readEnd looking for the record in the last within bytes only.
func readEndWithin(r io.ReaderAt, size, within int64) (off, n, count, end uint64, err error) {
	tail := min(size, within)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return 0, 0, 0, 0, formatErr("", "reading the end of central directory: "+err.Error())
	}
	pos := -1
	for i := len(buf) - lenEnd; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == sigEnd &&
			int(binary.LittleEndian.Uint16(buf[i+20:])) == len(buf)-i-lenEnd {
			pos = i
			break
		}
	}
	if pos < 0 {
		return 0, 0, 0, 0, formatErr("", "no end of central directory record")
	}
	// Any other end record after this one (in its comment, or overlapping it) is
	// where a reader that takes the last signature would look instead.
	if bytes.Contains(buf[pos+1:], []byte{'P', 'K', 5, 6}) {
		return 0, 0, 0, 0, formatErr("", "the end of central directory record's comment holds another one")
	}
	e := buf[pos:]
	le := binary.LittleEndian
	disk, cdDisk := le.Uint16(e[4:]), le.Uint16(e[6:])
	onDisk, total := le.Uint16(e[8:]), le.Uint16(e[10:])
	n, off, count = uint64(le.Uint32(e[12:])), uint64(le.Uint32(e[16:])), uint64(total)
	end = uint64(size - tail + int64(pos))
	escaped := disk == 0xffff || cdDisk == 0xffff || onDisk == 0xffff || total == 0xffff || n == 0xffffffff || off == 0xffffffff
	// A central directory of exactly 0xffff bytes is no zip64 marker, but archive/zip
	// takes it for one: then a zip64 locator, if there is one, must agree.
	if !escaped && n != 0xffff {
		if disk != 0 || cdDisk != 0 || onDisk != total {
			return 0, 0, 0, 0, formatErr("", "multi-disk archives are not supported")
		}
		return off, n, count, end, nil
	}
	// zip64: the locator sits just before the record.
	recOff, found, err := readLocator(r, int64(end))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if !found {
		if escaped {
			return 0, 0, 0, 0, formatErr("", "zip64 locator missing")
		}
		if disk != 0 || cdDisk != 0 || onDisk != total {
			return 0, 0, 0, 0, formatErr("", "multi-disk archives are not supported")
		}
		return off, n, count, end, nil
	}
	var rec [lenEnd64]byte
	if _, err := r.ReadAt(rec[:], int64(recOff)); err != nil || le.Uint32(rec[:]) != sigEnd64 {
		return 0, 0, 0, 0, formatErr("", "zip64 end of central directory missing")
	}
	if le.Uint32(rec[16:]) != 0 || le.Uint32(rec[20:]) != 0 || le.Uint64(rec[24:]) != le.Uint64(rec[32:]) {
		return 0, 0, 0, 0, formatErr("", "multi-disk archives are not supported")
	}
	count64, n64, off64 := le.Uint64(rec[32:]), le.Uint64(rec[40:]), le.Uint64(rec[48:])
	// Each 32-bit field either defers to the zip64 record or says the same.
	if total != 0xffff && uint64(total) != count64 || n != 0xffffffff && n != n64 || off != 0xffffffff && off != off64 {
		return 0, 0, 0, 0, formatErr("", "the zip64 end of central directory disagrees with the 32-bit one")
	}
	return off64, n64, count64, recOff, nil
}

// readLocator reads the zip64 locator that must end where the end of central
// directory record at end starts, and returns the offset of the zip64 record. As
// archive/zip does, a locator is only taken for one with its signature, disk 0 and
// one disk in all.
func readLocator(r io.ReaderAt, end int64) (uint64, bool, error) {
	locPos := end - lenEnd64Loc
	if locPos < 0 {
		return 0, false, nil
	}
	var loc [lenEnd64Loc]byte
	if _, err := r.ReadAt(loc[:], locPos); err != nil {
		return 0, false, formatErr("", "reading the zip64 locator: "+err.Error())
	}
	le := binary.LittleEndian
	if le.Uint32(loc[:]) != sigEnd64Loc || le.Uint32(loc[4:]) != 0 || le.Uint32(loc[16:]) != 1 {
		return 0, false, nil
	}
	recOff := le.Uint64(loc[8:])
	if locPos < lenEnd64 || recOff > uint64(locPos)-lenEnd64 {
		return 0, false, formatErr("", "zip64 locator is inconsistent")
	}
	return recOff, true, nil
}

// readCentral reads one central directory header and returns its length.
func readCentral(br *bufio.Reader) (*file, int, error) {
	var h [lenCentral]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, 0, formatErr("", "central directory truncated")
	}
	le := binary.LittleEndian
	if le.Uint32(h[:]) != sigCentral {
		return nil, 0, formatErr("", "bad central directory header signature")
	}
	creator := le.Uint16(h[4:]) >> 8
	f := &file{
		flags:  le.Uint16(h[8:]),
		method: Method(le.Uint16(h[10:])),
		crc:    le.Uint32(h[16:]),
		csize:  uint64(le.Uint32(h[20:])),
		usize:  uint64(le.Uint32(h[24:])),
		offset: uint64(le.Uint32(h[42:])),
	}
	dosTime, dosDate := le.Uint16(h[12:]), le.Uint16(h[14:])
	nameLen, extraLen, commentLen := int(le.Uint16(h[28:])), int(le.Uint16(h[30:])), int(le.Uint16(h[32:]))
	ext := le.Uint32(h[38:])
	rest := make([]byte, nameLen+extraLen+commentLen)
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, 0, formatErr("", "central directory truncated")
	}
	f.name = string(rest[:nameLen])
	extra := rest[nameLen : nameLen+extraLen]
	var unixTime int64
	hasUnixTime := false
	for len(extra) >= 4 {
		id, n := le.Uint16(extra), int(le.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return nil, 0, formatErr(f.name, "extra field truncated")
		}
		data := extra[4 : 4+n]
		extra = extra[4+n:]
		switch id {
		case extraZip64:
			read := func(v *uint64) error {
				if *v != 0xffffffff {
					return nil
				}
				if len(data) < 8 {
					return formatErr(f.name, "zip64 extra field truncated")
				}
				*v, data = le.Uint64(data), data[8:]
				return nil
			}
			for _, v := range []*uint64{&f.usize, &f.csize, &f.offset} {
				if err := read(v); err != nil {
					return nil, 0, err
				}
			}
		case extraTimestamp:
			if len(data) >= 5 && data[0]&1 != 0 {
				unixTime, hasUnixTime = int64(le.Uint32(data[1:])), true
			}
		}
	}
	if hasUnixTime {
		f.modTime = time.Unix(unixTime, 0).UTC()
	} else {
		f.modTime = time.Date(1980+int(dosDate>>9), time.Month(dosDate>>5&0xf), int(dosDate&0x1f),
			int(dosTime>>11), int(dosTime>>5&0x3f), int(dosTime&0x1f)*2, 0, time.UTC)
	}
	f.mode = decodeMode(creator, ext, strings.HasSuffix(f.name, "/"))
	return f, lenCentral + len(rest), nil
}

// decodeMode turns a central header's external attributes into a FileMode.
func decodeMode(creator uint16, ext uint32, slash bool) fs.FileMode {
	const (
		creatorFAT    = 0
		creatorUnix   = 3
		creatorNTFS   = 11
		creatorVFAT   = 14
		creatorDarwin = 19
	)
	if (creator == creatorUnix || creator == creatorDarwin) && ext>>16 != 0 {
		m := ext >> 16
		perm := fs.FileMode(m & 0o777)
		sticky := fs.FileMode(0)
		if m&0o1000 != 0 {
			sticky = fs.ModeSticky // kept for folders only
		}
		switch m & 0xf000 {
		case 0x4000:
			return fs.ModeDir | sticky | perm
		case 0x8000:
			return perm
		case 0xa000:
			return fs.ModeSymlink | perm
		case 0:
			if slash {
				return fs.ModeDir | sticky | perm
			}
			return perm
		case 0x2000:
			return fs.ModeCharDevice | fs.ModeDevice | perm
		case 0x6000:
			return fs.ModeDevice | perm
		case 0x1000:
			return fs.ModeNamedPipe | perm
		case 0xc000:
			return fs.ModeSocket | perm
		}
		return fs.ModeIrregular | perm
	}
	// Without Unix modes, as archive/zip reads them: the MS-DOS attributes (folder,
	// read-only) only from the systems that write them, the name's slash from all.
	dos := creator == creatorFAT || creator == creatorNTFS || creator == creatorVFAT
	if slash || dos && ext&0x10 != 0 {
		return fs.ModeDir | 0o755
	}
	if dos && ext&0x01 != 0 {
		return 0o444
	}
	return 0o644
}

// checkEntry runs the checks one central header allows on its own.
func checkEntry(f *file, lim Limits) error {
	p, nerr := checkName(f.name)
	if nerr != nil {
		return nerr
	}
	f.path = p
	if d := strings.Count(p, "/") + 1; d > lim.MaxDepth {
		return entryErr(f.name, RuleMaxDepth, ErrLimit, fmt.Sprintf("%d path segments, more than %d", d, lim.MaxDepth))
	}
	switch {
	case f.flags&(flagEncrypted|flagStrongEnc) != 0 || f.method == methodAES:
		return entryErr(f.name, RuleEncrypted, ErrUnsupported, "encrypted entry")
	case f.method != Store && f.method != Deflate && f.method != Zstd:
		return entryErr(f.name, RuleMethod, ErrUnsupported, "compression method "+f.method.String())
	}
	slash := strings.HasSuffix(f.name, "/")
	switch t := f.mode.Type(); {
	case t == fs.ModeDir:
		f.kind = kindDir
		if f.usize != 0 {
			return entryErr(f.name, RuleSize, ErrFormat, "a folder with data")
		}
	case slash:
		return entryErr(f.name, RuleSpecial, ErrFormat, "name ends with a slash but the entry is a "+t.String())
	case t == fs.ModeSymlink:
		f.kind = kindLink
		if f.usize > maxLinkTarget || f.usize == 0 {
			return entryErr(f.name, RuleLink, ErrUnsafePath, "link target empty or longer than 4096 bytes")
		}
	case t == 0:
		f.kind = kindFile
	default:
		return entryErr(f.name, RuleSpecial, ErrUnsupported, "special file "+f.mode.String())
	}
	if f.usize > uint64(lim.MaxFileSize) {
		return entryErr(f.name, RuleMaxFileSize, ErrLimit, fmt.Sprintf("declares %d bytes, more than %d", f.usize, lim.MaxFileSize))
	}
	if ratioExceeded(f.usize, f.csize, lim) {
		return entryErr(f.name, RuleMaxRatio, ErrLimit, fmt.Sprintf("declares %d bytes from %d compressed, more than %d:1", f.usize, f.csize, lim.MaxRatio))
	}
	if f.method == Store && f.csize != f.usize {
		return entryErr(f.name, RuleSize, ErrFormat, "stored entry whose compressed and uncompressed sizes differ")
	}
	if f.crc == 0 && f.usize > 0 {
		return entryErr(f.name, RuleZeroCRC, ErrChecksum, "zero CRC-32 on non-empty data")
	}
	if f.csize > 1<<62 || f.offset > 1<<62 {
		return formatErr(f.name, "sizes out of range")
	}
	return nil
}

// ratioExceeded reports whether usize bytes out of csize exceed the ratio limit.
func ratioExceeded(usize, csize uint64, lim Limits) bool {
	if usize <= uint64(lim.RatioMinSize) {
		return false
	}
	hi, lo := bits.Mul64(csize, uint64(lim.MaxRatio))
	return hi == 0 && usize > lo
}

// checkLocal reads every local header, checks it against its central header, and
// checks that no two entries share bytes and that all data lies before the central
// directory.
func (a *archive) checkLocal(cdOff uint64) error {
	order := slices.Clone(a.files)
	slices.SortFunc(order, func(x, y *file) int {
		switch {
		case x.offset < y.offset:
			return -1
		case x.offset > y.offset:
			return 1
		}
		return 0
	})
	le := binary.LittleEndian
	var prevEnd uint64
	var prev *file
	w := &window{r: a.r, limit: cdOff}
	// hint(i) is where a read for order[i] should reach: as many of the following
	// local headers (and data descriptors) as fit in one window.
	far := 0
	hint := func(i int) uint64 {
		far = max(far, i)
		for far+1 < len(order) && headerEnd(order[far+1])-order[i].offset <= windowSize {
			far++
		}
		return headerEnd(order[far])
	}
	for i, f := range order {
		if prev != nil && f.offset < prevEnd {
			return entryErr(f.name, RuleOverlap, ErrFormat, fmt.Sprintf("its local header at offset %d lies inside the data of %q", f.offset, prev.name))
		}
		n := lenLocal + len(f.name)
		if f.offset+uint64(n) > cdOff {
			return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header beyond the data area")
		}
		buf, err := w.read(f.offset, n, hint(i))
		if err != nil {
			return entryErr(f.name, RuleLocalHeader, ErrFormat, "reading the local header: "+err.Error())
		}
		switch {
		case le.Uint32(buf) != sigLocal:
			return entryErr(f.name, RuleLocalHeader, ErrFormat, "bad local header signature")
		case int(le.Uint16(buf[26:])) != len(f.name) || string(buf[lenLocal:]) != f.name:
			return entryErr(f.name, RuleLocalHeader, ErrFormat, fmt.Sprintf("local header names %q", truncate(buf[lenLocal:lenLocal+min(len(f.name), int(le.Uint16(buf[26:])))])))
		case Method(le.Uint16(buf[8:])) != f.method:
			return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header has another compression method")
		case le.Uint16(buf[6:])&flagEncrypted != f.flags&flagEncrypted:
			return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header has other flags")
		case le.Uint16(buf[6:])&0x8 == 0 && le.Uint32(buf[14:]) != f.crc:
			return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header has another CRC-32")
		}
		f.dataOffset = int64(f.offset) + int64(n) + int64(le.Uint16(buf[28:]))
		end := uint64(f.dataOffset) + f.csize
		if end > cdOff {
			return entryErr(f.name, RuleOverlap, ErrFormat, "data runs into the central directory")
		}
		if f.flags&flagDescriptor != 0 {
			next := end + 16
			if i+1 < len(order) {
				next = hint(i + 1)
			}
			n, err := checkDescriptor(w, f, end, next)
			if err != nil {
				return err
			}
			end += n
		}
		prev, prevEnd = f, end
	}
	return nil
}

// checkDescriptor checks the data descriptor that follows f's data at end (flag 8
// of the central header), as archive/zip does when it reads the entry: its CRC-32,
// after an optional signature, must be the central directory's. It returns the
// descriptor's length (the 32-bit form; the sizes in it are not read, as their width
// is ambiguous).
func checkDescriptor(w *window, f *file, end, hint uint64) (uint64, error) {
	k := min(w.limit-end, 16)
	if k < 12 {
		return 0, entryErr(f.name, RuleLocalHeader, ErrFormat, "data descriptor missing")
	}
	b, err := w.read(end, int(k), hint)
	if err != nil {
		return 0, entryErr(f.name, RuleLocalHeader, ErrFormat, "reading the data descriptor: "+err.Error())
	}
	le := binary.LittleEndian
	crc, n := le.Uint32(b), uint64(12)
	if crc == sigDescriptor {
		if k < 16 {
			return 0, entryErr(f.name, RuleLocalHeader, ErrFormat, "data descriptor truncated")
		}
		crc, n = le.Uint32(b[4:]), 16
	}
	if crc != f.crc {
		return 0, entryErr(f.name, RuleLocalHeader, ErrFormat, fmt.Sprintf("data descriptor has CRC-32 %08x, %08x in the central directory", crc, f.crc))
	}
	return n, nil
}

// windowSize bounds the reads of checkLocal's window.
const windowSize = 256 << 10

// headerEnd is where f's local header (without its extra field) ends, plus room for
// the data descriptor of the entry before.
func headerEnd(f *file) uint64 { return f.offset + lenLocal + uint64(len(f.name)) }

// window serves the small reads of local headers and data descriptors from one
// buffer refilled by reads of up to windowSize bytes, so that checking the 30,000
// local headers of a pack of small files takes a few hundred reads, not 60,000.
type window struct {
	r     io.ReaderAt
	limit uint64 // reads stop here (the central directory)
	off   uint64 // offset of buf
	buf   []byte
}

// read returns the n bytes at off (off+n <= limit), refilling the buffer from off
// up to end when they are not in it.
func (w *window) read(off uint64, n int, end uint64) ([]byte, error) {
	if off >= w.off && off+uint64(n) <= w.off+uint64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+uint64(n)], nil
	}
	size := max(uint64(n), min(end, w.limit)-min(off, end, w.limit))
	w.buf = slices.Grow(w.buf[:0], int(size))[:size]
	w.off = off
	if _, err := w.r.ReadAt(w.buf, int64(off)); err != nil {
		w.buf = w.buf[:0]
		return nil, err
	}
	return w.buf[:n], nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// readLink reads and checks a link's target (small: checkEntry bounded it).
func (a *archive) readLink(f *file) error {
	d := &decoders{}
	defer d.close()
	src, err := d.open(a, f, bufio.NewReaderSize(nil, 4096))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(src, maxLinkTarget+1))
	if err != nil {
		return entryErr(f.name, RuleLink, ErrFormat, "reading the link target: "+err.Error())
	}
	if uint64(len(b)) != f.usize {
		return entryErr(f.name, RuleSize, ErrFormat, fmt.Sprintf("link target is %d bytes, %d declared", len(b), f.usize))
	}
	if crc32.ChecksumIEEE(b) != f.crc {
		return entryErr(f.name, RuleCRC, ErrChecksum, "link target does not match its CRC-32")
	}
	f.link = string(b)
	return nil
}
