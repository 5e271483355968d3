package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	content := bytes.Repeat([]byte("0123456789"), 100)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), content, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".secret"), []byte("no"), 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var errb bytes.Buffer
	cl := &cli{stdin: bytes.NewReader(nil), stdout: outW, stderr: &errb}
	exited := make(chan int, 1)
	go func() {
		exited <- cl.main(ctx, []string{"serve", dir, "--addr", "127.0.0.1:0"})
		outW.Close()
	}()

	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err, "stderr: %s", errb.String())
	m := regexp.MustCompile(`^serving (.+) on (http://127\.0\.0\.1:(\d+)/)\n$`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	require.Equal(t, dir, m[1])
	require.NotEqual(t, "0", m[3], "the real port is printed")
	base := m[2]

	client := &http.Client{Transport: &http.Transport{}}
	get := func(path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}

	resp, b := get("manifest.json")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, b)
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)

	resp, b = get("manifest.json", "Range", "bytes=990-")
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, content[990:], b)

	resp, _ = get("manifest.json", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, resp.StatusCode)

	resp, _ = get(".secret")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	cancel()
	select {
	case code := <-exited:
		require.Equal(t, exitOK, code, "stderr: %s", errb.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop when its context was cancelled")
	}
}

func TestServeErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no dir", []string{"serve"}, exitUsage, "", "DIR"},
		{"two dirs", []string{"serve", "a", "b"}, exitUsage, "", "DIR"},
		{"help", []string{"serve", "-h"}, exitOK, "usage: upkeep serve DIR", ""},
		{"missing dir", []string{"serve", filepath.Join(file, "nope"), "--addr", "127.0.0.1:0"}, exitFailed, "", "nope"},
		{"not a dir", []string{"serve", file, "--addr", "127.0.0.1:0"}, exitFailed, "", "not a directory"},
		{"bad addr", []string{"serve", t.TempDir(), "--addr", "127.0.0.1:99999"}, exitFailed, "", "99999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCLI(t, tt.args...)
			require.Equal(t, tt.wantCode, code, "stderr: %s", errs)
			require.Contains(t, out, tt.wantOut)
			require.Contains(t, errs, tt.wantErr)
		})
	}
}

func TestServeReachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8090}, "127.0.0.1:8090"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8090}, "127.0.0.1:8090"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, "127.0.0.1:80"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8090}, "[::1]:8090"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, reachable(tt.addr), tt.addr.String())
	}
}
