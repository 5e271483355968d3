package selfupdate_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/agent"
	"github.com/upkeep-go/upkeep/update/selfupdate"
)

func publicKey(t *testing.T) []byte {
	pk, _, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	b, err := pk.MarshalText()
	require.NoError(t, err)
	return b
}

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	key := publicKey(t)
	valid := func(t *testing.T) selfupdate.Config {
		return selfupdate.Config{Module: "app", Version: "1.0.0", Source: t.TempDir(), Keys: key,
			StateDir: t.TempDir(), Dir: filepath.Join(t.TempDir(), "app")}
	}
	tests := []struct {
		name   string
		change func(c *selfupdate.Config)
		want   string // "" for no error
	}{
		{"valid", func(c *selfupdate.Config) {}, ""},
		{"no module", func(c *selfupdate.Config) { c.Module = "" }, "selfupdate: config Module: missing"},
		{"no version", func(c *selfupdate.Config) { c.Version = "" }, "selfupdate: config Version: missing"},
		{"no source", func(c *selfupdate.Config) { c.Source = "" }, "selfupdate: config Source: missing"},
		{"no keys", func(c *selfupdate.Config) { c.Keys = nil }, "selfupdate: config Keys: missing"},
		{"no state dir", func(c *selfupdate.Config) { c.StateDir = "" }, "selfupdate: config StateDir: missing"},
		{"keys not keys", func(c *selfupdate.Config) { c.Keys = []byte("-----BEGIN PUBLIC KEY-----\n") }, "selfupdate: config Keys: "},
		{"threshold above the keys", func(c *selfupdate.Config) { c.Threshold = 2 }, "selfupdate: config Keys: "},
		{"bad module name", func(c *selfupdate.Config) { c.Module = "../app" }, "selfupdate: config Module: "},
		{"relative dir", func(c *selfupdate.Config) { c.Dir = "app" }, "selfupdate: config Dir: "},
		{"negative interval", func(c *selfupdate.Config) { c.CheckInterval = -time.Second }, "selfupdate: config CheckInterval: -1s is negative"},
		{"bad window", func(c *selfupdate.Config) { c.Window = &agent.Window{Hours: "2-3"} }, "selfupdate: config Window: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid(t)
			tt.change(&c)
			_, err := selfupdate.New(c)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestServeOnce(t *testing.T) {
	t.Parallel()
	u, err := selfupdate.New(selfupdate.Config{Module: "app", Version: "1.0.0", Source: t.TempDir(), Keys: publicKey(t),
		StateDir: t.TempDir(), Dir: filepath.Join(t.TempDir(), "app")})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.ErrorContains(t, u.Serve(ctx, &http.Server{}), "no listener (call Listen first)")
	ln, err := u.Listen(ctx, "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go func() { served <- u.Serve(ctx, srv) }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	require.ErrorContains(t, u.Serve(ctx, &http.Server{}), "Serve called twice")
	cancel()
	require.NoError(t, <-served, "a Serve stopped by its context returns nil")
}
