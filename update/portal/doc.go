// Package portal is the agent's web page and JSON API: an [http.Handler] that a
// program mounts on a listener of its own (the agent serves it on 127.0.0.1:8080; a
// host program may mount it in its own admin server). It binds no port and keeps no
// state of its own: every answer comes from a [Backend], which the agent (package
// update/agent) satisfies.
//
// # Routes
//
//	GET  /                               the page (server-rendered, one small script)
//	GET  /healthz                        200 "ok", never behind a token
//	GET  /api/modules                    {"modules":[…]}
//	POST /api/modules/NAME/install       {"version":"…"} optional → 202 {"operation":"ID"}
//	POST /api/modules/NAME/rollback      → 202 {"operation":"ID"}
//	POST /api/check                      → 202 {"operation":"ID"}
//	GET  /api/operations[?module=&limit=] {"operations":[…]}, newest first
//	GET  /api/operations/ID              one operation
//	GET  /api/events                     Server-Sent Events: "progress" and "operation"
//	GET  /api/settings                   {"check_interval","auto_install","source","lang"}
//	POST /api/settings                   the same, partial allowed → 200 the settings now in force
//	GET  /login, POST /login             only with [WithBearer]
//	POST /logout                         ends the login session → 204
//
// Errors are JSON {"error":"…","code":"…"}, always with a code: 400 for a bad request
// body or query (bad_request), 404 for an unknown module (unknown_module) or
// operation or route (not_found), 409 when the engine refuses (no_update, no_backup,
// downgrade, busy, failed_version, unmanaged_folder; no_config_file for settings of an
// agent not read from a file), 400 with code config for a setting of a bad value
// (the message names the key; nothing changed), 500 otherwise (the engine's
// code, else error); the guard's refusals below carry misdirected, unauthorized,
// forbidden or throttled.
//
// The settings ([SettingsBackend], which the agent satisfies) are written into the
// agent's configuration file key by key, every other byte kept, and take effect
// without a restart; the page's settings form (form[data-form=settings]) posts them
// with the same token as Install. Each module entry carries "next_check" (RFC 3339,
// null when no schedule runs) and "window" (null, or {"days","hours"}).
//
// The page and the login form are in English and French (internal/i18n): the
// language is the one chosen with the page's switch (?lang=en|fr, kept in the
// upkeep_lang cookie), else the configuration's lang, else the browser's
// Accept-Language, else English; <html lang> says which, and dates and sizes follow
// it. Without JavaScript a <noscript> says that the buttons need it.
//
// # Security
//
// A portal on localhost is reachable by any page the operator's browser opens, and by
// DNS rebinding a hostile name can even be made to point at 127.0.0.1. The portal
// stands behind the guard that the fleet master's pages use too (internal/pageguard,
// whose package doc is the reference), so:
//
//   - A request whose Host header is not one the portal serves is refused with 421,
//     whatever its path. The names served are localhost, 127.0.0.1 and [::1] with the
//     port of [WithAddr] (without it, the port the request came in on), the address's
//     own host when it is a specific one, and those of [WithHosts]; a trailing dot is
//     tolerated.
//   - Every POST needs the per-portal random token that the page carries in
//     <meta name="upkeep-token">, sent back as the X-Upkeep-Token header (a cross-site
//     form cannot set a header), and passes [http.CrossOriginProtection]; nothing
//     changes state on GET. A request carrying the [WithBearer] secret as
//     "Authorization: Bearer" needs no page token: scripts are API clients, and a
//     browser cannot send that header cross-site.
//   - Every answer forbids framing (Content-Security-Policy frame-ancestors 'none'),
//     runs only the portal's own script (its hash in script-src), sets
//     X-Content-Type-Options nosniff and Referrer-Policy no-referrer.
//   - With [WithBearer] every path but /healthz also needs "Authorization: Bearer
//     SECRET" or the cookie of a login session. Typing the secret in the login form
//     starts a session with a random ID that lasts 12 hours ([WithSessionTTL]) and
//     ends at POST /logout; sessions live in memory, so a restart signs everyone out.
//     After five wrong secrets in a row (form or bearer), an address is refused with
//     429 for a while, even with the right one.
//
// The portal installs nothing itself and never asks the engine directly: a click
// becomes a Backend call, and progress comes back through [Backend.Subscribe].
package portal
