package signature

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// BenchmarkVerify measures verification throughput over 64 MiB beside SHA-256 of the
// same bytes (the baseline a download already pays to check the manifest's sha256).
func BenchmarkVerify(b *testing.B) {
	const size = 64 << 20
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	pub, priv, err := GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	sig, err := Sign(priv, bytes.NewReader(msg), "bench")
	if err != nil {
		b.Fatal(err)
	}
	kr, err := NewKeyring([]PublicKey{pub})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			h := sha256.New()
			if _, err := io.Copy(h, bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
			h.Sum(nil)
		}
	})
	// The floor: minisign's prehash, which verification cannot beat.
	b.Run("blake2b-512", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			h, _ := blake2b.New512(nil)
			if _, err := io.Copy(h, bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
			h.Sum(nil)
		}
	})
	b.Run("verify-reader", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := kr.Verify("bench", sig, bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify-writer-32KiB", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			v, err := kr.NewVerifier("bench", sig)
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < size; off += 32 << 10 {
				v.Write(msg[off : off+32<<10])
			}
			if _, err := v.Verify(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sign", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Sign(priv, bytes.NewReader(msg), "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
