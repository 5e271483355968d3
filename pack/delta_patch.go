package pack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/klauspost/compress/zstd"
)

// A patch of the "upkeep-delta/2" format rebuilds a file from its old version (the
// base) with three streams, each one zstd frame:
//
//   - control: a sequence of operations, four uvarints each: sub, ins, seek
//     (zigzag-encoded, signed) and copy. Applied in that order at the base's cursor
//     (which starts at 0): sub bytes are the base's next sub bytes plus as many bytes
//     of the diff stream (byte-wise, modulo 256), the cursor moving past them; ins
//     bytes are copied from the literal stream; the cursor moves by seek; copy bytes
//     are copied from the base at the cursor, which moves past them.
//   - diff: the bytes added to the base's bytes in sub operations.
//   - literal: the inserted bytes.
//
// The patch is a header (patchMagic, then the three frames' sizes as uvarints)
// followed by the frames; an empty stream has no frame (size 0). The build finds the matches itself, over the whole base (a
// hash of every patchStep-th position of the base, a rolling hash over the new file,
// and the previous match's offset tried first at every position), so that a change
// that shifts the rest of a file, or a pointer changed every few hundred bytes, costs
// a few bytes each; zstd then compresses the streams. The base is read at random
// places when applying, never held in memory.
const (
	patchMagic = "UKP2"
	// patchWindow is the window of the streams' zstd frames: it bounds the memory
	// applying a patch takes (three decoders of at most this window).
	patchStreamWindow = 8 << 20
	patchHashLen      = 8  // bytes of a hashed block
	patchMinLen       = 12 // bytes of the shortest match found by the index
	patchRepLen       = 6  // bytes that must match at the previous offset
	patchLongLen      = 64 // a match long enough to take over the previous offset
	patchLookahead    = 16 // bytes within which the previous offset may resume
	patchNear         = 64 // bytes after a match within which nearby offsets are tried
	patchSkipLog      = 10 // without a match, one more byte skipped per KiB…
	patchMaxSkip      = 1  // …up to this many
	// MaxDeltaPatch bounds the files (new and old) a delta patches: larger ones are
	// held whole. Building a patch holds the file, its old version and an index of it
	// in memory.
	MaxDeltaPatch = 256 << 20
)

// errPatch is a patch that does not decode, or does not fit its base.
var errPatch = errors.New("malformed patch")

// patchStep is the spacing of the indexed positions of a base of n bytes: 8, or more
// for bases over 32 MiB, so that the index stays at most a quarter of the base.
func patchStep(n int) int {
	s := 8
	for n/s > 4<<20 {
		s *= 2
	}
	return s
}

const hashPrime = 0x9E3779B97F4A7C15

// patchIndex maps the hash of the patchHashLen bytes at every step-th position of
// old to that position (the first one for equal hashes of a bucket).
type patchIndex struct {
	old   []byte
	table []uint32 // position+1; 0 is empty
	shift uint
	step  int
}

func hashBlock(b []byte) uint64 {
	return binary.LittleEndian.Uint64(b) * hashPrime
}

func newPatchIndex(old []byte) *patchIndex {
	step := patchStep(len(old))
	n := len(old)/step + 1
	bitsN := max(bits.Len(uint(n))+1, 10)
	ix := &patchIndex{old: old, table: make([]uint32, 1<<bitsN), shift: uint(64 - bitsN), step: step}
	for p := 0; p+patchHashLen <= len(old); p += step {
		h := hashBlock(old[p:]) >> ix.shift
		if ix.table[h] == 0 {
			ix.table[h] = uint32(p + 1)
		}
	}
	return ix
}

// patchMatch is a run of the new file found in the old one.
type patchMatch struct{ new, old, n int }

