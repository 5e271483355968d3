package hooks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPhases(t *testing.T) {
	t.Parallel()
	require.Equal(t, []Phase{StartUpdate, PreBackup, PostBackup, PreInstall, PostInstall, EndUpdate, Rollback}, Phases())
	ps := Phases()
	ps[0] = "X"
	require.Equal(t, StartUpdate, Phases()[0], "Phases returns a fresh slice")
}

func TestParsePhase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    Phase
		wantErr bool
	}{
		{in: "STARTUPDATE", want: StartUpdate},
		{in: "preinstall", want: PreInstall},
		{in: "PostInstall", want: PostInstall},
		{in: "rollback", want: Rollback},
		{in: "EndUpdate", want: EndUpdate},
		{in: "", wantErr: true},
		{in: "INSTALL", wantErr: true},
		{in: " PREBACKUP", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePhase(tc.in)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrUnknownPhase)
				require.Contains(t, err.Error(), `"`+tc.in+`"`)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.True(t, got.Valid())
			require.Equal(t, string(tc.want), got.String())
		})
	}
}

func TestPhaseAborts(t *testing.T) {
	t.Parallel()
	want := map[Phase]bool{
		StartUpdate: true, PreBackup: true, PostBackup: true, PreInstall: true, PostInstall: true,
		EndUpdate: false, Rollback: false, "UNKNOWN": true,
	}
	for p, aborts := range want {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, aborts, p.Aborts())
		})
	}
	require.False(t, Phase("UNKNOWN").Valid())
}
