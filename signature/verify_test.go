package signature

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"aead.dev/minisign"
	"github.com/stretchr/testify/require"
)

func mustSign(t testing.TB, k PrivateKey, msg []byte, tc string) []byte {
	t.Helper()
	sig, err := Sign(k, bytes.NewReader(msg), tc)
	require.NoError(t, err)
	return sig
}

func mustKeyring(t testing.TB, keys []PublicKey, opts ...Option) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys, opts...)
	require.NoError(t, err)
	return kr
}

func signLegacy(t testing.TB, k PrivateKey, msg []byte, tc string) []byte {
	t.Helper()
	sig, err := signDigest(k, msg, minisign.EdDSA, tc)
	require.NoError(t, err)
	return sig
}

func TestVerifyRefusals(t *testing.T) {
	t.Parallel()
	pub, priv := mustGenerate(t)
	_, other := mustGenerate(t)
	msg := []byte("the bytes of app.zip")
	good := mustSign(t, priv, msg, "timestamp:1 file=app.zip")
	goodText := string(good)
	tamperedComment := strings.Replace(goodText, "file=app.zip", "file=evil.zip", 1)
	ls := strings.Split(goodText, "\n")
	tests := []struct {
		name    string
		sig     string
		msg     []byte
		opts    []Option
		want    error
		wantMsg []string
	}{
		{"tampered file", goodText, []byte("the bytes of app.zap"), nil, ErrBadSignature, []string{"app.zip", pub.ID().String(), "does not verify"}},
		{"empty file", goodText, nil, nil, ErrBadSignature, []string{pub.ID().String()}},
		{"tampered trusted comment", tamperedComment, msg, nil, ErrBadSignature, []string{"trusted comment changed", pub.ID().String()}},
		{"wrong key", string(mustSign(t, other, msg, "x")), msg, nil, ErrUntrustedKey, []string{"app.zip", other.ID().String(), "not trusted"}},
		{"legacy refused", string(signLegacy(t, priv, msg, "x")), msg, nil, ErrLegacy, []string{"app.zip", pub.ID().String(), "legacy"}},
		{"legacy too large", string(signLegacy(t, priv, msg, "x")), msg, []Option{WithLegacy(true), WithLegacyLimit(5)}, ErrLegacyTooLarge, []string{"limit 5"}},
		{"legacy tampered", string(signLegacy(t, priv, msg, "x")), []byte("other"), []Option{WithLegacy(true)}, ErrBadSignature, []string{pub.ID().String()}},
		{"empty signature file", "", msg, nil, ErrMalformed, []string{"app.zip", "no signature block"}},
		{"garbage", "garbage\n", msg, nil, ErrMalformed, []string{"app.zip", "line 1"}},
		{"truncated to 3 lines", strings.Join(ls[:3], "\n"), msg, nil, ErrMalformed, []string{"truncated", "3 of 4"}},
		{"truncated mid-line", goodText[:len(goodText)-20], msg, nil, ErrMalformed, []string{"line 1"}},
		{"second block truncated", goodText + strings.Join(ls[:2], "\n"), msg, nil, ErrMalformed, []string{"line 5"}},
		{"no trusted comment prefix", strings.Replace(goodText, "\ntrusted comment: ", "\ntrusted: ", 1), msg, nil, ErrMalformed, []string{"line 3"}},
		{"bad base64", strings.Replace(goodText, ls[1], "@@@@", 1), msg, nil, ErrMalformed, []string{"line 1"}},
		{"space in base64", strings.Replace(goodText, ls[1], ls[1][:10]+" "+ls[1][10:], 1), msg, nil, ErrMalformed, []string{"line 2"}},
		{"unknown algorithm", strings.Replace(goodText, ls[1], "RX"+ls[1][2:], 1), msg, nil, ErrMalformed, []string{"algorithm"}},
		{"too large", strings.Repeat(goodText, MaxSignatureFileSize/len(goodText)+1), msg, nil, ErrMalformed, []string{"limit"}},
		{"too many blocks", strings.Repeat(goodText, MaxSignatureBlocks+1), msg, nil, ErrMalformed, []string{"more than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr := mustKeyring(t, []PublicKey{pub}, tt.opts...)
			v, err := kr.Verify("app.zip", []byte(tt.sig), bytes.NewReader(tt.msg))
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, v)
			for _, m := range tt.wantMsg {
				require.Contains(t, err.Error(), m)
			}
			if tt.want != ErrMalformed {
				var te *ThresholdError
				require.ErrorAs(t, err, &te)
				require.ErrorIs(t, err, ErrThreshold)
				var ke *KeyError
				require.ErrorAs(t, err, &ke)
				require.Equal(t, "app.zip", ke.Name)
			}
			// Each refusal has its own sentinel.
			for _, other := range []error{ErrBadSignature, ErrUntrustedKey, ErrLegacy, ErrMalformed, ErrLegacyTooLarge} {
				if other != tt.want {
					require.False(t, errors.Is(err, other), "%v also matches %v", err, other)
				}
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	pub, priv := mustGenerate(t)
	msg := bytes.Repeat([]byte("0123456789"), 100000)
	tests := []struct {
		name   string
		sig    []byte
		opts   []Option
		legacy bool
	}{
		{"prehashed", mustSign(t, priv, msg, "timestamp:1 file=a"), nil, false},
		{"CRLF", bytes.ReplaceAll(mustSign(t, priv, msg, "timestamp:1 file=a"), []byte("\n"), []byte("\r\n")), nil, false},
		{"blank lines around", append(append([]byte("\n\n"), mustSign(t, priv, msg, "timestamp:1 file=a")...), "\n\n"...), nil, false},
		{"legacy allowed", signLegacy(t, priv, msg, "timestamp:1 file=a"), []Option{WithLegacy(true)}, true},
		{"legacy at the limit", signLegacy(t, priv, msg, "timestamp:1 file=a"), []Option{WithLegacy(true), WithLegacyLimit(int64(len(msg)))}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr := mustKeyring(t, []PublicKey{pub}, tt.opts...)
			// One byte at a time, to exercise the streaming path.
			v, err := kr.Verify("a", tt.sig, iotest.HalfReader(bytes.NewReader(msg)))
			require.NoError(t, err)
			require.Equal(t, &Verified{Name: "a", Signers: []Signer{{KeyID: pub.ID(), TrustedComment: "timestamp:1 file=a", Legacy: tt.legacy}}}, v)
		})
	}
}

func TestVerifierAsWriter(t *testing.T) {
	t.Parallel()
	pub, priv := mustGenerate(t)
	msg := bytes.Repeat([]byte("download "), 50000)
	sig := mustSign(t, priv, msg, "tc")
	kr := mustKeyring(t, []PublicKey{pub})
	v, err := kr.NewVerifier("dl.zip", sig)
	require.NoError(t, err)
	var disk bytes.Buffer
	w := io.MultiWriter(&disk, v)
	_, err = io.CopyBuffer(w, bytes.NewReader(msg), make([]byte, 4093))
	require.NoError(t, err)
	got, err := v.Verify()
	require.NoError(t, err)
	require.Equal(t, pub.ID(), got.Signers[0].KeyID)
	require.Equal(t, msg, disk.Bytes())
	// One more byte and the same verifier refuses.
	_, err = v.Write([]byte("x"))
	require.NoError(t, err)
	_, err = v.Verify()
	require.ErrorIs(t, err, ErrBadSignature)

	_, err = kr.NewVerifier("dl.zip", []byte("nope"))
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, "dl.zip")
}

func TestVerifyReadError(t *testing.T) {
	t.Parallel()
	pub, priv := mustGenerate(t)
	kr := mustKeyring(t, []PublicKey{pub})
	boom := errors.New("boom")
	_, err := kr.Verify("a.zip", mustSign(t, priv, nil, "x"), iotest.ErrReader(boom))
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "a.zip")
}

