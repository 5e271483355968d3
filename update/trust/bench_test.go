package trust_test

import (
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/trust"
)

// BenchmarkPackCheck measures the streamed pack check (SHA-256 here, the signature's
// BLAKE2b-512 prehash in its own goroutine) against SHA-256 alone, the least any
// check of the manifest's digest costs.
func BenchmarkPackCheck(b *testing.B) {
	k := newKey(b)
	keys := trust.Pinned(ring(b, 1, k))
	body := make([]byte, 16<<20)
	rand.Read(body)
	bind := signature.Binding{File: "web.zip", Module: "web", Version: "1.0.0", Platform: "linux/amd64"}
	comment, _ := bind.TrustedComment(time.Now())
	sig := sign(b, body, comment, k)
	p := trust.Pack{Binding: bind, Size: int64(len(body)), SHA256: hexSHA(body)}
	const chunk = 256 << 10
	b.Run("trust", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			c, err := trust.NewPackCheck(keys, p, sig)
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < len(body); off += chunk {
				c.Write(body[off:min(off+chunk, len(body))])
			}
			if _, err := c.Accept(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sha256-only", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			h := sha256.New()
			for off := 0; off < len(body); off += chunk {
				h.Write(body[off:min(off+chunk, len(body))])
			}
			h.Sum(nil)
		}
	})
}
