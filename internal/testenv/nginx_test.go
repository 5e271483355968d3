package testenv

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStartNginx(t *testing.T) {
	t.Parallel()
	client := &http.Client{Transport: &http.Transport{}}
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello, nginx\n"), 0o644))
	url := StartNginx(t, root)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:") && strings.HasSuffix(url, "/"), url)

	resp, err := client.Get(url + "hello.txt")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Server"), "nginx")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "hello, nginx\n", string(b))

	resp2, err := client.Get(url + "missing.txt")
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusNotFound, resp2.StatusCode)
}

func TestStartNginxLimitRate(t *testing.T) {
	t.Parallel()
	client := &http.Client{Transport: &http.Transport{}}
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "big.bin"), make([]byte, 3000), 0o644))
	url := StartNginx(t, root, NginxLimitRate(2000, 1000))
	start := time.Now()
	resp, err := client.Get(url + "big.bin")
	require.NoError(t, err)
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.EqualValues(t, 3000, n)
	// 2000 bytes at 2000 B/s after the first 1000.
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond)
}