func TestThreshold(t *testing.T) {
	t.Parallel()
	type key struct {
		pub  PublicKey
		priv PrivateKey
	}
	var k [4]key // k[3] is not trusted
	for i := range k {
		k[i].pub, k[i].priv = mustGenerate(t)
	}
	msg := []byte("release 2.0")
	sig := func(i int) string { return string(mustSign(t, k[i].priv, msg, "by "+k[i].pub.ID().String())) }
	bad := strings.Replace(sig(1), "by ", "xy ", 1) // trusted comment tampered
	tests := []struct {
		name      string
		sig       string
		threshold int
		signers   []int
		want      []error
	}{
		{"2 of 3, two keys", sig(0) + sig(1), 2, []int{0, 1}, nil},
		{"2 of 3, three keys", sig(2) + sig(0) + sig(1), 2, []int{2, 0, 1}, nil},
		{"2 of 3, one key repeated", sig(0) + sig(0), 2, nil, []error{ErrThreshold}},
		{"2 of 3, one key and an untrusted one", sig(0) + sig(3), 2, nil, []error{ErrThreshold, ErrUntrustedKey}},
		{"2 of 3, one key and a bad block", sig(0) + bad, 2, nil, []error{ErrThreshold, ErrBadSignature}},
		{"2 of 3, bad block then good block of the same key", bad + sig(1) + sig(0), 2, []int{1, 0}, nil},
		{"1 of 3, one key", sig(2), 1, []int{2}, nil},
		{"1 of 3, untrusted then trusted", sig(3) + sig(1), 1, []int{1}, nil},
		{"3 of 3, two keys", sig(0) + sig(1) + sig(1), 3, nil, []error{ErrThreshold}},
	}
	trusted := []PublicKey{k[0].pub, k[1].pub, k[2].pub}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr := mustKeyring(t, trusted, WithThreshold(tt.threshold))
			require.Equal(t, tt.threshold, kr.Threshold())
			v, err := kr.Verify("r.zip", []byte(tt.sig), bytes.NewReader(msg))
			if tt.want != nil {
				for _, w := range tt.want {
					require.ErrorIs(t, err, w)
				}
				require.Contains(t, err.Error(), "r.zip")
				var te *ThresholdError
				require.ErrorAs(t, err, &te)
				require.Equal(t, tt.threshold, te.Threshold)
				return
			}
			require.NoError(t, err)
			var got []KeyID
			for _, s := range v.Signers {
				got = append(got, s.KeyID)
				require.Equal(t, "by "+s.KeyID.String(), s.TrustedComment)
			}
			var want []KeyID
			for _, i := range tt.signers {
				want = append(want, k[i].pub.ID())
			}
			require.Equal(t, want, got)
		})
	}
}

