// Package i18n chooses the language of upkeep's pages (English or French) and writes
// their messages, dates and sizes in it. Messages are keyed by their English text: a
// Catalog holds the French of each, and a page's test checks that every message it
// uses has its French and that the catalog holds no message no page uses.
//
// The language is chosen, in this order, by a person's explicit choice (the switch on
// the page), the configuration's "lang", the browser's Accept-Language (matched with
// golang.org/x/text/language), and English.
package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Lang is a language the pages are written in.
type Lang string

// The languages of the pages.
const (
	English Lang = "en"
	French  Lang = "fr"
)

// Langs are the languages the pages exist in, English first (the default).
var Langs = []Lang{English, French}

// Choice is one entry of a page's language switch: a language, named in itself, and
// whether the page is shown in it.
type Choice struct {
	Code    Lang
	Name    string
	Current bool
}

// Choices is the language switch of a page shown in cur: every language of Langs.
func Choices(cur Lang) []Choice {
	names := map[Lang]string{English: "English", French: "Français"}
	out := make([]Choice, len(Langs))
	for i, l := range Langs {
		out[i] = Choice{Code: l, Name: names[l], Current: l == cur}
	}
	return out
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.French})

// Parse returns the Lang s names ("en", "fr"), and whether it names one.
func Parse(s string) (Lang, bool) {
	switch Lang(s) {
	case English, French:
		return Lang(s), true
	}
	return "", false
}

// Negotiate returns the language of a page: the first of choices that names one
// (a person's switch, then the configuration's lang; "" is no choice), else the best
// match of the Accept-Language header, else English.
func Negotiate(acceptLanguage string, choices ...string) Lang {
	for _, c := range choices {
		if l, ok := Parse(c); ok {
			return l
		}
	}
	if acceptLanguage == "" {
		return English
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return English
	}
	return Langs[i]
}

// Catalog maps each message's English text to its French. A message may hold
// placeholders {0}, {1}… that T fills in order.
type Catalog map[string]string

// T returns msg in l with its placeholders filled by args. A message the catalog
// lacks is written in English.
func (c Catalog) T(l Lang, msg string, args ...any) string {
	if l == French {
		if fr, ok := c[msg]; ok {
			msg = fr
		}
	}
	for i, a := range args {
		msg = strings.ReplaceAll(msg, "{"+strconv.Itoa(i)+"}", fmt.Sprint(a))
	}
	return msg
}

// For returns the messages a page's script needs in l: the catalog itself for
// French, nothing for English (the keys are the English).
func (c Catalog) For(l Lang) map[string]string {
	if l == French {
		return c
	}
	return map[string]string{}
}

// Check returns an error naming each message whose French is empty or does not
// hold the same placeholders as its English.
func (c Catalog) Check() error {
	var bad []string
	for en, fr := range c {
		if strings.TrimSpace(fr) == "" {
			bad = append(bad, fmt.Sprintf("%q: no French", en))
			continue
		}
		for i := 0; i < 10; i++ {
			p := "{" + strconv.Itoa(i) + "}"
			if strings.Contains(en, p) != strings.Contains(fr, p) {
				bad = append(bad, fmt.Sprintf("%q: placeholder %s in one language only", en, p))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("i18n: %s", strings.Join(bad, "; "))
	}
	return nil
}

// FormatTime writes t in UTC as people of l write a date and time:
// "2026-12-07 06:30:00 UTC", "07/12/2026 06:30:00 UTC".
func FormatTime(l Lang, t time.Time) string {
	if l == French {
		return t.UTC().Format("02/01/2006 15:04:05 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// FormatSize writes n bytes in binary units as people of l write them: "1.5 MiB",
// "1,5 Mio".
func FormatSize(l Lang, n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	if l == French {
		units = []string{"o", "Kio", "Mio", "Gio", "Tio"}
	}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d %s", n, units[0])
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if l == French {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + " " + units[i]
}
