// Package pageguard is the one guard in front of upkeep's local pages: the agent's
// portal (update/portal) and the fleet master's pages (update/fleet). Both wrap their
// handlers with [Guard.Wrap]; neither checks a Host, a token or a login of its own.
//
// A page on localhost is reachable by any page the operator's browser opens, and by
// DNS rebinding a hostile name can be made to point at 127.0.0.1, where the browser
// then treats it as same-origin. Update agents have been attacked this way
// (Transmission, Blizzard's agent). So, in this order:
//
//  1. Every answer carries the security headers: a Content-Security-Policy built from
//     the hashes of the page's own script and style ([Options].Scripts and Styles;
//     no 'unsafe-inline'), frame-ancestors 'none' (and X-Frame-Options DENY),
//     X-Content-Type-Options nosniff, Referrer-Policy no-referrer,
//     Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy same-origin,
//     Cache-Control no-store.
//  2. The Host rule. A request is served only when its Host header is localhost,
//     127.0.0.1 or [::1] with the port the pages are served on, or a name the
//     embedder configured ([Options].Hosts, and the host of [Options].Addr when it is
//     a specific name or address: what a listener on another interface is reached
//     by). The port served is that of [Options].Addr, else the port of the
//     connection the request came in on. Names are compared without case, with one
//     trailing dot tolerated; a Host without a port means port 80 (443 over TLS).
//     Anything else gets 421, whatever the path: a rebound name, another port on the
//     same machine (another local service's page is another origin).
//  3. [Options].Public paths (/healthz) are served now, without credentials.
//  4. With a [Options].Secret, every other request needs "Authorization: Bearer
//     SECRET" or the cookie of a login session, except the [Options].Open ones (the
//     login form, a page that shows it). A request without them is answered by
//     [Options].Challenge, by default 401 with WWW-Authenticate.
//  5. A request that can change state (any method but GET, HEAD, OPTIONS) must pass
//     [http.CrossOriginProtection], and must carry the per-process page token in
//     the [TokenHeader] header, which a cross-site form cannot set; the page carries
//     the token in <meta name="upkeep-token">. A request authenticated by the bearer
//     secret needs no page token: a browser cannot send that header cross-site, and
//     a script that holds the secret should not have to scrape a page. The login
//     form carries the token in a field, which [Guard.Login] checks.
//
// # Sessions
//
// A login ([Guard.Login]) draws a random session ID (256 bits); the cookie holds it,
// HttpOnly, SameSite=Strict, Secure over TLS, and expires with the session
// ([DefaultSessionTTL], 12 hours, unless [Options].SessionTTL says otherwise).
// [Guard.Logout] ends the session on the server, not only in the browser. Sessions
// live in memory: a restart of the process logs everyone out, which is the price of
// keeping no secret on disk, and the intent (a new process, a new page token too).
// At most [MaxSessions] live at once; a new one beyond that replaces the one closest
// to its end.
//
// # Throttling
//
// A wrong secret, typed in the login form or sent as a bearer, counts against the
// client's address. After [MaxLoginFailures] failures in a row, that address is
// refused with 429 and Retry-After for [LoginBackoff], doubling with each further
// failure up to [MaxLoginBackoff], even when it then sends the right secret: a
// guess must not be testable while locked. A success clears the count. A local user
// can thereby lock the loopback address out for a while, and behind a reverse proxy
// all clients share the proxy's address; that is the trade for a throttle that a
// bearer header cannot bypass.
//
// # Errors
//
// Every refusal, and every JSON error of the surfaces behind the guard, is written
// by [WriteError] as {"error": "…", "code": "…"}: scripts match code, people read
// error. A code is never empty.
package pageguard
