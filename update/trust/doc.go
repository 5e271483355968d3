// Package trust decides what a verifier accepts, and nothing else: it never fetches,
// opens or writes a file. The caller feeds it bytes in order (a key set, then a
// manifest, then packs) with the state it kept from earlier runs, and stores the
// state that accepting them makes. The engine (package update), the verifying mirror
// (update/mirror), a fleet master's intake and the publisher's own checks decide
// through it, so that there is one policy.
//
// # What is decided
//
//   - A key set, keys.json ([KeyChain.Accept]): signed by the root keys in force to
//     their threshold (and, for a root rotation, by the new roots to theirs), each
//     signature binding "file=keys.json version=V"; its version never lower than
//     one accepted, nor equal with other bytes; not expired. The keys it removes, and
//     those it revokes, are never trusted again, under any ID.
//   - The signing keys in force ([Pinned], [KeyChain.Signing]): those valid now and
//     not revoked, and the threshold of them that must sign.
//   - A manifest ([AcceptManifest]): signed by that many distinct keys, each
//     signature binding "file=manifest.json serial=N" (and "product=P"); of the
//     product configured, else of the one pinned by the first accepted; not expired;
//     its serial never lower than one accepted for that product. An unsigned HFSQL
//     file, which has no serial, is ordered by its versions instead ([AcceptHFSQL]).
//   - A pack or a delta ([NewPackCheck]): streamed through a [PackCheck] that refuses
//     a byte past the signed size at once, then accepted when its size and SHA-256
//     are the manifest's, enough distinct keys signed it, and every signature binds
//     its file, module, version, platform (and for a delta "from=V").
//
// # Keys
//
// A key is its Ed25519 public-key bytes, not its key ID (an ID is eight bytes that
// the signature does not cover): a key listed under two IDs counts once toward any
// threshold (manifest, pack and root), and a key revoked under one ID stays revoked
// when listed again under another.
//
// # Key set expiry
//
// keys.json carries a signed "expires" (`upkeep keys publish --expires`, one year by
// default). An expired key set is refused with code expired, and packs are no longer
// verified with its keys: withholding a newer keys.json (one that removes a stolen
// key) works only until the older one expires. A keys.json without "expires", as
// written before key sets carried one, is still accepted: refusing it would stop an
// agent's updates, security fixes included, from the day the agent itself is updated
// to this version until its publisher publishes a new keys.json, which operators
// cannot do themselves (only root keys sign it). It is accepted only until the
// verifier has accepted a key set with an expiry: from then on a key set that never
// expires is refused (code expired), so that the protection cannot be turned off by
// a key set of the older form.
//
// # Refusals
//
// Every refusal is an [*Error] carrying a [Code] (the engine's codes: bad_signature,
// expired, replay, invalid_manifest, bad_pack, no_pack_for_platform), matching the
// sentinel of its code with errors.Is ([ErrExpired], [ErrReplay], ...), and wrapping
// the signature package's errors.
package trust
