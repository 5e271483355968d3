package pack

import (
	"bytes"
	"context"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLargeEntries checks entries larger than many copy buffers.
func TestLargeEntries(t *testing.T) {
	t.Parallel()
	big := make([]byte, 8<<20+12345)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(big); i += 8 {
		v := rnd.Uint64()
		for k := 0; k < 8 && i+k < len(big); k++ {
			big[i+k] = byte(v >> (8 * k))
		}
	}
	good := deflatedLevel("big.bin", big, 0o644, 0)
	badCRC := good
	badCRC.crc++
	liar := deflatedLevel("liar.bin", append(big, big[:1<<20]...), 0o644, 0)
	liar.usize = uint64(len(big))
	liar.crc = crc32.ChecksumIEEE(big)
	short := good
	short.usize += 10
	tests := []struct {
		name     string
		zip      []byte
		wantErr  error
		wantRule Rule
	}{
		{"ok", rawZip(good), nil, ""},
		{"crc", rawZip(badCRC), ErrChecksum, RuleCRC},
		{"inflates beyond declared size", rawZip(liar), ErrLimit, RuleSize},
		{"shorter than declared", rawZip(short), ErrFormat, RuleSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dest := filepath.Join(parent, "d")
			_, err := Extract(context.Background(), bytes.NewReader(tt.zip), int64(len(tt.zip)), dest, WithoutSync())
			if tt.wantErr == nil {
				require.NoError(t, err)
				got, err := os.ReadFile(filepath.Join(dest, "big.bin"))
				require.NoError(t, err)
				require.True(t, bytes.Equal(big, got))
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			var ee *EntryError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, tt.wantRule, ee.Rule)
			require.Empty(t, dirNames(t, parent))
		})
	}
}
