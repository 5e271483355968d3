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
//   - update/agent/service: the agent as a system service (a systemd unit or a Windows
//     service).
//   - update/portal: the agent's local web portal and its JSON API and events, as an
//     http.Handler.
//   - update/servicectl: the system service a module runs as (systemd, Windows, IIS
//     application pool), stopped during its maintenance.
//   - update/dbscript: database modules (SQL scripts, history, schema fingerprint and
//     drift) on SQLite and PostgreSQL; update/dbscript/dbagent connects them to the
//     engine and the agent.
//   - update/fleet: a master and its slaves (enrolment, propagation, applies in waves,
//     reports, convergence).
//   - update/mirror: a verifying copy of a repository.
//   - update/updatetest: a signed repository in a temporary folder, for tests of
//     programs that embed the engine, and the engine's test knobs.
//   - update/internal/seam: how this module's own packages reach the engine's plumbing
//     and test knobs, which update does not export.
//   - internal/atomicfile, internal/limited, internal/tarzst, internal/testenv: atomic
//     writes, bounded reads, the tar+zstd backups of in-place modules, and the tests'
//     system programs; internal/pageguard: the guard of the portal and the fleet pages;
//     internal/i18n: the pages' language (English, French); internal/testenv/browser:
//     axe-core and the Tab walk of the Chromium tests.
//
// manifest, signature, pack and hooks know nothing of each other or of update. The
// command in examples/upkeep is the operator's and publisher's face of all of them
// (go install github.com/upkeep-go/upkeep/examples/upkeep@latest),
// examples/quickstart runs the whole story on one machine, and
// examples/selfupdating-server is a server that updates itself.
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
