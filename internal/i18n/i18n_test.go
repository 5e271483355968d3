package i18n

import (
	"testing"
	"time"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		accept  string
		choices []string
		want    Lang
	}{
		{"", nil, English},
		{"fr-FR,fr;q=0.9,en;q=0.8", nil, French},
		{"fr-CA", nil, French},
		{"de-DE,fr;q=0.5", nil, French},
		{"de-DE", nil, English},
		{"en-GB,fr;q=0.9", nil, English},
		{"fr", []string{"", "en"}, English},
		{"en", []string{"fr", "en"}, French},
		{"en", []string{"de", ""}, English},
		{"garbage;;;q=x", nil, English},
	} {
		if got := Negotiate(tt.accept, tt.choices...); got != tt.want {
			t.Errorf("Negotiate(%q, %q) = %s, want %s", tt.accept, tt.choices, got, tt.want)
		}
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 12, 7, 6, 30, 0, 0, time.UTC)
	if got := FormatTime(French, when); got != "07/12/2026 06:30:00 UTC" {
		t.Errorf("FormatTime(fr) = %q", got)
	}
	if got := FormatTime(English, when); got != "2026-12-07 06:30:00 UTC" {
		t.Errorf("FormatTime(en) = %q", got)
	}
	for _, tt := range []struct {
		l    Lang
		n    int64
		want string
	}{{English, 512, "512 B"}, {French, 512, "512 o"}, {English, 3 << 19, "1.5 MiB"}, {French, 3 << 19, "1,5 Mio"}, {French, 5 << 30, "5,0 Gio"}} {
		if got := FormatSize(tt.l, tt.n); got != tt.want {
			t.Errorf("FormatSize(%s, %d) = %q, want %q", tt.l, tt.n, got, tt.want)
		}
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	c := Catalog{"Install {0}": "Installer {0}", "Up to date": "À jour"}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if got := c.T(French, "Install {0}", "1.2.0"); got != "Installer 1.2.0" {
		t.Errorf("T = %q", got)
	}
	if got := c.T(English, "Install {0}", "1.2.0"); got != "Install 1.2.0" {
		t.Errorf("T = %q", got)
	}
	if err := (Catalog{"Install {0}": "Installer", "A": ""}).Check(); err == nil {
		t.Error("a lost placeholder and an empty French pass Check")
	}
}

// FuzzNegotiate: whatever header comes, a language of the pages comes out.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"fr-FR,fr;q=0.9", "en", "", "*", "de;q=0", "fr;q=1.5, en;q=abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if l := Negotiate(accept); l != English && l != French {
			t.Fatalf("Negotiate(%q) = %q", accept, l)
		}
	})
}
