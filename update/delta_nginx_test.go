package update_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/upkeep-go/upkeep/internal/testenv"
	"github.com/upkeep-go/upkeep/update"
	"github.com/upkeep-go/upkeep/update/updatetest"
)

// TestDeltaNginx: through Debian's nginx, an update over a live tree with a file
// rewritten since its install downloads the delta, and asks the full pack only for
// that file, by Range requests (nginx's access log shows them).
func TestDeltaNginx(t *testing.T) {
	t.Parallel()
	accessLog := filepath.Join(t.TempDir(), "access.log")
	de := newDeltaEnvAt(t, update.Swap, nil, func(dir string) string {
		return testenv.StartNginx(t, dir, testenv.NginxAccessLog(accessLog))
	})
	require.NoError(t, os.WriteFile(filepath.Join(de.module, "conf", "web.config"), []byte("rewritten by POSTINSTALL"), 0o644))
	res, err := de.eng.Install(context.Background(), "web", update.InstallOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"1.1.0"}, res.Deltas)
	require.Equal(t, de.v2, updatetest.ReadTree(t, de.module))

	b, err := os.ReadFile(accessLog)
	require.NoError(t, err)
	var deltas, ranges int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line) // METHOD URI STATUS RANGE BYTES
		require.Len(t, f, 5, line)
		switch f[1] {
		case "/" + de.delta:
			require.Equal(t, "200", f[2], line)
			deltas++
		case "/" + de.full:
			require.Equal(t, "206", f[2], "only Range requests on the full pack: %s", line)
			require.Regexp(t, `^bytes=\d+-\d+$`, f[3], line)
			ranges++
		}
	}
	require.Equal(t, 1, deltas, "the delta is downloaded once:\n%s", b)
	require.NotZero(t, ranges, "the rewritten file comes from the full pack:\n%s", b)
	t.Logf("access log:\n%s", b)
}
