package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The axe-core release the accessibility tests inject into Chromium, fetched with npm
// at test time (not kept in the repository: it is a 560 kB third-party build under
// its own licence, and npm is what CI has), and checked against this digest of its
// npm tarball, so that the rules the tests apply change only with this file.
const (
	AxeCoreVersion = "4.10.3"
	axeTarSHA256   = "0f2b4d7dcdf7d1219df8d1959ad68e565f51d14c3f0d88bb71cd59abeb956292"
)

var axe struct {
	once sync.Once
	src  string
	err  error
}

// AxeCore returns the source of axe-core's axe.min.js (AxeCoreVersion), fetched once
// per process with `npm pack` into a temporary folder. Without npm, or when the
// registry cannot be reached, the test is skipped (it fails under
// UPKEEP_INTEGRATION=1).
func AxeCore(t testing.TB) string {
	t.Helper()
	npm := NeedProgram(t, "npm", "npm")
	axe.once.Do(func() { axe.src, axe.err = fetchAxe(npm) })
	if axe.err != nil {
		msg := "axe-core " + AxeCoreVersion + ": " + axe.err.Error()
		if Integration() {
			t.Fatalf("%s (required because UPKEEP_INTEGRATION=1)", msg)
		}
		t.Skip(msg)
	}
	return axe.src
}

func fetchAxe(npm string) (string, error) {
	dir, err := os.MkdirTemp("", "upkeep-axe-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", "axe-core@"+AxeCoreVersion, "--json", "--pack-destination", dir)
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(out.Bytes(), &packed); err != nil || len(packed) != 1 {
		return "", fmt.Errorf("npm pack: unexpected output %q", out.String())
	}
	tgz, err := os.ReadFile(filepath.Join(dir, filepath.Base(packed[0].Filename)))
	if err != nil {
		return "", err
	}
	if sum := sha256.Sum256(tgz); hex.EncodeToString(sum[:]) != axeTarSHA256 {
		return "", fmt.Errorf("%s: sha256 %x, want %s", packed[0].Filename, sum, axeTarSHA256)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("%s: no package/axe.min.js: %v", packed[0].Filename, err)
		}
		if h.Name == "package/axe.min.js" {
			b, err := io.ReadAll(io.LimitReader(tr, 8<<20))
			return string(b), err
		}
	}
}
