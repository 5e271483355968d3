package trust_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
)

type key struct {
	pub signature.PublicKey
	sec signature.PrivateKey
}

func newKey(t testing.TB) key {
	t.Helper()
	pub, sec, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return key{pub, sec}
}

func sign(t testing.TB, data []byte, comment string, keys ...key) []byte {
	t.Helper()
	var sig []byte
	for _, k := range keys {
		blk, err := signature.Sign(k.sec, bytes.NewReader(data), comment)
		require.NoError(t, err)
		sig, err = signature.AppendSignature("sig", sig, blk)
		require.NoError(t, err)
	}
	return sig
}

func ring(t testing.TB, threshold int, keys ...key) *signature.Keyring {
	t.Helper()
	var pubs []signature.PublicKey
	for _, k := range keys {
		pubs = append(pubs, k.pub)
	}
	kr, err := signature.NewKeyring(pubs, signature.WithThreshold(threshold))
	require.NoError(t, err)
	return kr
}

// signedManifest returns a manifest of product at serial, expiring at expires, and
// its signature file by keys with the publisher's binding.
func signedManifest(t testing.TB, product string, serial uint64, expires time.Time, keys ...key) ([]byte, []byte) {
	t.Helper()
	m := &manifest.Manifest{Schema: manifest.SchemaVersion, Product: product, Serial: serial, Expires: expires.UTC().Truncate(time.Second),
		Releases: []manifest.Release{{Module: "web", Version: "1.0.0", Packs: []manifest.Pack{{Platform: "linux/amd64", File: "web.zip", Size: 1, SHA256: fmt.Sprintf("%064x", serial)}}}}}
	data, err := m.Marshal()
	require.NoError(t, err)
	return data, sign(t, data, fmt.Sprintf("timestamp:1 file=manifest.json serial=%d product=%s", serial, product), keys...)
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func decode(line []byte) ([]byte, error) { return base64.StdEncoding.DecodeString(string(line)) }
func encode(b []byte) string             { return base64.StdEncoding.EncodeToString(b) }
