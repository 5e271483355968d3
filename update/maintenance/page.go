package maintenance

import (
	"html"
	"strconv"
	"strings"

	"github.com/upkeep-go/upkeep/internal/i18n"
)

// maxReason bounds the reason shown on a page, so that a flag file stays small.
const maxReason = 1000

// pageMessages are the French of the built-in page's messages.
var pageMessages = i18n.Catalog{
	"Maintenance in progress":                              "Maintenance en cours",
	"This service is being updated. Please try again {0}.": "Ce service est en cours de mise à jour. Merci de réessayer {0}.",
	"shortly":      "dans quelques instants",
	"in about {0}": "dans {0} environ",
	"a minute":     "une minute",
	"{0} minutes":  "{0} minutes",
	"a second":     "une seconde",
	"{0} seconds":  "{0} secondes",
}

// renderPage returns the built-in maintenance page in the languages langs (the first
// is the page's; a flag file, which a web server serves to everyone as it is, holds
// both). first, when not empty, is written before everything else (the flag marker).
// retryAfter <= 0 leaves out the refresh.
func renderPage(reason string, retryAfter int, first string, langs ...i18n.Lang) []byte {
	if len(langs) == 0 {
		langs = []i18n.Lang{i18n.English}
	}
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "") + "…"
	}
	t := pageMessages.T
	var b strings.Builder
	b.WriteString(first)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"" + string(langs[0]) + "\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	if retryAfter > 0 {
		b.WriteString(`<meta http-equiv="refresh" content="` + strconv.Itoa(retryAfter) + `">` + "\n")
	}
	b.WriteString("<title>" + t(langs[0], "Maintenance in progress") + "</title>\n")
	b.WriteString("<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}section+section{margin-top:2em;border-top:1px solid #ccc}</style>\n</head>\n<body>\n")
	for i, l := range langs {
		when := t(l, "shortly")
		if retryAfter > 0 {
			when = t(l, "in about {0}", humanSeconds(l, retryAfter))
		}
		if len(langs) > 1 {
			b.WriteString("<section lang=\"" + string(l) + "\">\n")
		}
		tag := "h1"
		if i > 0 {
			tag = "h2"
		}
		b.WriteString("<" + tag + ">" + t(l, "Maintenance in progress") + "</" + tag + ">\n")
		b.WriteString("<p>" + t(l, "This service is being updated. Please try again {0}.", when) + "</p>\n")
		if reason != "" && i == 0 {
			b.WriteString("<p>" + html.EscapeString(reason) + "</p>\n")
		}
		if len(langs) > 1 {
			b.WriteString("</section>\n")
		}
	}
	b.WriteString("</body>\n</html>\n")
	return []byte(b.String())
}

// humanSeconds writes a delay in seconds as minutes when it is a whole number of them.
func humanSeconds(l i18n.Lang, s int) string {
	t := pageMessages.T
	switch {
	case s == 60:
		return t(l, "a minute")
	case s%60 == 0:
		return t(l, "{0} minutes", s/60)
	case s == 1:
		return t(l, "a second")
	}
	return t(l, "{0} seconds", s)
}
