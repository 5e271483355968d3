package signature

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseBindingBad(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, comment, want string }{
		{"empty", "", "no file="},
		{"minisign default", "timestamp:1700000000\tfile:app.zip\thashed", "no file="},
		{"field twice", "file=a.zip file=b.zip", "file given twice"},
		{"version twice", "version=1 module=m version=2", "version given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseBinding(tt.comment)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestParseBinding(t *testing.T) {
	t.Parallel()
	full := Binding{File: "app.zip", Module: "app", Version: "1.2.0", Platform: "linux/amd64"}
	tests := []struct {
		name, comment string
		want          Binding
	}{
		{"String form", full.String(), full},
		{"after timestamp", "timestamp:1700000000 " + full.String(), full},
		{"tabs and other keys", "timestamp:1\tsigner=ci\tplatform=linux/amd64 version=1.2.0  module=app file=app.zip", full},
		{"partial", "file=manifest.json", Binding{File: "manifest.json"}},
		{"empty value", "file= module=m", Binding{Module: "m"}},
		{"value with =", "file=a=b", Binding{File: "a=b"}},
		{"delta", "timestamp:1 file=d.zip module=app version=1.2.0 platform=linux/amd64 from=1.1.0",
			Binding{File: "d.zip", Module: "app", Version: "1.2.0", Platform: "linux/amd64", From: "1.1.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBinding(tt.comment)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestBindingTrustedComment(t *testing.T) {
	t.Parallel()
	b := Binding{File: "app.zip", Module: "app", Version: "1.2.0", Platform: "linux/amd64"}
	tc, err := b.TrustedComment(time.Unix(1700000000, 0))
	require.NoError(t, err)
	require.Equal(t, "timestamp:1700000000 file=app.zip module=app version=1.2.0 platform=linux/amd64", tc)
	b.From = "1.1.0"
	tc, err = b.TrustedComment(time.Unix(1700000000, 0))
	require.NoError(t, err)
	require.Equal(t, "timestamp:1700000000 file=app.zip module=app version=1.2.0 platform=linux/amd64 from=1.1.0", tc)
	_, err = Binding{File: "my app.zip"}.TrustedComment(time.Unix(0, 0))
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, `"my app.zip"`)
}

func TestBindingCheck(t *testing.T) {
	t.Parallel()
	pub, priv := mustGenerate(t)
	pub2, priv2 := mustGenerate(t)
	want := Binding{File: "app-1.2.0.zip", Module: "app", Version: "1.2.0", Platform: "linux/amd64"}
	msg := []byte("pack bytes")
	signWith := func(k PrivateKey, b Binding) []byte {
		tc, err := b.TrustedComment(time.Unix(1700000000, 0))
		require.NoError(t, err)
		return mustSign(t, k, msg, tc)
	}
	other := func(edit func(*Binding)) Binding { b := want; edit(&b); return b }
	tests := []struct {
		name      string
		sig       []byte
		field     string
		wantV     string
		got       string
		wrongKey  KeyID
		threshold int
	}{
		{"another file", signWith(priv, other(func(b *Binding) { b.File = "other.zip" })), "file", "app-1.2.0.zip", "other.zip", pub.ID(), 1},
		{"another module", signWith(priv, other(func(b *Binding) { b.Module = "db" })), "module", "app", "db", pub.ID(), 1},
		{"older version", signWith(priv, other(func(b *Binding) { b.Version = "1.1.0" })), "version", "1.2.0", "1.1.0", pub.ID(), 1},
		{"another platform", signWith(priv, other(func(b *Binding) { b.Platform = "windows/amd64" })), "platform", "linux/amd64", "windows/amd64", pub.ID(), 1},
		{"field missing", mustSign(t, priv, msg, "file=app-1.2.0.zip module=app version=1.2.0"), "platform", "linux/amd64", "", pub.ID(), 1},
		{"no binding at all", mustSign(t, priv, msg, "timestamp:1\tfile:app-1.2.0.zip"), "", "", "no file=", pub.ID(), 1},
		{"second signer differs", append(signWith(priv, want), signWith(priv2, other(func(b *Binding) { b.Version = "0.9" }))...), "version", "1.2.0", "0.9", pub2.ID(), 2},
		{"a delta's signature for the full pack", signWith(priv, other(func(b *Binding) { b.From = "1.1.0" })), "from", "", "1.1.0", pub.ID(), 1},
		{"ok", signWith(priv, want), "", "", "", 0, 1},
		{"ok, two signers", append(signWith(priv, want), signWith(priv2, want)...), "", "", "", 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr := mustKeyring(t, []PublicKey{pub, pub2}, WithThreshold(tt.threshold))
			v, err := kr.Verify("app-1.2.0.zip", tt.sig, bytes.NewReader(msg))
			require.NoError(t, err)
			err = want.Check(v)
			if tt.wrongKey == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrBindingMismatch)
			var be *BindingError
			require.ErrorAs(t, err, &be)
			require.Equal(t, "app-1.2.0.zip", be.Name)
			require.Equal(t, tt.wrongKey, be.KeyID)
			require.Equal(t, tt.field, be.Field)
			require.Contains(t, err.Error(), tt.wrongKey.String())
			require.Contains(t, err.Error(), "app-1.2.0.zip")
			if tt.field != "" {
				require.Equal(t, tt.wantV, be.Want)
				require.Equal(t, tt.got, be.Got)
				require.Contains(t, err.Error(), tt.field+": want ")
			} else {
				require.Contains(t, be.Got, tt.got)
			}
		})
	}
	// A delta's binding refuses the full pack's signature, and a delta from another version.
	delta := want
	delta.From = "1.1.0"
	kr := mustKeyring(t, []PublicKey{pub})
	for _, sig := range [][]byte{signWith(priv, want), signWith(priv, other(func(b *Binding) { b.From = "1.0.0" }))} {
		v, err := kr.Verify("app-1.2.0.zip", sig, bytes.NewReader(msg))
		require.NoError(t, err)
		var be *BindingError
		require.ErrorAs(t, delta.Check(v), &be)
		require.Equal(t, "from", be.Field)
	}
	v, err := kr.Verify("app-1.2.0.zip", signWith(priv, delta), bytes.NewReader(msg))
	require.NoError(t, err)
	require.NoError(t, delta.Check(v))
	require.ErrorIs(t, want.Check(nil), ErrBindingMismatch)
	require.ErrorIs(t, want.Check(&Verified{Name: "x"}), ErrBindingMismatch)
}
