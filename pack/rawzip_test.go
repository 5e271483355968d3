package pack

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io/fs"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// rawEntry is one entry of a hand-made zip: the tests write the bytes themselves to
// produce what no well-behaved writer would (lying sizes, overlapping data, local
// headers that disagree with the central directory).
type rawEntry struct {
	name      string
	localName string // name in the local header; "" means name
	method    uint16
	flags     uint16
	data      []byte // bytes as stored (already compressed)
	crc       uint32
	csize     uint64
	usize     uint64
	mode      fs.FileMode // stored as Unix mode
	ext       uint32      // external attributes, used when mode is 0 and rawMode is set
	rawMode   bool
	creator   uint16 // high byte of "version made by"; 3 (Unix) when rawMode is false
	inside    int    // >0: no local record of its own, the central header points at
	// the data of entry inside-1 (whose data must embed this entry's local header)
	localMethod *uint16
	comment     string // file comment in the central header
}

// stored returns a stored entry of content with a correct CRC.
func stored(name, content string, mode fs.FileMode) rawEntry {
	return rawEntry{name: name, method: 0, data: []byte(content), crc: crc32.ChecksumIEEE([]byte(content)),
		csize: uint64(len(content)), usize: uint64(len(content)), mode: mode}
}

// deflated returns a deflated entry of content with a correct CRC.
func deflated(name string, content []byte, mode fs.FileMode) rawEntry {
	return deflatedLevel(name, content, mode, 9)
}

// deflatedLevel is deflated at a given level (0 makes stored blocks, fast).
func deflatedLevel(name string, content []byte, mode fs.FileMode, level int) rawEntry {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, level)
	w.Write(content)
	w.Close()
	return rawEntry{name: name, method: 8, data: b.Bytes(), crc: crc32.ChecksumIEEE(content),
		csize: uint64(b.Len()), usize: uint64(len(content)), mode: mode}
}

// zstded returns a zstd entry of content (a frame with its checksum) with a correct
// CRC-32.
func zstded(name string, content []byte) rawEntry {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	data := enc.EncodeAll(content, nil)
	enc.Close()
	return rawEntry{name: name, method: uint16(Zstd), data: data, crc: crc32.ChecksumIEEE(content),
		csize: uint64(len(data)), usize: uint64(len(content)), mode: 0o644}
}

// localHeader returns the local file header of e.
func localHeader(e rawEntry) []byte {
	name := e.name
	if e.localName != "" {
		name = e.localName
	}
	method := e.method
	if e.localMethod != nil {
		method = *e.localMethod
	}
	b := make([]byte, 30, 30+len(name))
	le := binary.LittleEndian
	le.PutUint32(b, sigLocal)
	le.PutUint16(b[4:], 20)
	le.PutUint16(b[6:], e.flags)
	le.PutUint16(b[8:], method)
	le.PutUint32(b[14:], e.crc)
	le.PutUint32(b[18:], uint32(e.csize))
	le.PutUint32(b[22:], uint32(e.usize))
	le.PutUint16(b[26:], uint16(len(name)))
	return append(b, name...)
}

// unixMode converts a FileMode to the Unix mode bits of external attributes.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	for bit, unix := range map[fs.FileMode]uint32{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if m&bit != 0 {
			u |= unix
		}
	}
	switch {
	case m.IsDir():
		u |= 0x4000
	case m&fs.ModeSymlink != 0:
		u |= 0xa000
	case m&fs.ModeCharDevice != 0:
		u |= 0x2000
	case m&fs.ModeDevice != 0:
		u |= 0x6000
	case m&fs.ModeNamedPipe != 0:
		u |= 0x1000
	case m&fs.ModeSocket != 0:
		u |= 0xc000
	default:
		u |= 0x8000
	}
	return u
}

// rawZip writes entries as a zip file.
func rawZip(entries ...rawEntry) []byte {
	body, cd := rawZipParts(0, entries...)
	return append(append(body, cd...), eocd(len(entries), len(cd), len(body), "")...)
}

// rawZipParts writes entries' local records (as if they started at offset base) and
// their central directory, for tests that assemble zip files from parts.
func rawZipParts(base int, entries ...rawEntry) (body, cd []byte) {
	var out bytes.Buffer
	offsets := make([]uint64, len(entries))
	dataStart := make([]uint64, len(entries))
	for i, e := range entries {
		if e.inside > 0 {
			continue
		}
		offsets[i] = uint64(base + out.Len())
		out.Write(localHeader(e))
		dataStart[i] = uint64(base + out.Len())
		out.Write(e.data)
	}
	for i, e := range entries {
		if e.inside > 0 {
			offsets[i] = dataStart[e.inside-1]
		}
	}
	body = bytes.Clone(out.Bytes())
	out.Reset()
	le := binary.LittleEndian
	for i, e := range entries {
		b := make([]byte, 46)
		le.PutUint32(b, sigCentral)
		creator, ext := uint16(3), unixMode(e.mode)<<16
		if e.rawMode {
			creator, ext = e.creator, e.ext
		}
		le.PutUint16(b[4:], creator<<8|20)
		le.PutUint16(b[6:], 20)
		le.PutUint16(b[8:], e.flags)
		le.PutUint16(b[10:], e.method)
		le.PutUint16(b[14:], 0x21) // 1980-01-01
		le.PutUint32(b[16:], e.crc)
		le.PutUint32(b[20:], uint32(e.csize))
		le.PutUint32(b[24:], uint32(e.usize))
		le.PutUint16(b[28:], uint16(len(e.name)))
		le.PutUint16(b[32:], uint16(len(e.comment)))
		le.PutUint32(b[38:], ext)
		le.PutUint32(b[42:], uint32(offsets[i]))
		out.Write(b)
		out.WriteString(e.name)
		out.WriteString(e.comment)
	}
	return body, out.Bytes()
}

// eocd returns an end of central directory record.
func eocd(count, cdSize, cdOff int, comment string) []byte {
	le := binary.LittleEndian
	end := make([]byte, 22, 22+len(comment))
	le.PutUint32(end, sigEnd)
	le.PutUint16(end[8:], uint16(count))
	le.PutUint16(end[10:], uint16(count))
	le.PutUint32(end[12:], uint32(cdSize))
	le.PutUint32(end[16:], uint32(cdOff))
	le.PutUint16(end[20:], uint16(len(comment)))
	return append(end, comment...)
}
