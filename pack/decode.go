package pack

import (
	"bufio"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// maxZstdWindow bounds the memory a zstd entry may ask a decoder for. Packs built by
// this package use an 8 MiB window.
const maxZstdWindow = 32 << 20

// decoders holds one worker's reusable decompressors.
type decoders struct {
	flate io.ReadCloser
	zstd  *zstd.Decoder

	// crcChecked: the caller checks each entry's CRC-32 against its output, so a
	// zstd frame's own checksum (xxhash64 of the same bytes) is not verified; the
	// second pass cost 8 % of a zstd extraction's CPU time. Callers that do not
	// check the CRC-32 (a delta's listing) keep the frame's checksum.
	crcChecked bool
}

// open returns a reader of f's decompressed data, reading through br (reset here).
func (d *decoders) open(a *archive, f *file, br *bufio.Reader) (io.Reader, error) {
	br.Reset(io.NewSectionReader(a.r, f.dataOffset, int64(f.csize)))
	return d.openReader(f, br)
}

// openReader returns a reader of f's decompressed data, whose compressed bytes src
// yields (an io.ByteReader, such as a *bufio.Reader or a *bytes.Reader, spares the
// deflate decoder a buffer of its own).
func (d *decoders) openReader(f *file, src io.Reader) (io.Reader, error) {
	switch f.method {
	case Store:
		return src, nil
	case Deflate:
		if d.flate == nil {
			d.flate = flate.NewReader(src)
		} else if err := d.flate.(flate.Resetter).Reset(src, nil); err != nil {
			return nil, entryErr(f.name, RuleStructure, ErrFormat, err.Error())
		}
		return d.flate, nil
	case Zstd:
		if d.zstd == nil {
			z, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderLowmem(true), zstd.IgnoreChecksum(d.crcChecked))
			if err != nil {
				return nil, entryErr(f.name, RuleStructure, ErrFormat, err.Error())
			}
			d.zstd = z
		} else if err := d.zstd.Reset(src); err != nil {
			return nil, entryErr(f.name, RuleStructure, ErrFormat, err.Error())
		}
		return d.zstd, nil
	}
	return nil, entryErr(f.name, RuleMethod, ErrUnsupported, "compression method "+f.method.String())
}

func (d *decoders) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}
