// Package signature owns upkeep's keys and detached signatures, in the format of the
// minisign tool: Ed25519 over a BLAKE2b-512 prehash of the file, a 64-bit key ID per key,
// and a trusted comment that is signed together with the signature. Keys and signatures
// made by the minisign command verify here, and the other way round.
//
// # What it owns
//
//   - Key pairs: [GenerateKey], [ParsePublicKeys] (one or several keys in a file),
//     [ParsePrivateKey] and [MarshalPrivateKey] (password-protected with scrypt, or
//     unencrypted as `minisign -G -W` writes it).
//   - Signing a stream: [Sign] returns one signature block; [AppendSignature] adds a
//     block to an existing signature file for co-signing.
//   - A [Keyring] of trusted public keys with a threshold: a signature file may hold
//     several blocks, and at least [Keyring.Threshold] distinct trusted keys must have
//     signed. [LoadKeyring] reads it from key files, [ParseKeyring] from bytes (a key
//     compiled in with go:embed), [NewKeyring] from parsed keys. Verification streams ([Keyring.Verify] over an io.Reader, or a [Verifier]
//     fed as an io.Writer while a download is written to disk) and says which keys
//     signed ([Verified]).
//   - Bindings: [Binding] writes and checks the trusted comment that ties a signature to
//     a file name, module, version and platform.
//   - Keys over time: a [KeySet] (a repository's keys.json) lists the publisher's
//     signing keys with their validity, signed by a threshold of root keys that
//     verifiers pin; [VerifyKeySet] checks it, including a root rotation (signed by the
//     old roots and the new), and [KeySet.Signing] gives the keyring of the keys usable
//     at a time, leaving out those expired or revoked by ID ([KeySet.RevokedSince]).
//     A key set carries a signed expiry ([KeySet.Expires]). Verifiers of upkeep do not
//     decide with these helpers but through update/trust, which also follows the
//     chain of key sets over time and revokes keys by their bytes.
//   - A key is its Ed25519 public-key bytes: listed under two IDs ([SameKey]) it
//     counts once toward any threshold.
//
// It knows nothing of zip files, packs or manifests: it verifies bytes against keys and
// reads trusted comments, and the caller decides what the bytes are.
//
// # Strictness
//
// Only prehashed signatures (algorithm "ED") are accepted by default. Legacy signatures
// ("Ed", signed over the whole message) are refused with [ErrLegacy] unless the keyring
// is built [WithLegacy](true); verifying one needs the whole message in memory, so the
// message is buffered up to [DefaultLegacyLimit] bytes (see [WithLegacyLimit]).
//
// # Limits
//
// Every input is bounded before it is trusted:
//   - a public key file read by [LoadKeyring] is at most [MaxKeyFileSize] bytes;
//   - a key set is at most [MaxKeySetSize] bytes;
//   - a signature file is at most [MaxSignatureFileSize] bytes and holds at most
//     [MaxSignatureBlocks] blocks;
//   - an encrypted secret key may ask scrypt for at most [MaxKDFOpsLimit] operations and
//     [MaxKDFMemLimit] bytes of memory (minisign's own default cost, the highest
//     libsodium calls "sensitive"), so a hostile key file cannot exhaust the machine;
//   - a legacy message is buffered up to the keyring's legacy limit.
//
// # Errors
//
// Sentinels ([ErrUntrustedKey], [ErrBadSignature], [ErrMalformed],
// [ErrBindingMismatch], [ErrThreshold], [ErrLegacy], ...) are matched with errors.Is;
// [KeyError], [ThresholdError], [FormatError] and [BindingError] carry the file and key
// ID at fault for errors.As. A file signed by no trusted key is reported with the key
// that signed it and the trusted keys, each with the file it was loaded from:
// "signature: manifest.json: signed by key 1A2B3C4D5E6F7A8B, which is not trusted
// (trusted: 0011223344556677 from /etc/upkeep/publisher.pub)".
package signature
