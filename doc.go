// Package upkeep is the tour of a library that a Go program embeds to update itself and
// the modules it runs. This package holds no code; the work is done by the packages
// below, which compose in one direction.
//
// # Packages
//
//   - manifest: the update manifest (native JSON and HFSQL's hfsql_updateinfo.json),
//     validation, platforms, versions, and Select, which decides which release a given
//     installation should get and through which upgrade path.
//   - signature: minisign-compatible keys and detached signatures, keyrings with a k-of-n
//     threshold, streaming verification, and bindings of a signature to a file, module,
//     version and platform.
//   - pack: the zip file that carries a module's version: deterministic build, and safe,
//     parallel, verified extraction into an empty folder.
//   - hooks: the install phases (STARTUPDATE … ENDUPDATE, ROLLBACK), Go hooks and
//     script-folder hooks.
//   - update: the engine that composes them: check, download, verify, extract, backup,
//     maintenance, swap, rollback, journal and crash recovery, status. update/source
//     fetches files from HTTP servers, folders and fs.FS; update/maintenance holds the
//     maintenance state, its HTTP middleware and its flag file; update/handoff restarts
//     a Go server without dropping a connection; update/trust decides, without I/O,
//     whether a key set, a manifest or a pack is accepted, for every verifier.
//   - update/selfupdate: the short path for a Go HTTP server that keeps itself up to
//     date (engine, maintenance and handoff composed in a few calls).
//   - update/agent: the agent configuration file and the schedule (check, background
//     download, automatic installs in a window), over the engine's public API.
//   - update/publish: the publisher's side, apart from the engine: build, sign and add a
//     pack to a repository's manifest, re-sign it before it expires, and serve a
//     repository for development.
//
// manifest, signature, pack and hooks know nothing of each other or of update. The
// command in examples/upkeep is the operator's and publisher's face of all of them, and
// examples/quickstart runs the whole story on one machine.
//
// # Security
//
// No byte of a pack reaches a live tree before the manifest's signature and the pack's
// signature have been verified with trusted keys, the pack's size and SHA-256 match the
// signed manifest, and its trusted comment names the same file, module, version and
// platform. Every size read from the network or an archive is bounded before it is read.
// A module folder upkeep does not manage is never deleted, and every change under a
// module's folders goes through handles that do not follow links.
package upkeep