// commonLen returns the length of the common prefix of a and b.
func commonLen(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n {
		x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
		if x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix returns the length of the common suffix of a and b, at most limit.
func commonSuffix(a, b []byte, limit int) int {
	n := 0
	for n < limit && n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

// matches finds the runs of cur that old holds, in order and not overlapping.
func (ix *patchIndex) matches(ctx context.Context, cur []byte) ([]patchMatch, error) {
	old := ix.old
	var out []patchMatch
	delta := 0 // old position minus new position of the last match
	start := 0 // first byte of cur not in a match
	i := 0
	for i+patchHashLen <= len(cur) {
		if i&(1<<20-1) == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		best := patchMatch{}
		// The previous offset first: a changed pointer or string does not move the
		// rest of the file.
		if o := i + delta; o >= 0 && o+patchRepLen <= len(old) &&
			binary.LittleEndian.Uint32(old[o:]) == binary.LittleEndian.Uint32(cur[i:]) {
			if n := commonLen(cur[i:], old[o:]); n >= patchRepLen {
				best = patchMatch{i, o, n}
			}
		}
		// Just after a match, a few bytes inserted or removed: the offset moved by
		// a little.
		if best.n == 0 && i-start < patchNear {
			for d := 1; d <= patchLookahead; d++ {
				for _, o := range [2]int{i + delta + d, i + delta - d} {
					if o >= 0 && o+patchRepLen <= len(old) &&
						binary.LittleEndian.Uint32(old[o:]) == binary.LittleEndian.Uint32(cur[i:]) {
						if n := commonLen(cur[i:], old[o:]); n >= patchMinLen && n > best.n {
							best = patchMatch{i, o, n}
						}
					}
				}
			}
		}
		if p := int(ix.table[hashBlock(cur[i:])>>ix.shift]) - 1; p >= 0 && p-i != delta {
			// A short match elsewhere does not pay when the previous offset resumes
			// a few bytes further (a few bytes replaced): taking it would cost two
			// seeks.
			if n := commonLen(cur[i:], old[p:]); n >= patchMinLen && n > best.n+patchRepLen {
				if best.n > 0 || n < patchLongLen {
					if k, l := repSoon(old, cur, i, delta); best.n > 0 || k > 0 {
						if reach := max(best.n, k+l); n <= reach+patchLongLen/2 {
							n = 0 // the previous offset goes as far, or nearly
						}
					}
				}
				if n > 0 {
					best = patchMatch{i, p, n}
				}
			}
		}
		if best.n == 0 {
			// Far from any match (data new in this version, often compressed), look
			// at fewer positions: a match found later is extended backwards over
			// the bytes skipped.
			i += 1 + min((i-start)>>patchSkipLog, patchMaxSkip)
			continue
		}
		// Extend backwards over the bytes not yet matched.
		back := commonSuffix(cur[start:best.new], old[:best.old], best.new-start)
		best.new, best.old, best.n = best.new-back, best.old-back, best.n+back
		out = append(out, best)
		delta = best.old - best.new
		i = best.new + best.n
		start = i
	}
	// The tail, shorter than a hashed block, may still continue the last offset.
	if i < len(cur) {
		if o := i + delta; o >= 0 && o < len(old) {
			if n := commonLen(cur[i:], old[o:]); n >= patchRepLen {
				out = append(out, patchMatch{i, o, n})
			}
		}
	}
	return out, nil
}

// repSoon returns how many bytes after i cur continues old at the offset delta
// again, and for how long (0, 0 when it does not within patchLookahead bytes).
func repSoon(old, cur []byte, i, delta int) (int, int) {
	for k := 1; k <= patchLookahead; k++ {
		o, j := i+k+delta, i+k
		if o < 0 || o+patchRepLen > len(old) || j+patchRepLen > len(cur) {
			return 0, 0
		}
		if n := commonLen(cur[j:], old[o:]); n >= patchRepLen {
			return k, n
		}
	}
	return 0, 0
}

// patchStreams is a patch before compression.
type patchStreams struct {
	ctrl, diff, lit []byte
}

// encodePatchStreams turns the matches of cur in old into the three streams.
func encodePatchStreams(old, cur []byte, ms []patchMatch) *patchStreams {
	s := &patchStreams{}
	cursor, pos := 0, 0
	op := func(sub, ins, seek, cp int) {
		s.ctrl = binary.AppendUvarint(s.ctrl, uint64(sub))
		s.ctrl = binary.AppendUvarint(s.ctrl, uint64(ins))
		s.ctrl = binary.AppendVarint(s.ctrl, int64(seek))
		s.ctrl = binary.AppendUvarint(s.ctrl, uint64(cp))
	}
	gap := func(end, nextOld int) (sub, ins int) {
		g := end - pos
		if g == 0 {
			return 0, 0
		}
		// Bytes replaced in place (the next match continues at the cursor after
		// them) are held as differences with the base; others are inserted.
		if nextOld-cursor == g || nextOld < 0 && cursor+g <= len(old) {
			for k := range g {
				s.diff = append(s.diff, cur[pos+k]-old[cursor+k])
			}
			return g, 0
		}
		s.lit = append(s.lit, cur[pos:end]...)
		return 0, g
	}
	for _, m := range ms {
		sub, ins := gap(m.new, m.old)
		cursor += sub
		op(sub, ins, m.old-cursor, m.n)
		cursor, pos = m.old+m.n, m.new+m.n
	}
	if pos < len(cur) {
		sub, ins := gap(len(cur), -1)
		op(sub, ins, 0, 0)
	}
	return s
}

// patchEncoder builds patches; one per worker.
type patchEncoder struct {
	enc *zstd.Encoder
}

func (pe *patchEncoder) close() {
	if pe.enc != nil {
		pe.enc.Close()
	}
}

// encode returns the patch that rebuilds cur from old.
func (pe *patchEncoder) encode(ctx context.Context, old, cur []byte) ([]byte, error) {
	ix := newPatchIndex(old)
	ms, err := ix.matches(ctx, cur)
	if err != nil {
		return nil, err
	}
	s := encodePatchStreams(old, cur, ms)
	if pe.enc == nil {
		if pe.enc, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithWindowSize(patchStreamWindow), zstd.WithEncoderCRC(false)); err != nil {
			return nil, err
		}
	}
	frames := make([][]byte, 3)
	for k, b := range [][]byte{s.ctrl, s.diff, s.lit} {
		if len(b) > 0 { // an empty stream is no frame at all
			frames[k] = pe.enc.EncodeAll(b, nil)
		}
	}
	out := []byte(patchMagic)
	for _, f := range frames {
		out = binary.AppendUvarint(out, uint64(len(f)))
	}
	for _, f := range frames {
		out = append(out, f...)
	}
	return out, nil
}

// patchDecoder applies patches; one per worker, its three zstd decoders reused.
type patchDecoder struct {
	dec [3]*zstd.Decoder
	br  [3]*bufio.Reader
	buf []byte // for the base's bytes
	tmp []byte // for the diff's bytes
}

func (pd *patchDecoder) close() {
	for _, d := range pd.dec {
		if d != nil {
			d.Close()
		}
	}
}

// apply writes to out the file the patch (psize bytes at r) rebuilds from base
// (baseSize bytes). Errors wrap errPatch when the patch is malformed or does not fit
// the base; out's errors are returned as they are.
func (pd *patchDecoder) apply(ctx context.Context, r io.ReaderAt, psize int64, base io.ReaderAt, baseSize int64, out io.Writer) error {
	hdr := make([]byte, len(patchMagic)+3*binary.MaxVarintLen64)
	n, _ := r.ReadAt(hdr[:min(int64(len(hdr)), psize)], 0)
	hdr = hdr[:n]
	if !bytes.HasPrefix(hdr, []byte(patchMagic)) {
		return fmt.Errorf("%w: no %q header", errPatch, patchMagic)
	}
	off := len(patchMagic)
	var sizes [3]int64
	for k := range sizes {
		v, m := binary.Uvarint(hdr[off:])
		if m <= 0 || v > uint64(psize) {
			return fmt.Errorf("%w: bad stream size", errPatch)
		}
		sizes[k], off = int64(v), off+m
	}
	at := int64(off)
	var rd [3]io.Reader
	for k := range sizes {
		if at+sizes[k] > psize {
			return fmt.Errorf("%w: streams run past the patch", errPatch)
		}
		src := io.NewSectionReader(r, at, sizes[k])
		at += sizes[k]
		if sizes[k] == 0 {
			rd[k] = src // empty
			continue
		}
		if pd.br[k] == nil {
			pd.br[k] = bufio.NewReaderSize(src, 32<<10)
		} else {
			pd.br[k].Reset(src)
		}
		var err error
		if pd.dec[k] == nil {
			pd.dec[k], err = zstd.NewReader(pd.br[k], zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(patchStreamWindow))
		} else {
			err = pd.dec[k].Reset(pd.br[k])
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errPatch, err)
		}
		rd[k] = pd.dec[k]
	}
	if at != psize {
		return fmt.Errorf("%w: %d bytes after the streams", errPatch, psize-at)
	}
	ctrl := bufio.NewReaderSize(rd[0], 4<<10)
	if pd.buf == nil {
		pd.buf, pd.tmp = make([]byte, 64<<10), make([]byte, 64<<10)
	}
	var cursor int64
	uv := func() (int64, error) {
		v, err := binary.ReadUvarint(ctrl)
		if err != nil || v > 1<<62 {
			return 0, fmt.Errorf("%w: control: %v", errPatch, err)
		}
		return int64(v), nil
	}
	// fromBase writes n bytes of the base at the cursor, plus the diff's when diff.
	fromBase := func(n int64, diff bool) error {
		if n > baseSize-cursor {
			return fmt.Errorf("%w: reads past the base's %d bytes", errPatch, baseSize)
		}
		for n > 0 {
			k := int(min(n, int64(len(pd.buf))))
			if _, err := base.ReadAt(pd.buf[:k], cursor); err != nil {
				return &errBaseMismatch{"reading the base file: " + err.Error()}
			}
			if diff {
				if _, err := io.ReadFull(rd[1], pd.tmp[:k]); err != nil {
					return fmt.Errorf("%w: diff stream: %v", errPatch, err)
				}
				for j, d := range pd.tmp[:k] {
					pd.buf[j] += d
				}
			}
			if _, err := out.Write(pd.buf[:k]); err != nil {
				return err
			}
			cursor += int64(k)
			n -= int64(k)
		}
		return nil
	}
	for ops := 0; ; ops++ {
		if ops&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if _, err := ctrl.Peek(1); err == io.EOF {
			break
		}
		sub, err := uv()
		if err != nil {
			return err
		}
		ins, err := uv()
		if err != nil {
			return err
		}
		seek, err := binary.ReadVarint(ctrl)
		if err != nil {
			return fmt.Errorf("%w: control: %v", errPatch, err)
		}
		cp, err := uv()
		if err != nil {
			return err
		}
		if err := fromBase(sub, true); err != nil {
			return err
		}
		for ins > 0 {
			k := int(min(ins, int64(len(pd.buf))))
			if _, err := io.ReadFull(rd[2], pd.buf[:k]); err != nil {
				return fmt.Errorf("%w: literal stream: %v", errPatch, err)
			}
			if _, err := out.Write(pd.buf[:k]); err != nil {
				return err
			}
			ins -= int64(k)
		}
		if seek < -cursor || seek > baseSize-cursor {
			return fmt.Errorf("%w: seeks outside the base", errPatch)
		}
		cursor += seek
		if err := fromBase(cp, false); err != nil {
			return err
		}
	}
	for k := 1; k < 3; k++ {
		switch n, err := io.ReadFull(rd[k], pd.buf[:1]); {
		case n > 0:
			return fmt.Errorf("%w: data left in stream %d", errPatch, k)
		case err != io.EOF:
			return fmt.Errorf("%w: stream %d: %v", errPatch, k, err)
		}
	}
	return nil
}
