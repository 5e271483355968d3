package pack

import (
	"encoding/binary"
	"math/rand/v2"
)

// binaryLikePair returns n bytes that compress like an executable (code-like
// sequences drawn from a vocabulary, tables of growing little-endian pointers, text,
// some random bytes) and a copy with pct percent of its bytes edited at scattered
// places (runs of 1 to 8 bytes replaced, and one edit in a hundred inserting or
// removing a few bytes).
func binaryLikePair(n, pct int) (old, cur []byte) {
	r := rand.New(rand.NewPCG(uint64(n), 23))
	vocab := make([][]byte, 4096)
	for i := range vocab {
		v := make([]byte, 4+r.IntN(28))
		for j := range v {
			v[j] = byte(r.IntN(64)) // a small alphabet, like opcodes and registers
		}
		vocab[i] = v
	}
	words := []string{"runtime.", "error", "main.", "sync.(*Mutex).Lock", "http", "json:\"", "0123456789", "type:", "go.shape."}
	old = make([]byte, 0, n+64)
	ptr := uint64(0x400000)
	for len(old) < n {
		switch k := r.IntN(100); {
		case k < 70: // code
			for range 8 + r.IntN(32) {
				old = append(old, vocab[int(r.ExpFloat64()*300)%len(vocab)]...)
			}
		case k < 85: // a table of pointers
			for range 4 + r.IntN(28) {
				ptr += uint64(16 + 8*r.IntN(8))
				old = binary.LittleEndian.AppendUint64(old, ptr)
			}
		case k < 95: // strings
			for range 4 + r.IntN(12) {
				old = append(old, words[r.IntN(len(words))]...)
			}
		default: // random data
			for range 16 + r.IntN(240) {
				old = append(old, byte(r.Uint32()))
			}
		}
	}
	old = old[:n]
	cur = make([]byte, 0, n+n/100)
	edits := n * pct / 100 / 4 // runs of 4 bytes on average
	gap := n / max(edits, 1)
	for i := 0; i < n; {
		next := min(n, i+r.IntN(2*gap))
		cur = append(cur, old[i:next]...)
		i = next
		if i >= n {
			break
		}
		run := 1 + r.IntN(7)
		switch r.IntN(100) {
		case 0: // insert
			for range run {
				cur = append(cur, byte(r.Uint32()))
			}
		case 1: // remove
			i += run
		default: // replace
			for j := 0; j < run && i < n; j++ {
				cur = append(cur, byte(r.Uint32()))
				i++
			}
		}
	}
	return old, cur
}
