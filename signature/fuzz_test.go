package signature

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seed adds every testdata/minisign file whose name matches one of the patterns.
func seed(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		names, err := filepath.Glob(filepath.Join("testdata", "minisign", p))
		if err != nil {
			f.Fatal(err)
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzParseSignatures: any signature file either fails to parse with ErrMalformed or
// parses into blocks that re-encode to a file parsing to the same blocks; verifying it
// never panics.
func FuzzParseSignatures(f *testing.F) {
	seed(f, "*.minisig")
	keys, err := ParsePublicKeys(func() []byte { b, _ := os.ReadFile("testdata/minisign/abc.pub"); return b }())
	if err != nil {
		f.Fatal(err)
	}
	kr, err := NewKeyring(keys, WithLegacy(true))
	if err != nil {
		f.Fatal(err)
	}
	msg, err := os.ReadFile("testdata/minisign/message.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks, err := parseSignatures("fuzz", data)
		if err != nil {
			if _, err := kr.NewVerifier("fuzz", data); err == nil {
				t.Fatal("NewVerifier accepts what parseSignatures refuses")
			}
			return
		}
		var again []byte
		for _, b := range blocks {
			text, err := b.sig.MarshalText()
			if err != nil {
				t.Fatalf("parsed block does not re-encode: %v", err)
			}
			again = append(again, text...)
		}
		blocks2, err := parseSignatures("fuzz", again)
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v\n%s", err, again)
		}
		if len(blocks2) != len(blocks) {
			t.Fatalf("%d blocks, then %d", len(blocks), len(blocks2))
		}
		for i := range blocks {
			if !blocks[i].sig.Equal(blocks2[i].sig) {
				t.Fatalf("block %d changed in a round trip", i)
			}
		}
		_, _ = kr.Verify("fuzz", data, bytes.NewReader(msg))
	})
}

// FuzzParsePublicKeys: parsed keys re-encode to text that parses to the same keys.
func FuzzParsePublicKeys(f *testing.F) {
	seed(f, "*.pub")
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParsePublicKeys(data)
		if err != nil {
			return
		}
		var text []byte
		for _, k := range keys {
			b, err := k.MarshalText()
			if err != nil {
				continue // the all-zero key
			}
			text = append(text, b...)
		}
		if len(text) == 0 {
			return
		}
		again, err := ParsePublicKeys(text)
		if err != nil {
			t.Fatalf("re-encoded keys do not parse: %v", err)
		}
		i := 0
		for _, k := range keys {
			if k == (PublicKey{}) {
				continue
			}
			if again[i] != k {
				t.Fatalf("key %d changed in a round trip", i)
			}
			i++
		}
	})
}

// FuzzParsePrivateKey: a parsed secret key re-encodes (unencrypted) to a file that
// parses to the same key. Encrypted keys are parsed without a password, so that the
// fuzzer does not spend its time in scrypt.
func FuzzParsePrivateKey(f *testing.F) {
	seed(f, "*.key")
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKey(data, "")
		if err != nil {
			return
		}
		text, err := MarshalPrivateKey(k, "")
		if err != nil {
			t.Fatalf("parsed key does not re-encode: %v", err)
		}
		k2, err := ParsePrivateKey(text, "")
		if err != nil {
			t.Fatalf("re-encoded key does not parse: %v", err)
		}
		if k2.ID() != k.ID() || !bytes.Equal(k2.key, k.key) || k2.Public() != k.Public() {
			t.Fatal("key changed in a round trip")
		}
	})
}
