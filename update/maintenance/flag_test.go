package maintenance

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// requireCompleteFlag checks that data is a whole flag page of upkeep's.
func requireCompleteFlag(t *testing.T, data []byte) {
	t.Helper()
	require.True(t, IsFlagContent(data), "marker missing: %q", data)
	require.True(t, bytes.HasSuffix(data, []byte("</html>\n")), "page incomplete: %q", data)
}

func TestFlagPlaceAndRemove(t *testing.T) {
	t.Parallel()
	for _, name := range []string{DefaultFlagName, "app_offline.html", "MAINTENANCE"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			f := Flag{Name: name}
			p := filepath.Join(dir, name)

			present, ours, err := f.Present(dir)
			require.NoError(t, err)
			require.False(t, present)
			require.False(t, ours)

			require.NoError(t, f.Place(dir, "installing <v2> & co"))
			require.Equal(t, []string{name}, listDir(t, dir), "no temporary file may remain")
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			requireCompleteFlag(t, data)
			require.Contains(t, string(data), "installing &lt;v2&gt; &amp; co")
			present, ours, err = f.Present(dir)
			require.NoError(t, err)
			require.True(t, present)
			require.True(t, ours)

			// Placing again leaves the flag as it is.
			require.NoError(t, f.Place(dir, "another reason"))
			again, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, data, again)
			require.Equal(t, []string{name}, listDir(t, dir))

			require.NoError(t, f.Remove(dir))
			require.Empty(t, listDir(t, dir))
			require.NoError(t, f.Remove(dir), "removing an absent flag is fine")
			present, _, err = f.Present(dir)
			require.NoError(t, err)
			require.False(t, present)
		})
	}
}

func TestFlagMissingDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "gone")
	f := Flag{Name: DefaultFlagName}
	require.NoError(t, f.Remove(dir))
	present, ours, err := f.Present(dir)
	require.NoError(t, err)
	require.False(t, present || ours)
	err = f.Place(dir, "x")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), filepath.Join(dir, DefaultFlagName))
}

func TestFlagForeignFileLeftAlone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, p string)
	}{
		{"person's page", func(t *testing.T, p string) {
			require.NoError(t, os.WriteFile(p, []byte("<html>Back at 3pm. -- the admin</html>"), 0o644))
		}},
		{"empty file", func(t *testing.T, p string) {
			require.NoError(t, os.WriteFile(p, nil, 0o644))
		}},
		{"marker not at the start", func(t *testing.T, p string) {
			require.NoError(t, os.WriteFile(p, []byte("hand made\n"+flagMarker+"placed=x -->\n"), 0o644))
		}},
		{"folder", func(t *testing.T, p string) {
			require.NoError(t, os.Mkdir(p, 0o755))
		}},
		{"symbolic link to a flag of ours", func(t *testing.T, p string) {
			if runtime.GOOS == "windows" {
				t.Skip("symbolic links need privileges on Windows")
			}
			target := filepath.Join(filepath.Dir(p), "elsewhere")
			require.NoError(t, os.WriteFile(target, renderPage("", 1, flagMarker+"placed=x -->\n"), 0o644))
			require.NoError(t, os.Symlink(target, p))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			f := Flag{Name: DefaultFlagName}
			p := filepath.Join(dir, f.Name)
			tt.setup(t, p)
			before := snapshot(t, p)
			names := listDir(t, dir)

			present, ours, err := f.Present(dir)
			require.NoError(t, err)
			require.True(t, present)
			require.False(t, ours)

			err = f.Place(dir, "x")
			require.ErrorIs(t, err, ErrForeignFlag)
			var fe *FlagError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, p, fe.Path)
			require.Equal(t, "maintenance: place "+p+": flag file not placed by upkeep", err.Error())
			require.Equal(t, before, snapshot(t, p))
			require.Equal(t, names, listDir(t, dir), "no temporary file may remain")

			err = f.Remove(dir)
			require.ErrorIs(t, err, ErrForeignFlag)
			require.Contains(t, err.Error(), p)
			require.Equal(t, before, snapshot(t, p))
			require.Equal(t, names, listDir(t, dir))
		})
	}
}

