// Package publish owns the publisher's side of an update repository: building a pack
// from a build folder, signing it with a trusted comment that binds it to its file,
// module, version and platform, adding it to the repository's manifest and re-signing
// the manifest ([Publish]); re-signing the manifest with a new serial and expiry
// between releases ([Refresh]); and a static file server for development repositories
// ([FileServer]).
//
// A repository is a plain folder that any static web server (nginx, Apache, IIS, a CDN,
// an object store) can serve: manifest.json and manifest.json.minisig at its root, each
// pack and its .minisig beside them. Publishing puts the packs in place first and the
// manifest last, through a small journal, so that a server never sees a manifest naming
// a pack that is not there, nor a manifest without its signature, even when a
// publication is interrupted: the next one completes it.
//
// It will not fetch, verify or install anything (the update engine does), keep a
// secret key (the caller loads it and passes a [signature.PrivateKey]), nor host a
// production repository: [FileServer] is for development and tests.
package publish