func TestThresholdErrorMessage(t *testing.T) {
	t.Parallel()
	e := &ThresholdError{Name: "r.zip", Threshold: 2, Verified: []KeyID{1}, Refused: []*KeyError{{Name: "r.zip", KeyID: 2, Err: ErrUntrustedKey}}}
	require.Equal(t, "signature: r.zip: 1 of 2 required distinct trusted keys signed (0000000000000001); refused: key 0000000000000002: key is not trusted", e.Error())
}

func TestNewKeyringBad(t *testing.T) {
	t.Parallel()
	a, _ := mustGenerate(t)
	b, _ := mustGenerate(t)
	sameID := b
	sameID.id = a.id
	tests := []struct {
		name string
		keys []PublicKey
		opts []Option
		want string
	}{
		{"no key", nil, nil, "no key"},
		{"zero key", []PublicKey{{}}, nil, "zero"},
		{"threshold 0", []PublicKey{a}, []Option{WithThreshold(0)}, "threshold 0"},
		{"threshold above keys", []PublicKey{a, b}, []Option{WithThreshold(3)}, "above the 2"},
		{"duplicates do not count", []PublicKey{a, a}, []Option{WithThreshold(2)}, "above the 1"},
		{"same ID, different keys", []PublicKey{a, sameID}, nil, a.ID().String()},
		{"negative legacy limit", []PublicKey{a}, []Option{WithLegacyLimit(-1)}, "legacy limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewKeyring(tt.keys, tt.opts...)
			require.ErrorContains(t, err, tt.want)
		})
	}
	kr := mustKeyring(t, []PublicKey{b, a, b})
	require.Equal(t, []PublicKey{b, a}, kr.Keys())
}

