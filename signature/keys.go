package signature

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
)

// KeyID is the 64-bit identifier of a key, written in every signature block so that a
// verifier knows which public key to try. It is a hint, not a proof: the signature
// itself is what proves who signed.
type KeyID uint64

// String returns the ID as 16 uppercase hex digits, as minisign prints it.
func (id KeyID) String() string {
	return fmt.Sprintf("%016X", uint64(id))
}

// ParseKeyID parses 16 hex digits (either case) as printed by [KeyID.String].
func ParseKeyID(s string) (KeyID, error) {
	if len(s) != 16 {
		return 0, &FormatError{Name: "key ID", Reason: strconv.Quote(s) + " is not 16 hex digits"}
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, &FormatError{Name: "key ID", Reason: strconv.Quote(s) + " is not 16 hex digits"}
	}
	return KeyID(v), nil
}

// publicKeySize is the decoded size of a public key line: algorithm, key ID, key.
const publicKeySize = 2 + 8 + ed25519.PublicKeySize

// PublicKey is a minisign public key: a key ID and an Ed25519 public key. The zero
// value is not a valid key. PublicKey values are comparable with ==.
type PublicKey struct {
	id  KeyID
	key [ed25519.PublicKeySize]byte
}

// ID returns the key's ID.
func (k PublicKey) ID() KeyID { return k.id }

// String returns the key's base64 line, as `minisign -P` takes it.
func (k PublicKey) String() string {
	var b [publicKeySize]byte
	binary.LittleEndian.PutUint16(b[:], minisign.EdDSA)
	binary.LittleEndian.PutUint64(b[2:], uint64(k.id))
	copy(b[10:], k.key[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// MarshalText returns the key in the form of a minisign .pub file: an untrusted
// comment line naming the key ID, then the base64 line. Several such outputs
// concatenated form a keyring file that [ParsePublicKeys] reads.
func (k PublicKey) MarshalText() ([]byte, error) {
	if k.id == 0 && k.key == [ed25519.PublicKeySize]byte{} {
		return nil, &FormatError{Name: "public key", Reason: "zero key"}
	}
	return []byte("untrusted comment: minisign public key " + k.id.String() + "\n" + k.String() + "\n"), nil
}

// PrivateKey is a minisign secret key: a key ID and an Ed25519 private key. Its
// public half is [PrivateKey.Public].
type PrivateKey struct {
	id  KeyID
	key ed25519.PrivateKey
}

// ID returns the key's ID, the same as its public key's.
func (k PrivateKey) ID() KeyID { return k.id }

// Public returns the public key that verifies k's signatures.
func (k PrivateKey) Public() PublicKey {
	p := PublicKey{id: k.id}
	if len(k.key) == ed25519.PrivateKeySize {
		copy(p.key[:], k.key[ed25519.SeedSize:])
	}
	return p
}

// valid reports whether k holds a key (the zero PrivateKey does not).
func (k PrivateKey) valid() bool { return len(k.key) == ed25519.PrivateKeySize }

// GenerateKey returns a new key pair made with entropy from random (crypto/rand when
// nil). The key ID is derived from the public key with BLAKE2b, so that one random
// stream gives one key pair.
func GenerateKey(random io.Reader) (PublicKey, PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return PublicKey{}, PrivateKey{}, fmt.Errorf("signature: generating a key: %w", err)
	}
	sum := blake2b.Sum256(pub)
	id := KeyID(binary.LittleEndian.Uint64(sum[:8]))
	p := PublicKey{id: id}
	copy(p.key[:], pub)
	return p, PrivateKey{id: id, key: priv}, nil
}

// ParsePublicKeys reads one or several public keys: minisign .pub files (an
// "untrusted comment:" line, then the base64 line) concatenated, or bare base64 key
// lines, or a mix; blank lines are ignored. It fails with [ErrMalformed] when a line is
// neither, or when data holds no key. The same key given twice is returned twice (a
// [Keyring] counts it once).
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	return parsePublicKeys("public key", data)
}

// parsePublicKeys is ParsePublicKeys, naming the input name in its errors.
func parsePublicKeys(name string, data []byte) ([]PublicKey, error) {
	var keys []PublicKey
	for i, line := range lines(data) {
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0:
		case bytes.HasPrefix(line, []byte("untrusted comment:")):
		default:
			k, err := parsePublicKeyLine(line)
			if err != nil {
				return nil, &FormatError{Name: name, Line: i + 1, Reason: err.Error()}
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, &FormatError{Name: name, Reason: "no public key found"}
	}
	return keys, nil
}

func parsePublicKeyLine(line []byte) (PublicKey, error) {
	var b [publicKeySize]byte
	if base64.StdEncoding.DecodedLen(len(line)) > len(b)+2 {
		return PublicKey{}, fmt.Errorf("key line of %d characters, want %d", len(line), base64.StdEncoding.EncodedLen(publicKeySize))
	}
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
	n, err := base64.StdEncoding.Strict().Decode(buf, line)
	if err != nil {
		return PublicKey{}, fmt.Errorf("key line is not base64: %v", err)
	}
	if n != publicKeySize {
		return PublicKey{}, fmt.Errorf("key of %d bytes, want %d", n, publicKeySize)
	}
	if alg := binary.LittleEndian.Uint16(buf); alg != minisign.EdDSA {
		return PublicKey{}, fmt.Errorf("key algorithm %q, want \"Ed\"", buf[:2])
	}
	k := PublicKey{id: KeyID(binary.LittleEndian.Uint64(buf[2:]))}
	copy(k.key[:], buf[10:n])
	return k, nil
}

// lines splits data into lines without their "\n" or "\r\n".
func lines(data []byte) [][]byte {
	ls := bytes.Split(data, []byte("\n"))
	if len(ls) > 0 && len(ls[len(ls)-1]) == 0 {
		ls = ls[:len(ls)-1]
	}
	for i, l := range ls {
		ls[i] = bytes.TrimSuffix(l, []byte("\r"))
	}
	return ls
}
