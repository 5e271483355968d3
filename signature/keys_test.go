package signature

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cheapCost keeps scrypt fast in tests; real keys use the default cost.
var cheapCost = KDFCost{OpsLimit: 1 << 15, MemLimit: 1 << 20}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "minisign", name))
	require.NoError(t, err)
	return b
}

func mustGenerate(t testing.TB) (PublicKey, PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey(nil)
	require.NoError(t, err)
	return pub, priv
}

func TestParsePublicKeysBad(t *testing.T) {
	t.Parallel()
	pub, _ := mustGenerate(t)
	raw, err := base64.StdEncoding.DecodeString(pub.String())
	require.NoError(t, err)
	wrongAlg := append([]byte("Ex"), raw[2:]...)
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "no public key"},
		{"comment only", "untrusted comment: minisign public key 0000000000000000\n", "no public key"},
		{"garbage", "not a key at all\n", "line 1"},
		{"short", base64.StdEncoding.EncodeToString(raw[:20]), "bytes"},
		{"long", base64.StdEncoding.EncodeToString(append(raw, 0)), "want 56"},
		{"very long", strings.Repeat("A", 4096), "characters"},
		{"wrong algorithm", base64.StdEncoding.EncodeToString(wrongAlg), "algorithm"},
		{"second key bad", pub.String() + "\n\n" + pub.String()[1:], "line 3"},
		{"not padded", strings.TrimRight(pub.String(), "=") + "x", "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePublicKeys([]byte(tt.data))
			require.ErrorIs(t, err, ErrMalformed)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParsePublicKeys(t *testing.T) {
	t.Parallel()
	a, _ := mustGenerate(t)
	b, _ := mustGenerate(t)
	aText, err := a.MarshalText()
	require.NoError(t, err)
	bText, err := b.MarshalText()
	require.NoError(t, err)
	tests := []struct {
		name string
		data string
		want []PublicKey
	}{
		{"pub file", string(aText), []PublicKey{a}},
		{"concatenated", string(aText) + string(bText), []PublicKey{a, b}},
		{"bare lines", a.String() + "\n" + b.String(), []PublicKey{a, b}},
		{"mixed, CRLF, blank lines", "\r\n" + strings.ReplaceAll(string(aText), "\n", "\r\n") + "\n  " + b.String() + "  \n\n", []PublicKey{a, b}},
		{"same key twice", a.String() + "\n" + a.String() + "\n", []PublicKey{a, a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePublicKeys([]byte(tt.data))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParsePublicKeysMinisignFiles(t *testing.T) {
	t.Parallel()
	keys, err := ParsePublicKeys(readTestdata(t, "abc.pub"))
	require.NoError(t, err)
	require.Len(t, keys, 3)
	// The IDs minisign printed in each file's comment.
	require.Equal(t, "88A46A87607D8EB3", keys[0].ID().String())
	require.Equal(t, "6A774CBF7BC54B48", keys[1].ID().String())
	require.Equal(t, "D745A7710A135B41", keys[2].ID().String())
	// MarshalText writes what minisign writes.
	text, err := keys[0].MarshalText()
	require.NoError(t, err)
	require.Equal(t, string(readTestdata(t, "a.pub")), string(text))
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "000000000000ABCD", KeyID(0xabcd).String())
	id, err := ParseKeyID("88a46a87607d8eb3")
	require.NoError(t, err)
	require.Equal(t, KeyID(0x88A46A87607D8EB3), id)
	for _, bad := range []string{"", "88A4", "88A46A87607D8EBZ", "+8A46A87607D8EB3"} {
		_, err := ParseKeyID(bad)
		require.ErrorIs(t, err, ErrMalformed, bad)
	}
}

// secretKeyBytes encodes fields into a secret key file, for bad-input cases.
func secretKeyFile(b []byte) string {
	return "untrusted comment: test\n" + base64.StdEncoding.EncodeToString(b) + "\n"
}

func TestParsePrivateKeyBad(t *testing.T) {
	t.Parallel()
	_, priv := mustGenerate(t)
	plain, err := MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	enc, err := MarshalPrivateKeyCost(priv, "right", cheapCost)
	require.NoError(t, err)
	raw := func(text []byte) []byte {
		b, err := base64.StdEncoding.DecodeString(string(lines(text)[1]))
		require.NoError(t, err)
		return b
	}
	with := func(text []byte, edit func(b []byte)) string {
		b := raw(text)
		edit(b)
		return secretKeyFile(b)
	}
	tests := []struct {
		name, data, password string
		want                 error
		msg                  string
	}{
		{"empty", "", "", ErrMalformed, "no secret key"},
		{"garbage", "untrusted comment: x\n!!!\n", "", ErrMalformed, "base64"},
		{"short", secretKeyFile(raw(plain)[:100]), "", ErrMalformed, "100 bytes"},
		{"very long", strings.Repeat("A", 100000), "", ErrMalformed, "characters"},
		{"two key lines", string(plain) + string(lines(plain)[1]) + "\n", "", ErrMalformed, "line 3"},
		{"wrong algorithm", with(plain, func(b []byte) { b[1] = 'x' }), "", ErrMalformed, "key algorithm"},
		{"wrong checksum algorithm", with(plain, func(b []byte) { b[4] = 'x' }), "", ErrMalformed, "checksum algorithm"},
		{"unknown KDF", with(plain, func(b []byte) { b[2] = 'x' }), "", ErrMalformed, "KDF"},
		{"bad checksum", with(plain, func(b []byte) { b[secretKeySize-1] = 1 }), "", ErrMalformed, "checksum"},
		{"public half differs", with(plain, func(b []byte) { b[secretKeySize-33] ^= 1 }), "", ErrMalformed, "public half"},
		{"encrypted, no password", string(enc), "", ErrPasswordRequired, "password"},
		{"encrypted, wrong password", string(enc), "wrong", ErrWrongPassword, "wrong password"},
		{"encrypted, damaged", with(enc, func(b []byte) { b[offSecret+3] ^= 1 }), "right", ErrWrongPassword, "damaged"},
		{"cost above limit (ops)", with(enc, func(b []byte) { binary.LittleEndian.PutUint64(b[offOps:], MaxKDFOpsLimit+1) }), "right", ErrMalformed, "above the limit"},
		{"cost above limit (mem)", with(enc, func(b []byte) { binary.LittleEndian.PutUint64(b[offMem:], 1<<62) }), "right", ErrMalformed, "above the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePrivateKey([]byte(tt.data), tt.password)
			require.ErrorIs(t, err, tt.want)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	t.Parallel()
	pub, priv := mustGenerate(t)
	for _, password := range []string{"", "correct horse"} {
		t.Run("password="+password, func(t *testing.T) {
			t.Parallel()
			text, err := MarshalPrivateKeyCost(priv, password, cheapCost)
			require.NoError(t, err)
			got, err := ParsePrivateKey(text, password)
			require.NoError(t, err)
			require.Equal(t, priv.ID(), got.ID())
			require.Equal(t, pub, got.Public())
			require.True(t, bytes.Equal(priv.key, got.key))
			require.Contains(t, string(text), priv.ID().String())
		})
	}
}

func TestMarshalPrivateKeyBad(t *testing.T) {
	t.Parallel()
	_, priv := mustGenerate(t)
	_, err := MarshalPrivateKey(PrivateKey{}, "")
	require.ErrorIs(t, err, ErrMalformed)
	_, err = MarshalPrivateKeyCost(priv, "x", KDFCost{OpsLimit: MaxKDFOpsLimit, MemLimit: MaxKDFMemLimit + 1})
	require.ErrorContains(t, err, "above the limit")
	_, err = PublicKey{}.MarshalText()
	require.ErrorIs(t, err, ErrMalformed)
}

func TestParseMinisignUnencryptedKey(t *testing.T) {
	t.Parallel()
	priv, err := ParsePrivateKey(readTestdata(t, "a.key"), "")
	require.NoError(t, err)
	pubs, err := ParsePublicKeys(readTestdata(t, "a.pub"))
	require.NoError(t, err)
	require.Equal(t, pubs[0], priv.Public())
	// Our unencrypted form is minisign's byte for byte, comment aside.
	text, err := MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	require.Equal(t, string(lines(readTestdata(t, "a.key"))[1]), string(lines(text)[1]))
}

func TestParseMinisignEncryptedKey(t *testing.T) {
	t.Parallel()
	if testing.Short() || raceEnabled {
		t.Skip("minisign's default scrypt cost (1 GiB) takes seconds, tens under -race")
	}
	priv, err := ParsePrivateKey(readTestdata(t, "enc.key"), "secret")
	require.NoError(t, err)
	pubs, err := ParsePublicKeys(readTestdata(t, "enc.pub"))
	require.NoError(t, err)
	require.Equal(t, pubs[0], priv.Public())
}

func TestScryptParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cost    KDFCost
		n, r, p int
	}{
		{KDFCost{DefaultKDFOpsLimit, DefaultKDFMemLimit}, 1 << 20, 8, 1},
		{KDFCost{InteractiveKDFOpsLimit, InteractiveKDFMemLimit}, 1 << 14, 8, 1},
		{KDFCost{1 << 15, 1 << 20}, 1 << 10, 8, 1},
		{KDFCost{0, 1 << 30}, 1 << 10, 8, 1}, // ops raised to the minimum, memory-rich branch
		{KDFCost{1 << 25, 0}, 2, 8, 1 << 19},
	}
	for _, tt := range tests {
		n, r, p := scryptParams(tt.cost)
		require.Equal(t, []int{tt.n, tt.r, tt.p}, []int{n, r, p}, "%+v", tt.cost)
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	pub, priv := mustGenerate(t)
	require.Equal(t, pub, priv.Public())
	require.Equal(t, pub.ID(), priv.ID())
	require.Equal(t, ed25519.PublicKey(pub.key[:]), priv.key.Public())
	pub2, _ := mustGenerate(t)
	require.NotEqual(t, pub.ID(), pub2.ID())
	_, _, err := GenerateKey(bytes.NewReader(nil))
	require.Error(t, err)
}
