package signature

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUntrustedKeyMessage: a file signed by no trusted key says which key signed it
// and which keys are trusted, so that the operator can tell a wrong key file from a
// wrong signature.
func TestUntrustedKeyMessage(t *testing.T) {
	t.Parallel()
	trusted, _ := mustGenerate(t)
	_, other := mustGenerate(t)
	msg := []byte("manifest")
	kr := mustKeyring(t, []PublicKey{trusted})
	_, err := kr.Verify("manifest.json", mustSign(t, other, msg, "x"), bytes.NewReader(msg))
	require.ErrorIs(t, err, ErrUntrustedKey)
	require.ErrorIs(t, err, ErrThreshold)
	require.EqualError(t, err, "signature: manifest.json: signed by key "+other.ID().String()+
		", which is not trusted (trusted: "+trusted.ID().String()+")")
}

// writeKeys writes keys as one key file in dir and returns its path.
func writeKeys(t *testing.T, dir, name string, keys ...PublicKey) string {
	t.Helper()
	var b []byte
	for _, k := range keys {
		text, err := k.MarshalText()
		require.NoError(t, err)
		b = append(b, text...)
	}
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// TestUntrustedKeyMessageFiles: a keyring loaded from files names the file of each
// trusted key, also when a threshold is not met.
func TestUntrustedKeyMessageFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, privA := mustGenerate(t)
	b, _ := mustGenerate(t)
	c, _ := mustGenerate(t)
	_, other := mustGenerate(t)
	fileAB := writeKeys(t, dir, "publisher.pub", a, b)
	fileC := writeKeys(t, dir, "backup.pub", c)
	msg := []byte("manifest")

	kr, err := LoadKeyring([]string{fileAB, fileC})
	require.NoError(t, err)
	require.Equal(t, []TrustedKey{{a.ID(), fileAB}, {b.ID(), fileAB}, {c.ID(), fileC}}, kr.Trusted())
	_, err = kr.Verify("manifest.json", mustSign(t, other, msg, "x"), bytes.NewReader(msg))
	require.ErrorIs(t, err, ErrUntrustedKey)
	require.EqualError(t, err, "signature: manifest.json: signed by key "+other.ID().String()+", which is not trusted (trusted: "+
		a.ID().String()+" from "+fileAB+", "+b.ID().String()+" from "+fileAB+", "+c.ID().String()+" from "+fileC+")")

	kr2, err := LoadKeyring([]string{fileAB, fileC}, WithThreshold(2))
	require.NoError(t, err)
	sig := append(mustSign(t, privA, msg, "a"), mustSign(t, other, msg, "o")...)
	_, err = kr2.Verify("manifest.json", sig, bytes.NewReader(msg))
	require.ErrorIs(t, err, ErrThreshold)
	require.ErrorIs(t, err, ErrUntrustedKey)
	require.ErrorContains(t, err, "1 of 2 required distinct trusted keys signed ("+a.ID().String()+"); refused: key "+other.ID().String()+": key is not trusted (trusted: ")
	require.ErrorContains(t, err, c.ID().String()+" from "+fileC+")")

	// A refusal for another reason than trust does not list the keys.
	_, err = kr.Verify("manifest.json", mustSign(t, privA, msg, "x"), bytes.NewReader([]byte("changed")))
	require.ErrorIs(t, err, ErrBadSignature)
	require.NotContains(t, err.Error(), "trusted:")
}

