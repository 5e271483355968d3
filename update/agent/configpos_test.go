package agent

import (
	"testing"
)

// FuzzKeyPositions: whatever the bytes, the key positions lie inside them and each
// names a line and column that exist; a key's suggestion never panics either.
func FuzzKeyPositions(f *testing.F) {
	f.Add([]byte(`{"source":"x","modules":[{"name":"a","pth":"/a"}],"stat_dir":"s"}`))
	f.Add([]byte("{\n \"a\": [1, {\"b\": {\"c\": []}}],\n \"\\u00e9\": null}"))
	f.Add([]byte(`[{"x":1},{"x":2}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for p, off := range keyPositions(data) {
			if off < 0 || off > int64(len(data)) {
				t.Fatalf("%q at %d, outside %d bytes", p, off, len(data))
			}
			line, col := lineCol(data, off)
			if line < 1 || col < 1 {
				t.Fatalf("%q at %d: line %d col %d", p, off, line, col)
			}
			_ = closest(p, knownKeys(parentPath(p)))
		}
		_ = failingKey(data)
	})
}
