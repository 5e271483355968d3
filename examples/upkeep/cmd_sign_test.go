package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/upkeep-go/upkeep/internal/testenv"
)

// keygenT makes an unencrypted key pair in dir and returns its paths.
func keygenT(t *testing.T, dir, name string) (pub, sec string) {
	t.Helper()
	pub, sec = filepath.Join(dir, name+".pub"), filepath.Join(dir, name+".key")
	code, out, errs := runCLI(t, "keygen", "--pub", pub, "--sec", sec)
	require.Equal(t, exitOK, code, errs)
	require.Contains(t, out, "unencrypted")
	return pub, sec
}

func writeT(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestSignCommandsUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := writeT(t, filepath.Join(dir, "f"), "x")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"keygen without --sec", []string{"keygen", "--pub", filepath.Join(dir, "a.pub")}, "--sec"},
		{"keygen same file", []string{"keygen", "--pub", filepath.Join(dir, "a"), "--sec", filepath.Join(dir, "a")}, "same file"},
		{"keygen argument", []string{"keygen", "--pub", "a", "--sec", "b", "extra"}, "no argument"},
		{"keygen bad cost", []string{"keygen", "--pub", "a", "--sec", "b", "--kdf-cost", "cheap"}, "--kdf-cost"},
		{"sign without --sec", []string{"sign", f}, "--sec"},
		{"sign without file", []string{"sign", "--sec", "k"}, "FILE"},
		{"sign two-line comment", []string{"sign", "--sec", "k", "--trusted-comment", "a\nb", f}, "one line"},
		{"verify without --pub", []string{"verify", f}, "--pub"},
		{"verify two files", []string{"verify", "--pub", "p", f, f}, "one FILE"},
		{"verify threshold 0", []string{"verify", "--pub", "p", "--threshold", "0", f}, "--threshold"},
		{"unknown flag", []string{"verify", "--bogus", f}, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errs := runCLI(t, tt.args...)
			require.Equal(t, exitUsage, code)
			require.Contains(t, errs, tt.want)
		})
	}
	for _, cmd := range []string{"keygen", "sign", "verify"} {
		code, out, _ := runCLI(t, cmd, "-h")
		require.Equal(t, exitOK, code)
		require.Contains(t, out, "usage: upkeep "+cmd)
	}
}

func TestSignVerifyCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub, sec := keygenT(t, dir, "k")
	file := writeT(t, filepath.Join(dir, "app.zip"), strings.Repeat("pack ", 1000))

	// Flags after the positional argument.
	code, _, errs := runCLI(t, "sign", file, "--sec", sec, "--trusted-comment", "file=app.zip module=m version=1 platform=linux/amd64")
	require.Equal(t, exitOK, code, errs)
	code, out, errs := runCLI(t, "verify", "--pub", pub, file)
	require.Equal(t, exitOK, code, errs)
	require.Contains(t, out, "Trusted comment: file=app.zip module=m version=1 platform=linux/amd64\n")

	// Signing again replaces the file; the default comment is minisign's.
	code, _, errs = runCLI(t, "sign", "--sec", sec, file)
	require.Equal(t, exitOK, code, errs)
	code, out, _ = runCLI(t, "verify", "--pub", pub, file)
	require.Equal(t, exitOK, code)
	require.Regexp(t, `Trusted comment: timestamp:\d+\tfile:app.zip\thashed`, out)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 4, "no temporary file left behind")

	// --sig elsewhere.
	other := filepath.Join(dir, "other.sig")
	require.NoError(t, os.Rename(file+".minisig", other))
	code, _, errs = runCLI(t, "verify", "--pub", pub, file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "app.zip.minisig")
	code, _, errs = runCLI(t, "verify", "--pub", pub, "--sig", other, file)
	require.Equal(t, exitOK, code, errs)

	// Tampered file: exit 1, one line naming the file and the key.
	writeT(t, file, "tampered")
	code, _, errs = runCLI(t, "verify", "--pub", pub, "--sig", other, file)
	require.Equal(t, exitFailed, code)
	require.Equal(t, 1, strings.Count(errs, "\n"), errs)
	require.Contains(t, errs, "app.zip")
	require.Contains(t, errs, "does not verify")
	keyID := strings.Fields(readT(t, pub))[5] // "untrusted comment: minisign public key ID"
	require.Contains(t, errs, keyID)

	// Key from somebody else.
	pub2, _ := keygenT(t, dir, "k2")
	code, _, errs = runCLI(t, "verify", "--pub", pub2, "--sig", other, file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "app.zip: signed by key "+keyID+", which is not trusted (trusted: "+strings.Fields(readT(t, pub2))[5]+" from "+pub2+")",
		"names the key that signed, the trusted key and its file")

	// Garbage signature file.
	code, _, errs = runCLI(t, "verify", "--pub", pub, "--sig", pub, file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "malformed")

	// A missing file to sign fails and writes nothing.
	code, _, _ = runCLI(t, "sign", "--sec", sec, filepath.Join(dir, "missing"))
	require.Equal(t, exitFailed, code)
	_, err = os.Stat(filepath.Join(dir, "missing.minisig"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func readT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestKeygenRefusesOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub, sec := keygenT(t, dir, "k")
	before := readT(t, sec)
	for _, args := range [][]string{
		{"keygen", "--pub", pub, "--sec", filepath.Join(dir, "new.key")},
		{"keygen", "--pub", filepath.Join(dir, "new.pub"), "--sec", sec},
	} {
		code, _, errs := runCLI(t, args...)
		require.Equal(t, exitFailed, code)
		require.Contains(t, errs, "refusing to overwrite")
	}
	require.Equal(t, before, readT(t, sec))
	_, err := os.Stat(filepath.Join(dir, "new.key"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(filepath.Join(dir, "new.pub"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestKeygenPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := writeT(t, filepath.Join(dir, "pw"), "s3cret\n")
	wrong := writeT(t, filepath.Join(dir, "wrong"), "nope\n")
	empty := writeT(t, filepath.Join(dir, "empty"), "\n")
	pub, sec := filepath.Join(dir, "k.pub"), filepath.Join(dir, "k.key")
	// The interactive cost keeps the test fast; the default is minisign's.
	code, _, errs := runCLI(t, "keygen", "--pub", pub, "--sec", sec, "--password-file", pw, "--kdf-cost", "interactive")
	require.Equal(t, exitOK, code, errs)
	require.Contains(t, readT(t, sec), "encrypted")
	fi, err := os.Stat(sec)
	require.NoError(t, err)
	if filepath.Separator == '/' {
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	file := writeT(t, filepath.Join(dir, "f"), "data")

	code, _, errs = runCLI(t, "sign", "--sec", sec, file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "password is required")
	code, _, errs = runCLI(t, "sign", "--sec", sec, "--password-file", wrong, file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "wrong password")
	code, _, errs = runCLI(t, "sign", "--sec", sec, "--password-file", empty, file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "empty password")
	code, _, errs = runCLI(t, "sign", "--sec", sec, "--password-file", pw, file)
	require.Equal(t, exitOK, code, errs)
	code, _, errs = runCLI(t, "verify", "--pub", pub, file)
	require.Equal(t, exitOK, code, errs)
}

func TestVerifyThresholdCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var pubs, secs []string
	for _, n := range []string{"a", "b", "c", "x"} {
		p, s := keygenT(t, dir, n)
		pubs, secs = append(pubs, p), append(secs, s)
	}
	// One keyring file holding three keys.
	ring := writeT(t, filepath.Join(dir, "ring.pub"), readT(t, pubs[0])+readT(t, pubs[1])+readT(t, pubs[2]))
	file := writeT(t, filepath.Join(dir, "rel.zip"), "release")
	sign := func(sec string, extra ...string) {
		t.Helper()
		code, _, errs := runCLI(t, append([]string{"sign", "--sec", sec, file}, extra...)...)
		require.Equal(t, exitOK, code, errs)
	}
	verify := func(extra ...string) (int, string, string) {
		return runCLI(t, append([]string{"verify", "--pub", ring, "--threshold", "2", file}, extra...)...)
	}

	sign(secs[0])
	code, _, errs := verify()
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "1 of 2")

	sign(secs[0], "--append") // the same key again counts once
	code, _, _ = verify()
	require.Equal(t, exitFailed, code)

	sign(secs[3], "--append") // an untrusted key does not count
	code, _, errs = verify()
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "not trusted")

	sign(secs[1], "--append")
	code, out, errs := verify()
	require.Equal(t, exitOK, code, errs)
	require.Equal(t, 2, strings.Count(out, "Trusted comment:"), out)

	// --pub repeated works as well as one keyring file.
	code, _, errs = runCLI(t, "verify", "--pub", pubs[0], "--pub", pubs[1], "--threshold", "2", file)
	require.Equal(t, exitOK, code, errs)
	code, _, errs = runCLI(t, "verify", "--pub", ring, "--threshold", "4", file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "threshold 4")
}

func TestVerifyLegacyCommand(t *testing.T) {
	t.Parallel()
	fixtures := filepath.Join("..", "..", "signature", "testdata", "minisign")
	pub := filepath.Join(fixtures, "a.pub")
	file := filepath.Join(fixtures, "message.txt")
	sig := filepath.Join(fixtures, "message.txt.legacy.minisig")
	code, _, errs := runCLI(t, "verify", "--pub", pub, "--sig", sig, file)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errs, "legacy")
	code, out, errs := runCLI(t, "verify", "--pub", pub, "--sig", sig, "--allow-legacy", file)
	require.Equal(t, exitOK, code, errs)
	require.Contains(t, out, "Trusted comment: timestamp:1700000000 file=message.txt")
}

// TestSignCommandsMinisign: keys and signatures of these commands work with the
// minisign tool, both ways.
func TestSignCommandsMinisign(t *testing.T) {
	t.Parallel()
	prog := testenv.NeedProgram(t, "minisign", "minisign")
	dir := t.TempDir()
	pub, sec := keygenT(t, dir, "k")
	file := writeT(t, filepath.Join(dir, "f.bin"), strings.Repeat("bytes", 5000))

	code, _, errs := runCLI(t, "sign", "--sec", sec, file)
	require.Equal(t, exitOK, code, errs)
	out, err := exec.Command(prog, "-V", "-H", "-p", pub, "-m", file).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "file:f.bin")

	out, err = exec.Command(prog, "-S", "-s", sec, "-m", file, "-t", "made by minisign").CombinedOutput()
	require.NoError(t, err, string(out))
	code, stdout, errs := runCLI(t, "verify", "--pub", pub, file)
	require.Equal(t, exitOK, code, errs)
	require.Contains(t, stdout, "Trusted comment: made by minisign")
}
