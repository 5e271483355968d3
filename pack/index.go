package pack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Index is a pack's central directory, read without the pack's data: it locates a
// file's entry so that [Index.CopyEntry] reads that entry alone. It serves packs
// fetched in parts (an io.ReaderAt backed by HTTP Range requests): reading one file
// costs the pack's tail, its central directory and that file's bytes, never the
// whole pack.
//
// An Index checks the central directory's structure and each entry's own rules
// (names, sizes against [Limits], methods, encryption), but not the rules that need
// every local header (overlaps, data running into the central directory are only
// checked for the entries read): a pack read this way is trusted through the hashes
// its caller holds for the files it reads, not through its signature, which needs
// the whole pack.
type Index struct {
	r      io.ReaderAt
	size   int64
	cdOff  uint64
	limits Limits
	byName map[string]*file
}

// indexReadSize bounds one read of [Index]: the central directory is read, and an
// entry's data decompressed, through buffers of this size.
const indexReadSize = 1 << 20

// ReadIndex reads the central directory of the pack in r (size bytes): the end of
// central directory record (its last 22 bytes, or when the pack has a comment,
// within its last 64 KiB), and the central directory through 1 MiB reads. Only [WithLimits] applies.
func ReadIndex(r io.ReaderAt, size int64, opts ...Option) (*Index, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	lim := o.limits
	if size < lenEnd {
		return nil, formatErr("", "too short for a zip file")
	}
	// A pack without a comment (as Build writes them) ends with the record: one small
	// read finds it. Others are searched for as openArchive does.
	cdOff, cdSize, count, cdEnd, err := readEndWithin(r, size, lenEnd)
	if err != nil {
		if cdOff, cdSize, count, cdEnd, err = readEnd(r, size); err != nil {
			return nil, err
		}
	}
	if count > uint64(lim.MaxFiles) {
		return nil, entryErr("", RuleMaxFiles, ErrLimit, fmt.Sprintf("%d entries, more than %d", count, lim.MaxFiles))
	}
	if cdOff+cdSize != cdEnd || count*lenCentral > cdSize || cdSize > maxCentralSize {
		return nil, formatErr("", "central directory bounds are inconsistent")
	}
	x := &Index{r: r, size: size, cdOff: cdOff, limits: lim, byName: make(map[string]*file, count)}
	br := bufio.NewReaderSize(io.NewSectionReader(r, int64(cdOff), int64(cdSize)), int(min(cdSize+1, indexReadSize)))
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
		if _, dup := x.byName[f.path]; dup {
			return nil, entryErr(f.name, RuleDuplicate, ErrFormat, "the same name twice")
		}
		x.byName[f.path] = f
	}
	if read != cdSize {
		return nil, formatErr("", fmt.Sprintf("central directory holds %d bytes after its last entry", cdSize-read))
	}
	return x, nil
}

// Entry describes the entry named name (a path without trailing slash).
func (x *Index) Entry(name string) (Entry, bool) {
	f := x.byName[name]
	if f == nil {
		return Entry{}, false
	}
	return Entry{Name: f.name, Size: int64(f.usize), Compressed: int64(f.csize), Mode: f.mode, Method: f.method, ModTime: f.modTime}, true
}

// Len is the number of entries.
func (x *Index) Len() int { return len(x.byName) }

// CopyEntry writes the content of the file entry name to w, reading only its local
// header and its data (one read when both fit in 1 MiB). The local header must agree
// with the central directory, the data must lie before the central directory,
// decompress to the declared size and match the CRC-32; errors are [*EntryError]
// values naming the entry.
func (x *Index) CopyEntry(ctx context.Context, name string, w io.Writer) error {
	f := x.byName[name]
	if f == nil {
		return entryErr(name, RuleStructure, ErrFormat, "no such entry in the pack")
	}
	if f.kind != kindFile {
		return entryErr(f.name, RuleSpecial, ErrFormat, "not a file")
	}
	le := binary.LittleEndian
	head := uint64(lenLocal + len(f.name))
	if f.offset+head > x.cdOff {
		return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header beyond the data area")
	}
	// The extra field's length is only known from the local header: guess a little,
	// so that a small entry comes with its header in one read.
	const extraGuess = 64
	want := head + extraGuess
	if want+f.csize <= indexReadSize {
		want += f.csize
	}
	want = min(want, x.cdOff-f.offset)
	buf := make([]byte, want)
	if _, err := x.r.ReadAt(buf, int64(f.offset)); err != nil && err != io.EOF {
		return entryErr(f.name, RuleLocalHeader, ErrFormat, "reading the local header: "+err.Error())
	}
	switch {
	case le.Uint32(buf) != sigLocal:
		return entryErr(f.name, RuleLocalHeader, ErrFormat, "bad local header signature")
	case int(le.Uint16(buf[26:])) != len(f.name) || string(buf[lenLocal:head]) != f.name:
		return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header names another file")
	case Method(le.Uint16(buf[8:])) != f.method:
		return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header has another compression method")
	case le.Uint16(buf[6:])&flagEncrypted != f.flags&flagEncrypted:
		return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header has other flags")
	case le.Uint16(buf[6:])&flagDescriptor == 0 && le.Uint32(buf[14:]) != f.crc:
		return entryErr(f.name, RuleLocalHeader, ErrFormat, "local header has another CRC-32")
	}
	dataOff := f.offset + head + uint64(le.Uint16(buf[28:]))
	if dataOff+f.csize > x.cdOff {
		return entryErr(f.name, RuleOverlap, ErrFormat, "data runs into the central directory")
	}
	var src io.Reader
	if rel := dataOff - f.offset; rel+f.csize <= uint64(len(buf)) {
		src = bytes.NewReader(buf[rel : rel+f.csize])
	} else {
		src = bufio.NewReaderSize(io.NewSectionReader(x.r, int64(dataOff), int64(f.csize)), int(min(f.csize+1, indexReadSize)))
	}
	var dec decoders
	defer dec.close()
	var data io.Reader
	if f.csize == 0 && f.method == Store {
		data = strings.NewReader("")
	} else {
		var err error
		if data, err = dec.openReader(f, src); err != nil {
			return err
		}
	}
	cb := make([]byte, copyBufSize)
	var n uint64
	var crc uint32
	for {
		k, rerr := io.ReadFull(data, cb)
		if k > 0 {
			n += uint64(k)
			if n > f.usize {
				return tooLong(f)
			}
			crc = crc32.Update(crc, crc32.IEEETable, cb[:k])
			if _, err := w.Write(cb[:k]); err != nil {
				return writeErr(f.name, err)
			}
		}
		if done, err := readDone(ctx, f, rerr); err != nil {
			return err
		} else if done {
			break
		}
	}
	if n != f.usize {
		return entryErr(f.name, RuleSize, ErrFormat, fmt.Sprintf("%d bytes, %d declared", n, f.usize))
	}
	if crc != f.crc {
		return entryErr(f.name, RuleCRC, ErrChecksum, fmt.Sprintf("CRC-32 %08x, %08x declared", crc, f.crc))
	}
	return nil
}