func TestSignBad(t *testing.T) {
	t.Parallel()
	_, priv := mustGenerate(t)
	_, err := Sign(priv, strings.NewReader("x"), "two\nlines")
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, priv.ID().String())
	_, err = Sign(PrivateKey{}, strings.NewReader("x"), "")
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Sign(priv, iotest.ErrReader(io.ErrUnexpectedEOF), "")
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestAppendSignature(t *testing.T) {
	t.Parallel()
	a, aPriv := mustGenerate(t)
	b, bPriv := mustGenerate(t)
	msg := []byte("co-signed")
	sa := mustSign(t, aPriv, msg, "a")
	sb := mustSign(t, bPriv, msg, "b")

	both, err := AppendSignature("x.minisig", sa, sb)
	require.NoError(t, err)
	kr := mustKeyring(t, []PublicKey{a, b}, WithThreshold(2))
	v, err := kr.Verify("x", both, bytes.NewReader(msg))
	require.NoError(t, err)
	require.Len(t, v.Signers, 2)

	// Signing again with a replaces a's block rather than adding one.
	sa2 := mustSign(t, aPriv, msg, "a again")
	again, err := AppendSignature("x.minisig", both, sa2)
	require.NoError(t, err)
	blocks, err := parseSignatures("x", again)
	require.NoError(t, err)
	require.Len(t, blocks, 2)
	require.Equal(t, "b", blocks[0].sig.TrustedComment)
	require.Equal(t, "a again", blocks[1].sig.TrustedComment)

	first, err := AppendSignature("x.minisig", nil, sa)
	require.NoError(t, err)
	require.Equal(t, sa, first)

	_, err = AppendSignature("x.minisig", []byte("junk"), sa)
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, "x.minisig")
	_, err = AppendSignature("x.minisig", sa, append(sb, sa...))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = AppendSignature("x.minisig", sa, nil)
	require.ErrorIs(t, err, ErrMalformed)
}

// TestMinisignFixtures verifies files made by the minisign command, kept in testdata,
// without needing the command.
func TestMinisignFixtures(t *testing.T) {
	t.Parallel()
	keys, err := ParsePublicKeys(append(readTestdata(t, "abc.pub"), readTestdata(t, "enc.pub")...))
	require.NoError(t, err)
	msg := readTestdata(t, "message.txt")
	tests := []struct {
		name    string
		sig     string
		opts    []Option
		signers int
		want    error
	}{
		{"one block", "message.txt.minisig", nil, 1, nil},
		{"two blocks, 2 of 3", "message.txt.ab.minisig", []Option{WithThreshold(2)}, 2, nil},
		{"two blocks, 3 of 3", "message.txt.ab.minisig", []Option{WithThreshold(3)}, 0, ErrThreshold},
		{"one block, 2 of 3", "message.txt.minisig", []Option{WithThreshold(2)}, 0, ErrThreshold},
		{"legacy refused", "message.txt.legacy.minisig", nil, 0, ErrLegacy},
		{"legacy allowed", "message.txt.legacy.minisig", []Option{WithLegacy(true)}, 1, nil},
		{"password-protected key", "message.txt.enc.minisig", nil, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr := mustKeyring(t, keys, tt.opts...)
			v, err := kr.Verify("message.txt", readTestdata(t, tt.sig), bytes.NewReader(msg))
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.Len(t, v.Signers, tt.signers)
			want := keys[0].ID()
			if tt.sig == "message.txt.enc.minisig" {
				want = keys[3].ID()
			}
			require.Equal(t, want, v.Signers[0].KeyID)
		})
	}
}

// TestVerifierMemory: feeding the verifier allocates nothing, so its memory does not
// depend on the file's size. Not parallel: AllocsPerRun counts every goroutine's
// allocations.
func TestVerifierMemory(t *testing.T) {
	pub, priv := mustGenerate(t)
	kr := mustKeyring(t, []PublicKey{pub}, WithLegacy(true))
	v, err := kr.NewVerifier("big", mustSign(t, priv, nil, "x"))
	require.NoError(t, err)
	buf := make([]byte, 1<<16)
	allocs := testing.AllocsPerRun(200, func() { v.Write(buf) })
	require.Zero(t, allocs)
	require.Equal(t, int64(201<<16), v.size)
	require.Nil(t, v.message, "no legacy block: nothing buffered even when legacy is allowed")
}