// snapshot describes what is at p: its kind and content.
func snapshot(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	require.NoError(t, err)
	if !fi.Mode().IsRegular() {
		return fi.Mode().Type().String()
	}
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(data)
}

func TestFlagStaleOursRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := Flag{Name: DefaultFlagName}
	// A flag left by a crashed install days ago, and temporary files of a Place cut
	// short: empty, and complete but never renamed.
	stale := renderPage("old install", 30, flagMarker+"placed=2020-01-01T00:00:00Z -->\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), stale, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "."+f.Name+".tmp-111"), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "."+f.Name+".tmp-222"), stale, 0o600))
	// Not ours: a person's file with a similar name, and the module's own files.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "."+f.Name+".tmp-333"), []byte("notes"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.php"), []byte("<?php"), 0o644))

	present, ours, err := f.Present(dir)
	require.NoError(t, err)
	require.True(t, present && ours)
	require.NoError(t, f.Remove(dir))
	require.Equal(t, []string{"." + f.Name + ".tmp-333", "index.php"}, listDir(t, dir))
}

func TestFlagBadName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", ".", "..", "../app_offline.htm", "sub/app_offline.htm", `sub\app_offline.htm`} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			f := Flag{Name: name}
			require.ErrorIs(t, f.Place(dir, "x"), ErrFlagName)
			require.ErrorIs(t, f.Remove(dir), ErrFlagName)
			_, _, err := f.Present(dir)
			require.ErrorIs(t, err, ErrFlagName)
			require.Empty(t, listDir(t, dir))
		})
	}
}

func TestIsFlagContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want bool
	}{
		{"ours", flagMarker + "placed=2026-01-01T00:00:00Z -->\n<!DOCTYPE html>", true},
		{"ours with CRLF", flagMarker + "placed=x -->\r\n<html>", true},
		{"marker alone", flagMarker + "-->", true},
		{"built page", string(renderPage("r", 30, flagMarker+"placed=x -->\n")), true},
		{"empty", "", false},
		{"person's page", "<!DOCTYPE html><p>down</p>", false},
		{"comment not closed on its line", flagMarker + "placed=x\n-->", false},
		{"other version", "<!-- upkeep-maintenance-flag v2 -->\n", false},
		{"leading space", " " + flagMarker + "-->", false},
		{"marker later", "<html>\n" + flagMarker + "-->\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, IsFlagContent([]byte(tt.data)))
		})
	}
}

// TestFlagNeverPartial reads the flag while it is placed and removed over and over:
// every read finds either no file or a whole page.
func TestFlagNeverPartial(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := Flag{Name: DefaultFlagName}
	p := filepath.Join(dir, f.Name)
	reason := strings.Repeat("a long reason to make the page span several writes ", 15)

	done := make(chan struct{})
	var wg sync.WaitGroup
	halt := sync.OnceFunc(func() { close(done); wg.Wait() })
	defer halt()
	var seen sync.Map
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				data, err := os.ReadFile(p)
				if errors.Is(err, fs.ErrNotExist) ||
					(runtime.GOOS == "windows" && errors.Is(err, fs.ErrPermission)) { // delete pending
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				seen.Store("present", true)
				if !IsFlagContent(data) || !bytes.HasSuffix(data, []byte("</html>\n")) {
					t.Errorf("partial flag read: %d bytes", len(data))
					return
				}
			}
		})
	}
	for range 50 { // each round syncs to disk three times
		require.NoError(t, f.Place(dir, reason))
		require.NoError(t, f.Remove(dir))
	}
	halt()
	require.Empty(t, listDir(t, dir))
	_, sawPresent := seen.Load("present")
	require.True(t, sawPresent, "the readers never saw the flag; the test proves nothing")
}

func TestFlagErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&FlagError{Op: "remove", Path: "/srv/shop/app_offline.htm", Err: ErrForeignFlag})
	require.Equal(t, "maintenance: remove /srv/shop/app_offline.htm: flag file not placed by upkeep", err.Error())
	require.ErrorIs(t, err, ErrForeignFlag)
}
