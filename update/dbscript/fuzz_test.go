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
