package dbscript_test

import (
	"strings"
	"testing"

	"github.com/upkeep-go/upkeep/update/dbscript"
)

// FuzzParseScript checks that splitting never loses text: every statement is a piece
// of the file, in order, on the line it says.
func FuzzParseScript(f *testing.F) {
	for _, s := range scripts {
		for _, text := range s.sql {
			f.Add([]byte(text))
		}
	}
	f.Add([]byte("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementEnd\n"))
	f.Add([]byte("SELECT $a$;$a$; SELECT 'x''y;'; /* ; */ SELECT E'\\';'"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := dbscript.ParseScript("0001_f.sql", b)
		if err != nil {
			return
		}
		text := string(b)
		if strings.Contains(text, "-- +goose") {
			return
		}
		at := 0
		for _, st := range s.Statements {
			i := strings.Index(text[at:], st.SQL)
			if i < 0 {
				t.Fatalf("statement %q not found in order in %q", st.SQL, text)
			}
			lead := len(st.SQL) - len(strings.TrimLeft(st.SQL, " \t\r\n"))
			if want := 1 + strings.Count(text[:at+i+lead], "\n"); st.Line < want {
				t.Fatalf("statement %q says line %d, starts at line %d or later", st.SQL, st.Line, want)
			}
			at += i + len(st.SQL)
		}
	})
}

// FuzzParseListings checks that a listings.json ParseListings accepts writes back to
// bytes it reads as the same listings, and that rebuilding a listing never panics.
func FuzzParseListings(f *testing.F) {
	f.Add([]byte(`{"sqlite":{"1":{"set":[{"kind":"table","name":"t","definition":""}],"drop":[]},"2":{"set":[],"drop":["table t"]}}}`))
	f.Add([]byte(`{"postgres":{"1":{"set":[{"kind":"materialized view","name":"m","table":"","definition":"SELECT 1"}],"drop":["view v"]}}}`))
	f.Add([]byte(`{"mysql":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := dbscript.ParseListings(b)
		if err != nil {
			return
		}
		out, err := l.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := dbscript.ParseListings(out)
		if err != nil {
			t.Fatalf("written listings do not parse: %v\n%s", err, out)
		}
		for d, byNum := range l {
			for n := range byNum {
				a, err1 := l.Listing(d, n)
				b, err2 := again.Listing(d, n)
				if err1 != nil || err2 != nil || a.Fingerprint != b.Fingerprint {
					t.Fatalf("%s %d: %v %v", d, n, err1, err2)
				}
			}
		}
	})
}
