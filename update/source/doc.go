// Package source fetches the files of an update repository: a manifest, its signature,
// packs. It owns the [Source] interface and three implementations: [HTTP] for any static
// web server (nginx, Apache, IIS, a CDN, an object store), [Dir] for a local folder and
// [FS] for an [io/fs.FS]. The other side, a static server for development
// repositories, is [github.com/upkeep-go/upkeep/update/publish.FileServer].
//
// A source knows nothing of manifests, signatures or installs: it hands back bytes and
// the caller checks them. What it does guarantee is that hostile or broken servers
// cannot make the caller wait or read without bound:
//
//   - [Request.Max] bounds the bytes a body yields, counted on real bytes
//     ([ErrTooLarge]), and a declared Content-Length above it is refused up front;
//   - a transfer whose rate stays below a floor for a whole window is cut
//     ([ErrTooSlow], see [WithMinRate]): the slow-retrieval attack;
//   - connecting, the TLS handshake and waiting for response headers have timeouts
//     ([WithTimeouts]), while the body has none of its own: the rate floor covers it.
//
// The defaults ([DefaultMinRate] over [DefaultRateWindow], [DefaultRetries], the
// timeouts) are exported constants, each overridable by its option.
//
// Establishing a response is retried with exponential backoff and jitter on connection
// errors and on 408, 429 and 5xx answers (honouring Retry-After), never on 404. A body
// cut in the middle is not retried by the source: the caller fetches again with
// [Request.Offset] set to the bytes it already has, and the HTTP source asks for the
// rest with a Range request.
//
// A [Response.Validator] is opaque: for HTTP it carries the ETag and Last-Modified
// date, for folders and fs.FS the size and modification time. Given back with Offset 0
// it makes the fetch conditional (If-None-Match, If-Modified-Since); given back with a
// resume offset it guards the resume (If-Range), so that the tail of a changed file is
// never glued to the head of the old one.
//
// File names are relative to the source root and "/"-separated; names with ".."
// elements, absolute or volume paths, backslashes, colons (schemes) or control
// characters are refused with [ErrBadName] before anything is opened.
package source
