package signature

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzParseKeySet: any input either fails with ErrMalformed or parses into a key set
// that marshals to bytes parsing to the same key set; verifying it never panics.
func FuzzParseKeySet(f *testing.F) {
	r, a := genPair(f), genPair(f)
	ks := &KeySet{Version: 2, Roots: pubs(r), RootThreshold: 1,
		Keys: []ValidKey{{Key: a.pub, NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}, Revoked: []KeyID{42}}
	data, sig := signKeySet(f, ks, r)
	f.Add(data)
	f.Add([]byte(`{"schema":1,"version":1,"root_threshold":1,"roots":[],"keys":[]}`))
	roots := rootRing(f, 1, r)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseKeySet(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		out, err := got.Marshal()
		if err != nil {
			t.Fatalf("a parsed key set does not marshal: %v", err)
		}
		again, err := ParseKeySet(out)
		if err != nil {
			t.Fatalf("marshalled key set does not parse: %v\n%s", err, out)
		}
		out2, _ := again.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
		VerifyKeySet(b, sig, roots)
		got.Signing(time.Now(), got.Revoked)
	})
}
