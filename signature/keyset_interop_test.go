package signature

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/internal/testenv"
)

// TestInteropKeySetMinisign: keys made by minisign serve as root and signing keys, and
// minisign's signatures of keys.json (with the binding as trusted comment) and of a
// file verify through the key set.
func TestInteropKeySetMinisign(t *testing.T) {
	t.Parallel()
	prog := testenv.NeedProgram(t, "minisign", "minisign")
	dir := t.TempDir()
	gen := func(name string) PublicKey {
		pub, sec := filepath.Join(dir, name+".pub"), filepath.Join(dir, name+".key")
		out, err := minisignCmd(t, prog, "", "-G", "-W", "-p", pub, "-s", sec)
		require.NoError(t, err, out)
		keys, err := ParsePublicKeys(readFile(t, pub))
		require.NoError(t, err)
		return keys[0]
	}
	root, signer := gen("root"), gen("signer")
	ks := &KeySet{Version: 1, Roots: []PublicKey{root}, RootThreshold: 1, Keys: []ValidKey{{Key: signer}}}
	data, err := ks.Marshal()
	require.NoError(t, err)
	ksPath := writeFile(t, filepath.Join(dir, KeySetFileName), data)
	out, err := minisignCmd(t, prog, "", "-S", "-s", filepath.Join(dir, "root.key"), "-m", ksPath, "-t", "file=keys.json version=1")
	require.NoError(t, err, out)
	roots, err := NewKeyring([]PublicKey{root})
	require.NoError(t, err)
	got, err := VerifyKeySet(data, readFile(t, ksPath+".minisig"), roots)
	require.NoError(t, err)

	msg := writeFile(t, filepath.Join(dir, "manifest.json"), []byte(`{"schema":1}`))
	out, err = minisignCmd(t, prog, "", "-S", "-s", filepath.Join(dir, "signer.key"), "-m", msg, "-t", "file=manifest.json serial=1")
	require.NoError(t, err, out)
	kr, err := got.Signing(time.Now(), nil)
	require.NoError(t, err)
	_, err = kr.Verify("manifest.json", readFile(t, msg+".minisig"), bytes.NewReader(readFile(t, msg)))
	require.NoError(t, err)

	// And the other way round: minisign verifies the key set signed here by its root.
	sec := genPair(t)
	blk, err := Sign(sec.sec, bytes.NewReader(data), ks.TrustedComment(time.Now()))
	require.NoError(t, err)
	writeFile(t, ksPath+".minisig", blk)
	pt, err := sec.pub.MarshalText()
	require.NoError(t, err)
	writeFile(t, filepath.Join(dir, "mine.pub"), pt)
	out, err = minisignCmd(t, prog, "", "-V", "-p", filepath.Join(dir, "mine.pub"), "-m", ksPath)
	require.NoError(t, err, out)
	require.Contains(t, out, "file=keys.json version=1")
}
