package maintenance

import (
	"fmt"
	"html"
	"strconv"
	"strings"
)

// maxReason bounds the reason shown on a page, so that a flag file stays small.
const maxReason = 1000

// renderPage returns the built-in maintenance page. first, when not empty, is written
// before everything else (the flag marker). retryAfter <= 0 leaves out the refresh.
func renderPage(reason string, retryAfter int, first string) []byte {
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "") + "…"
	}
	refresh, when := "", "shortly"
	if retryAfter > 0 {
		refresh = `<meta http-equiv="refresh" content="` + strconv.Itoa(retryAfter) + `">` + "\n"
		when = fmt.Sprintf("in about %s", humanSeconds(retryAfter))
	}
	detail := ""
	if reason != "" {
		detail = "<p>" + html.EscapeString(reason) + "</p>\n"
	}
	return fmt.Appendf(nil, `%s<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
%s<title>Maintenance in progress</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}</style>
</head>
<body>
<h1>Maintenance in progress</h1>
<p>This service is being updated. Please try again %s.</p>
%s</body>
</html>
`, first, refresh, when, detail)
}

// humanSeconds writes a delay in seconds as minutes when it is a whole number of them.
func humanSeconds(s int) string {
	switch {
	case s == 60:
		return "a minute"
	case s%60 == 0:
		return strconv.Itoa(s/60) + " minutes"
	case s == 1:
		return "a second"
	}
	return strconv.Itoa(s) + " seconds"
}