func TestLoadKeyring(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, _ := mustGenerate(t)
	b, _ := mustGenerate(t)
	fileA := writeKeys(t, dir, "a.pub", a)
	fileAB := writeKeys(t, dir, "ab.pub", a, b)
	sameID := b
	sameID.id = a.id
	fileClash := writeKeys(t, dir, "clash.pub", sameID)
	garbage := filepath.Join(dir, "garbage.pub")
	require.NoError(t, os.WriteFile(garbage, []byte("untrusted comment: x\nnot a key\n"), 0o644))
	huge := filepath.Join(dir, "huge.pub")
	require.NoError(t, os.WriteFile(huge, bytes.Repeat([]byte("\n"), MaxKeyFileSize+1), 0o644))
	atLimit := filepath.Join(dir, "limit.pub")
	text, _ := a.MarshalText()
	require.NoError(t, os.WriteFile(atLimit, append(bytes.Repeat([]byte("\n"), MaxKeyFileSize-len(text)), text...), 0o644))

	kr, err := LoadKeyring([]string{fileA, fileAB})
	require.NoError(t, err, "the same key in two files counts once")
	require.Equal(t, []TrustedKey{{a.ID(), fileA}, {b.ID(), fileAB}}, kr.Trusted())
	_, err = LoadKeyring([]string{atLimit})
	require.NoError(t, err, "a file of MaxKeyFileSize bytes is read")

	tests := []struct {
		name  string
		files []string
		opts  []Option
		is    error
		want  []string
	}{
		{"no file", nil, nil, nil, []string{"no key file"}},
		{"missing", []string{filepath.Join(dir, "none.pub")}, nil, os.ErrNotExist, []string{"none.pub"}},
		{"garbage", []string{fileA, garbage}, nil, ErrMalformed, []string{garbage, "line 2"}},
		{"too large", []string{huge}, nil, ErrMalformed, []string{huge, "more than"}},
		{"same ID, different keys", []string{fileA, fileClash}, nil, nil, []string{a.ID().String(), fileA, fileClash}},
		{"threshold above keys", []string{fileA}, []Option{WithThreshold(2)}, nil, []string{"above the 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadKeyring(tt.files, tt.opts...)
			require.Error(t, err)
			if tt.is != nil {
				require.ErrorIs(t, err, tt.is)
			}
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	kr, err := ParseKeyring(readTestdata(t, "abc.pub"), WithThreshold(2))
	require.NoError(t, err)
	require.Len(t, kr.Keys(), 3)
	require.Equal(t, 2, kr.Threshold())
	for _, k := range kr.Trusted() {
		require.Empty(t, k.File)
	}
	v, err := kr.Verify("message.txt", readTestdata(t, "message.txt.ab.minisig"), bytes.NewReader(readTestdata(t, "message.txt")))
	require.NoError(t, err)
	require.Len(t, v.Signers, 2)

	_, err = ParseKeyring([]byte("nothing"))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = ParseKeyring(nil)
	require.ErrorIs(t, err, ErrMalformed)
}

// TestThresholdCountsKeysNotIDs: one key listed under two IDs is one key. A file it
// signed twice, once under each ID, does not meet a threshold of two, and a keyring
// of that key alone cannot have a threshold of two.
func TestThresholdCountsKeysNotIDs(t *testing.T) {
	t.Parallel()
	a, privA := mustGenerate(t)
	c, privC := mustGenerate(t)
	alias := PublicKey{id: a.id ^ 0xffff, key: a.key}
	privAlias := PrivateKey{id: alias.id, key: privA.key}
	msg := []byte("pack bytes")
	sig, err := AppendSignature("f.minisig", mustSign(t, privA, msg, "x"), mustSign(t, privAlias, msg, "x"))
	require.NoError(t, err)

	kr := mustKeyring(t, []PublicKey{a, alias, c}, WithThreshold(2))
	_, err = kr.Verify("f", sig, bytes.NewReader(msg))
	require.ErrorIs(t, err, ErrThreshold)

	sig, err = AppendSignature("f.minisig", sig, mustSign(t, privC, msg, "x"))
	require.NoError(t, err)
	v, err := kr.Verify("f", sig, bytes.NewReader(msg))
	require.NoError(t, err)
	require.Len(t, v.Signers, 2)

	_, err = NewKeyring([]PublicKey{a, alias}, WithThreshold(2))
	require.ErrorContains(t, err, "threshold 2 above the 1 distinct keys")
}
