package handoff

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, listeners, ready string
		want                   []spec
		wantReady              int
		wantVar                string // "" when no error is expected
	}{
		{name: "one tcp listener", listeners: `[{"fd":3,"network":"tcp","addr":"127.0.0.1:0"}]`, ready: "4",
			want: []spec{{FD: 3, Network: "tcp", Addr: "127.0.0.1:0"}}, wantReady: 4},
		{name: "tcp and unix", listeners: `[{"fd":3,"network":"tcp","addr":":80"},{"fd":4,"network":"unix","addr":"/run/a b.sock"}]`, ready: "5",
			want: []spec{{FD: 3, Network: "tcp", Addr: ":80"}, {FD: 4, Network: "unix", Addr: "/run/a b.sock"}}, wantReady: 5},
		{name: "no listeners", listeners: "", ready: "3", wantReady: 3},
		{name: "ready missing", listeners: `[]`, ready: "", wantVar: EnvReady},
		{name: "ready not a number", listeners: `[]`, ready: "x", wantVar: EnvReady},
		{name: "ready is stderr", listeners: `[]`, ready: "2", wantVar: EnvReady},
		{name: "not JSON", listeners: `tcp:3`, ready: "4", wantVar: EnvListeners},
		{name: "unknown field", listeners: `[{"fd":3,"network":"tcp","addr":":80","x":1}]`, ready: "4", wantVar: EnvListeners},
		{name: "listener on stdin", listeners: `[{"fd":0,"network":"tcp","addr":":80"}]`, ready: "4", wantVar: EnvListeners},
		{name: "fd twice", listeners: `[{"fd":3,"network":"tcp","addr":":80"},{"fd":3,"network":"tcp","addr":":81"}]`, ready: "4", wantVar: EnvListeners},
		{name: "listener on the ready fd", listeners: `[{"fd":4,"network":"tcp","addr":":80"}]`, ready: "4", wantVar: EnvListeners},
		{name: "no address", listeners: `[{"fd":3,"network":"tcp"}]`, ready: "4", wantVar: EnvListeners},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ready, err := parseEnv(tt.listeners, tt.ready)
			if tt.wantVar != "" {
				var ee *EnvError
				require.ErrorAs(t, err, &ee)
				require.Equal(t, tt.wantVar, ee.Var)
				require.ErrorIs(t, err, ErrEnv)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantReady, ready)
		})
	}
}

func TestReadyErrorMatches(t *testing.T) {
	t.Parallel()
	cause := errors.New("exit status 3")
	err := error(&ReadyError{Exe: "/srv/app/app", PID: 42, Err: cause})
	require.ErrorIs(t, err, ErrNotReady)
	require.ErrorIs(t, err, cause)
	require.Contains(t, err.Error(), "/srv/app/app (pid 42)")
}
