package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/scrypt"
)

// Secret key layout (minisign): signature algorithm "Ed", KDF algorithm ("Sc" for
// scrypt, 0 when unencrypted), checksum algorithm "B2", scrypt salt, ops limit, mem
// limit, then key ID, Ed25519 private key and BLAKE2b-256 checksum, the last three
// XORed with the scrypt key stream when encrypted.
const (
	kdfNone   = 0x0000
	kdfScrypt = 0x6353 // "Sc"
	chkBlake2 = 0x3242 // "B2"

	secretKeySize  = 2 + 2 + 2 + 32 + 8 + 8 + secretPartSize
	secretPartSize = 8 + ed25519.PrivateKeySize + 32 // key ID, key, checksum
	offSalt        = 6
	offOps         = 38
	offMem         = 46
	offSecret      = 54
)

// Scrypt cost limits for encrypted secret keys, in libsodium's terms (ops limit, and
// memory in bytes). The defaults are minisign's own; a key file asking for more is
// refused as malformed, so that reading a hostile file cannot exhaust the machine.
const (
	DefaultKDFOpsLimit = 1 << 25 // minisign's default, libsodium's "sensitive"
	DefaultKDFMemLimit = 1 << 30 // 1 GiB, minisign's default
	MaxKDFOpsLimit     = DefaultKDFOpsLimit
	MaxKDFMemLimit     = DefaultKDFMemLimit

	// InteractiveKDFOpsLimit and InteractiveKDFMemLimit are libsodium's
	// "interactive" cost (16 MiB), for keys that must be unlocked often.
	InteractiveKDFOpsLimit = 1 << 19
	InteractiveKDFMemLimit = 1 << 24
)

// KDFCost is the scrypt cost of a password-protected secret key.
type KDFCost struct {
	OpsLimit uint64
	MemLimit uint64 // bytes
}

// ParsePrivateKey reads a minisign secret key file. An encrypted key is decrypted with
// password ([ErrPasswordRequired] when password is empty, [ErrWrongPassword] when the
// checksum does not match); for an unencrypted key, as `minisign -G -W` writes it,
// password is ignored. Any other defect is [ErrMalformed].
func ParsePrivateKey(data []byte, password string) (PrivateKey, error) {
	malformed := func(line int, format string, args ...any) error {
		return &FormatError{Name: "secret key", Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	var keyLine []byte
	lineNo := 0
	for i, line := range lines(data) {
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0:
		case keyLine == nil && bytes.HasPrefix(line, []byte("untrusted comment:")):
		case keyLine == nil:
			keyLine, lineNo = line, i+1
		default:
			return PrivateKey{}, malformed(i+1, "unexpected line after the key")
		}
	}
	if keyLine == nil {
		return PrivateKey{}, malformed(0, "no secret key found")
	}
	if base64.StdEncoding.DecodedLen(len(keyLine)) > secretKeySize+2 {
		return PrivateKey{}, malformed(lineNo, "key line of %d characters, want %d", len(keyLine), base64.StdEncoding.EncodedLen(secretKeySize))
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(keyLine)))
	n, err := base64.StdEncoding.Strict().Decode(b, keyLine)
	if err != nil {
		return PrivateKey{}, malformed(lineNo, "key line is not base64: %v", err)
	}
	if n != secretKeySize {
		return PrivateKey{}, malformed(lineNo, "key of %d bytes, want %d", n, secretKeySize)
	}
	b = b[:n]
	if alg := binary.LittleEndian.Uint16(b); alg != minisign.EdDSA {
		return PrivateKey{}, malformed(lineNo, "key algorithm %q, want \"Ed\"", b[:2])
	}
	if chk := binary.LittleEndian.Uint16(b[4:]); chk != chkBlake2 {
		return PrivateKey{}, malformed(lineNo, "checksum algorithm %q, want \"B2\"", b[4:6])
	}
	secret := b[offSecret:]
	encrypted := false
	switch kdf := binary.LittleEndian.Uint16(b[2:]); kdf {
	case kdfNone:
	case kdfScrypt:
		encrypted = true
		if password == "" {
			return PrivateKey{}, ErrPasswordRequired
		}
		cost := KDFCost{OpsLimit: binary.LittleEndian.Uint64(b[offOps:]), MemLimit: binary.LittleEndian.Uint64(b[offMem:])}
		if cost.OpsLimit > MaxKDFOpsLimit || cost.MemLimit > MaxKDFMemLimit {
			return PrivateKey{}, malformed(lineNo, "scrypt cost (ops %d, mem %d) above the limit (ops %d, mem %d)",
				cost.OpsLimit, cost.MemLimit, uint64(MaxKDFOpsLimit), uint64(MaxKDFMemLimit))
		}
		stream, err := keyStream(password, b[offSalt:offOps], cost)
		if err != nil {
			return PrivateKey{}, malformed(lineNo, "scrypt: %v", err)
		}
		subtle.XORBytes(secret, secret, stream)
	default:
		return PrivateKey{}, malformed(lineNo, "KDF algorithm %q, want \"Sc\" or none", b[2:4])
	}
	id := secret[:8]
	key := secret[8 : 8+ed25519.PrivateKeySize]
	chk := secret[8+ed25519.PrivateKeySize:]
	want := checksum(id, key)
	// minisign leaves the checksum of an unencrypted key zero; check it when present.
	if encrypted || !bytes.Equal(chk, make([]byte, len(chk))) {
		if subtle.ConstantTimeCompare(chk, want[:]) != 1 {
			if encrypted {
				return PrivateKey{}, ErrWrongPassword
			}
			return PrivateKey{}, malformed(lineNo, "checksum does not match")
		}
	}
	priv := ed25519.NewKeyFromSeed(key[:ed25519.SeedSize])
	if subtle.ConstantTimeCompare(priv[ed25519.SeedSize:], key[ed25519.SeedSize:]) != 1 {
		return PrivateKey{}, malformed(lineNo, "public half does not match the private key")
	}
	return PrivateKey{id: KeyID(binary.LittleEndian.Uint64(id)), key: priv}, nil
}

