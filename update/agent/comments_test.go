package agent

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestBlankComments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`{"a": 1}`, `{"a": 1}`},
		{"{\"a\": 1} // one\n", "{\"a\": 1}       \n"},
		{"{\"u\": \"http://x//y\"} // c\r\n", "{\"u\": \"http://x//y\"}     \r\n"},
		{`{"q": "a\"//b"}`, `{"q": "a\"//b"}`},
		{"// all\n{}", "      \n{}"},
	} {
		got := blankComments([]byte(tt.in))
		if string(got) != tt.want {
			t.Errorf("blankComments(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzBlankComments: the output has every byte at its offset (same length, same
// newlines), blanking twice changes nothing more, the input is not changed, and a
// valid JSON document without "//" outside strings comes out unchanged.
func FuzzBlankComments(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "{\"a\":1} // x\n", `{"s":"//"}`, `"\\"//`, "//\n//\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out := blankComments(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("input changed")
		}
		if len(out) != len(in) || bytes.Count(out, []byte("\n")) != bytes.Count(in, []byte("\n")) {
			t.Fatalf("offsets moved: %q -> %q", in, out)
		}
		if again := blankComments(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if json.Valid(in) && !bytes.Equal(out, in) {
			// A valid document holds "//" only inside strings.
			t.Fatalf("valid JSON changed: %q -> %q", in, out)
		}
	})
}
