package publish_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/publish"
)

// TestPublishKeysRefusesAlias: a signing key is its public-key bytes, whatever ID it
// is listed under: adding a key already listed (or removed) under another ID is
// refused, naming both IDs, and the key set is left as it was.
func TestPublishKeysRefusesAlias(t *testing.T) {
	t.Parallel()
	repo := filepath.Join(t.TempDir(), "repo")
	_, root, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	a, _, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	b, _, err := signature.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = publish.PublishKeys(ctx, repo, []signature.PrivateKey{root}, publish.KeysChange{Add: []signature.ValidKey{{Key: a}, {Key: b}}})
	require.NoError(t, err)

	raw, err := base64.StdEncoding.DecodeString(a.String())
	require.NoError(t, err)
	binary.LittleEndian.PutUint64(raw[2:10], 0x4444)
	keys, err := signature.ParsePublicKeys([]byte(base64.StdEncoding.EncodeToString(raw)))
	require.NoError(t, err)
	other := keys[0]
	_, err = publish.PublishKeys(ctx, repo, []signature.PrivateKey{root}, publish.KeysChange{Add: []signature.ValidKey{{Key: other}}})
	require.ErrorContains(t, err, a.ID().String())
	require.ErrorContains(t, err, other.ID().String())

	// Removed under its ID, the key is not added back under another.
	_, err = publish.PublishKeys(ctx, repo, []signature.PrivateKey{root}, publish.KeysChange{Remove: []signature.KeyID{a.ID()}})
	require.NoError(t, err)
	_, err = publish.PublishKeys(ctx, repo, []signature.PrivateKey{root}, publish.KeysChange{Add: []signature.ValidKey{{Key: other}}})
	require.ErrorContains(t, err, a.ID().String())
	require.ErrorContains(t, err, "revoked")
}