// MarshalPrivateKey returns k as a minisign secret key file, encrypted with password at
// minisign's default cost ([DefaultKDFOpsLimit], [DefaultKDFMemLimit]: about a second
// or more and 1 GiB of memory to encrypt or decrypt), or unencrypted, as
// `minisign -G -W` writes it, when password is empty.
func MarshalPrivateKey(k PrivateKey, password string) ([]byte, error) {
	return MarshalPrivateKeyCost(k, password, KDFCost{OpsLimit: DefaultKDFOpsLimit, MemLimit: DefaultKDFMemLimit})
}

// MarshalPrivateKeyCost is [MarshalPrivateKey] with a chosen scrypt cost (ignored when
// password is empty). The cost may not exceed [MaxKDFOpsLimit] and [MaxKDFMemLimit].
func MarshalPrivateKeyCost(k PrivateKey, password string, cost KDFCost) ([]byte, error) {
	if !k.valid() {
		return nil, &FormatError{Name: "secret key", Reason: "zero key"}
	}
	if cost.OpsLimit > MaxKDFOpsLimit || cost.MemLimit > MaxKDFMemLimit {
		return nil, fmt.Errorf("signature: key %s: scrypt cost (ops %d, mem %d) above the limit", k.id, cost.OpsLimit, cost.MemLimit)
	}
	b := make([]byte, secretKeySize)
	binary.LittleEndian.PutUint16(b, minisign.EdDSA)
	binary.LittleEndian.PutUint16(b[4:], chkBlake2)
	secret := b[offSecret:]
	binary.LittleEndian.PutUint64(secret, uint64(k.id))
	copy(secret[8:], k.key)
	comment := "untrusted comment: minisign secret key " + k.id.String() + "\n"
	if password != "" {
		comment = "untrusted comment: minisign encrypted secret key " + k.id.String() + "\n"
		binary.LittleEndian.PutUint16(b[2:], kdfScrypt)
		if _, err := io.ReadFull(rand.Reader, b[offSalt:offOps]); err != nil {
			return nil, fmt.Errorf("signature: key %s: salt: %w", k.id, err)
		}
		binary.LittleEndian.PutUint64(b[offOps:], cost.OpsLimit)
		binary.LittleEndian.PutUint64(b[offMem:], cost.MemLimit)
		sum := checksum(secret[:8], secret[8:8+ed25519.PrivateKeySize])
		copy(secret[8+ed25519.PrivateKeySize:], sum[:])
		stream, err := keyStream(password, b[offSalt:offOps], cost)
		if err != nil {
			return nil, fmt.Errorf("signature: key %s: scrypt: %w", k.id, err)
		}
		subtle.XORBytes(secret, secret, stream)
	}
	out := make([]byte, 0, len(comment)+base64.StdEncoding.EncodedLen(len(b))+1)
	out = append(out, comment...)
	out = base64.StdEncoding.AppendEncode(out, b)
	return append(out, '\n'), nil
}

// checksum is minisign's secret key checksum: BLAKE2b-256 of the signature algorithm,
// the key ID and the private key.
func checksum(id, key []byte) [32]byte {
	h, _ := blake2b.New256(nil)
	var alg [2]byte
	binary.LittleEndian.PutUint16(alg[:], minisign.EdDSA)
	h.Write(alg[:])
	h.Write(id)
	h.Write(key)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// keyStream derives the bytes XORed over the secret part, turning libsodium's
// (ops, mem) cost into scrypt's (N, r, p) the way libsodium does, so that minisign
// and upkeep derive the same stream from the same file.
func keyStream(password string, salt []byte, cost KDFCost) ([]byte, error) {
	n, r, p := scryptParams(cost)
	return scrypt.Key([]byte(password), salt, n, r, p, secretPartSize)
}

func scryptParams(cost KDFCost) (n, r, p int) {
	const minOps = 1 << 15
	ops := max(cost.OpsLimit, minOps)
	r = 8
	// Smallest power of two N above half of maxN.
	pow := func(maxN uint64) int {
		logN := 1
		for ; logN < 63; logN++ {
			if uint64(1)<<logN > maxN/2 {
				break
			}
		}
		return 1 << logN
	}
	if ops < cost.MemLimit/32 {
		// Memory is plentiful: ops bounds N.
		return pow(ops / (4 * uint64(r))), r, 1
	}
	n = pow(cost.MemLimit / (128 * uint64(r)))
	rp := min((ops/4)/uint64(n), 0x3fffffff)
	p = max(int(rp)/r, 1)
	return n, r, p
}
