// Package publish owns the publisher's side of an update repository: building a pack
// from a build folder, signing it with a trusted comment that binds it to its file,
// module, version and platform, adding it to the repository's manifest and re-signing
// the manifest ([Publish]); re-signing the manifest with a new serial and expiry
// between releases ([Refresh]); and a static file server for development repositories
// ([FileServer]).
//
// It will not fetch, verify or install anything (the update engine does), keep a
// secret key (the caller loads it and passes a [signature.PrivateKey]), nor host a
// production repository: [FileServer] is for development and tests.
//
// A repository is a plain folder that any static web server (nginx, Apache, IIS, a CDN,
// an object store) can serve: manifest.json and manifest.json.minisig at its root, each
// pack and its .minisig beside them. Publishing puts the packs in place first and the
// manifest last, through a small journal, so that a server never sees a manifest naming
// a pack that is not there, even when a publication is interrupted: the next one
// completes it.
//
// # Parallel publications
//
// Publications into one repository may run at once (one CI job per platform): each
// builds and signs its pack on its own, then holds an OS lock on the repository's
// [LockFileName] while it reads the manifest, adds its pack and writes the manifest
// with the next serial. A publication that waited thus adds to what the others
// published. The kernel releases the lock of a process that dies, so a killed
// publication never leaves the repository locked; the lock is shared by processes of
// one machine, or of machines whose shared file system passes file locks on. A
// publication waits for the lock as long as its context lives (or [WithLockTimeout]),
// then fails with a [*LockedError] naming the holder.
//
// # Options
//
// [Publish] and [Refresh] take the same [Option] values: [WithExpires] (default
// [DefaultExpires]), [WithClock], [WithMethod], [WithModTime], [WithProduct],
// [WithLockTimeout], [WithLogger].
package publish
