package signature

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/internal/testenv"
)

// minisignCmd runs the minisign command with stdin (passwords are read from it when
// it is not a terminal) and returns its combined output.
func minisignCmd(t *testing.T, prog, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestInteropMinisignSigns: keys and signatures made by minisign verify here.
func TestInteropMinisignSigns(t *testing.T) {
	t.Parallel()
	prog := testenv.NeedProgram(t, "minisign", "minisign")
	tests := []struct {
		name     string
		genArgs  []string
		password string
	}{
		{"unencrypted key (-W)", []string{"-W"}, ""},
		{"password-protected key", nil, "pass word\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.password != "" && testing.Short() {
				t.Skip("minisign's scrypt at its default cost takes seconds per command")
			}
			dir := t.TempDir()
			pubPath, secPath := filepath.Join(dir, "k.pub"), filepath.Join(dir, "k.key")
			out, err := minisignCmd(t, prog, strings.Repeat(tt.password, 2), append([]string{"-G", "-p", pubPath, "-s", secPath}, tt.genArgs...)...)
			require.NoError(t, err, out)
			msg := bytes.Repeat([]byte("minisign made this\n"), 10000)
			file := writeFile(t, filepath.Join(dir, "app.zip"), msg)
			tc := "timestamp:1700000000 file=app.zip module=m version=1 platform=linux/amd64"
			out, err = minisignCmd(t, prog, tt.password, "-S", "-s", secPath, "-m", file, "-t", tc)
			require.NoError(t, err, out)
			legacy := tt.password == "" // one scrypt less: the legacy form does not depend on the key's encryption
			if legacy {
				out, err = minisignCmd(t, prog, tt.password, "-S", "-l", "-s", secPath, "-m", file, "-x", file+".legacy", "-t", tc)
				require.NoError(t, err, out)
			}

			keys, err := ParsePublicKeys(readFile(t, pubPath))
			require.NoError(t, err)
			kr := mustKeyring(t, keys)
			v, err := kr.Verify("app.zip", readFile(t, file+".minisig"), bytes.NewReader(msg))
			require.NoError(t, err)
			require.Equal(t, tc, v.Signers[0].TrustedComment)
			require.NoError(t, Binding{File: "app.zip", Module: "m", Version: "1", Platform: "linux/amd64"}.Check(v))

			_, err = kr.Verify("app.zip", readFile(t, file+".minisig"), bytes.NewReader(append(msg, '!')))
			require.ErrorIs(t, err, ErrBadSignature)

			if !legacy {
				return
			}
			// Legacy: refused by default, accepted when opted in.
			_, err = kr.Verify("app.zip", readFile(t, file+".legacy"), bytes.NewReader(msg))
			require.ErrorIs(t, err, ErrLegacy)
			v, err = mustKeyring(t, keys, WithLegacy(true)).Verify("app.zip", readFile(t, file+".legacy"), bytes.NewReader(msg))
			require.NoError(t, err)
			require.True(t, v.Signers[0].Legacy)

			if tt.password == "" {
				priv, err := ParsePrivateKey(readFile(t, secPath), "")
				require.NoError(t, err)
				require.Equal(t, keys[0], priv.Public())
			}
		})
	}
}

// TestInteropUpkeepSigns: keys and signatures made here work with minisign.
func TestInteropUpkeepSigns(t *testing.T) {
	t.Parallel()
	prog := testenv.NeedProgram(t, "minisign", "minisign")
	tests := []struct {
		name     string
		password string
	}{
		{"unencrypted key", ""},
		{"password-protected key", "pass word"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pub, priv := mustGenerate(t)
			pubText, err := pub.MarshalText()
			require.NoError(t, err)
			pubPath := writeFile(t, filepath.Join(dir, "k.pub"), pubText)
			secText, err := MarshalPrivateKeyCost(priv, tt.password, cheapCost)
			require.NoError(t, err)
			secPath := writeFile(t, filepath.Join(dir, "k.key"), secText)

			msg := bytes.Repeat([]byte("upkeep made this\n"), 10000)
			file := writeFile(t, filepath.Join(dir, "app.zip"), msg)
			tc := Binding{File: "app.zip", Module: "m", Version: "1", Platform: "linux/amd64"}.String()
			writeFile(t, file+".minisig", mustSign(t, priv, msg, tc))

			// -H: minisign insists on a prehashed signature.
			out, err := minisignCmd(t, prog, "", "-V", "-H", "-p", pubPath, "-m", file)
			require.NoError(t, err, out)
			require.Contains(t, out, tc)

			writeFile(t, file, append(msg, '!'))
			out, err = minisignCmd(t, prog, "", "-V", "-p", pubPath, "-m", file)
			require.Error(t, err, out)
			writeFile(t, file, msg)

			// The secret key made here signs with minisign, and we verify that.
			out, err = minisignCmd(t, prog, tt.password+"\n", "-S", "-s", secPath, "-m", file, "-x", file+".ms", "-t", "by minisign")
			require.NoError(t, err, out)
			v, err := mustKeyring(t, []PublicKey{pub}).Verify("app.zip", readFile(t, file+".ms"), bytes.NewReader(msg))
			require.NoError(t, err)
			require.Equal(t, "by minisign", v.Signers[0].TrustedComment)
		})
	}
}

// TestInteropCosigned: minisign reads the first block of a co-signed file.
func TestInteropCosigned(t *testing.T) {
	t.Parallel()
	prog := testenv.NeedProgram(t, "minisign", "minisign")
	dir := t.TempDir()
	a, aPriv := mustGenerate(t)
	_, bPriv := mustGenerate(t)
	msg := []byte("two signers")
	file := writeFile(t, filepath.Join(dir, "f"), msg)
	sig, err := AppendSignature("f.minisig", mustSign(t, aPriv, msg, "a"), mustSign(t, bPriv, msg, "b"))
	require.NoError(t, err)
	writeFile(t, file+".minisig", sig)
	out, err := minisignCmd(t, prog, "", "-V", "-P", a.String(), "-m", file)
	require.NoError(t, err, out)
}
