package maintenance

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/internal/atomicfile"
	"github.com/upkeep-go/upkeep/internal/i18n"
)

// DefaultFlagName is the flag file name of the ASP.NET convention: IIS serves it in place
// of the application while it is present.
const DefaultFlagName = "app_offline.htm"

// flagMarker starts every flag file upkeep writes; [IsFlagContent] looks for it.
const flagMarker = "<!-- upkeep-maintenance-flag v1 "

// flagRetryAfter is the refresh delay written into a flag page.
const flagRetryAfter = 30

// Flag is a maintenance flag file for a module that is not a Go program: a file named
// Name, such as [DefaultFlagName], placed in the module's folder while maintenance is on.
//
// The file upkeep writes starts with a marker. A file found under Name without it was
// put there by someone else: upkeep never overwrites nor removes it, and reports it with
// [ErrForeignFlag]. A file with the marker is upkeep's own and may always be removed,
// which is how a flag left behind by a crash is cleared.
type Flag struct {
	Name string // file name inside a module folder, e.g. "app_offline.htm"
}

// Place writes the flag into dir with a maintenance page showing reason. The file appears
// whole or not at all: it is written to a temporary file in dir, synced, then linked to
// its name, which fails rather than replace a file that appeared meanwhile. Where the
// file system has no hard links it is renamed instead, after checking the name is free.
//
// When the site's own maintenance page is kept beside the flag ([Flag.BakName]), the
// flag shows it (after upkeep's marker line) instead of upkeep's built-in page.
//
// Place does nothing when upkeep's flag is already there (its reason is left as it was),
// and returns a [*FlagError] wrapping [ErrForeignFlag] when a file that is not upkeep's
// is there; that file is left untouched.
func (f Flag) Place(dir, reason string) error {
	p, err := f.path(dir)
	if err != nil {
		return &FlagError{Op: "place", Path: p, Err: err}
	}
	if err := place(p, reason, f.sitePage(dir)); err != nil {
		return &FlagError{Op: "place", Path: p, Err: err}
	}
	return nil
}

// PlaceFor is Place into dir showing the page of the module folder siteDir: a
// module's staged tree, which becomes live at an exchange, carries the same flag as
// the live folder, the site's own page (BakName in siteDir) included.
func (f Flag) PlaceFor(dir, siteDir, reason string) error {
	p, err := f.path(dir)
	if err != nil {
		return &FlagError{Op: "place", Path: p, Err: err}
	}
	if err := place(p, reason, f.sitePage(siteDir)); err != nil {
		return &FlagError{Op: "place", Path: p, Err: err}
	}
	return nil
}

func place(p, reason string, sitePage []byte) error {
	// free reports whether p is free; when it is not, err is nil for upkeep's own flag
	// and ErrForeignFlag for anything else.
	free := func() (bool, error) {
		ok, ours, err := lookup(p)
		switch {
		case err != nil:
			return false, err
		case !ok:
			return true, nil
		case ours:
			return false, nil
		}
		return false, ErrForeignFlag
	}
	if ok, err := free(); !ok {
		return err
	}

	marker := flagMarker + "placed=" + time.Now().UTC().Format(time.RFC3339) + " -->\n"
	// A web server serves the flag to every visitor as it is: it says it in both languages.
	content := renderPage(reason, flagRetryAfter, marker, i18n.English, i18n.French)
	if sitePage != nil {
		content = append([]byte(marker), sitePage...)
	}
	tmp, err := atomicfile.Create(p, 0o644)
	if err != nil {
		return err
	}
	defer tmp.Abort()
	if _, err := tmp.Write(content); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.File.Close(); err != nil {
		return err
	}

	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			_, err := free()
			return err
		}
		// No hard links here (FAT, some network shares): rename, which replaces, so
		// only after making sure nothing has appeared at p.
		if ok, err := free(); !ok {
			return err
		}
		if err := os.Rename(tmp.Name(), p); err != nil {
			return err
		}
	}
	tmp.Abort() // removes the temporary name, which the link made redundant
	return atomicfile.SyncDir(filepath.Dir(p))
}

// Remove removes upkeep's flag from dir, with any temporary file a crash during
// [Flag.Place] left there. It returns nil when no flag is there (or dir does not exist),
// and a [*FlagError] wrapping [ErrForeignFlag] when the file there is not upkeep's; that
// file is left untouched.
func (f Flag) Remove(dir string) error {
	p, err := f.path(dir)
	if err != nil {
		return &FlagError{Op: "remove", Path: p, Err: err}
	}
	ok, ours, err := lookup(p)
	if err != nil {
		return &FlagError{Op: "remove", Path: p, Err: err}
	}
	if ok && !ours {
		return &FlagError{Op: "remove", Path: p, Err: ErrForeignFlag}
	}
	if ok {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &FlagError{Op: "remove", Path: p, Err: err}
		}
	}
	removed, err := f.removeLeftovers(dir)
	if err != nil {
		return err
	}
	if ok || removed {
		if err := atomicfile.SyncDir(dir); err != nil {
			return &FlagError{Op: "remove", Path: p, Err: err}
		}
	}
	return nil
}

// removeLeftovers removes temporary files of an interrupted Place: named as the
// temporary files of internal/atomicfile for this flag, and empty or carrying the marker.
func (f Flag) removeLeftovers(dir string) (removed bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, &FlagError{Op: "remove", Path: filepath.Join(dir, f.Name), Err: err}
	}
	prefix := "." + f.Name + ".tmp-"
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		tp := filepath.Join(dir, e.Name())
		head, err := readHead(tp)
		if err != nil || (len(head) > 0 && !IsFlagContent(head)) {
			continue
		}
		if err := os.Remove(tp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, &FlagError{Op: "remove", Path: tp, Err: err}
		}
		removed = true
	}
	return removed, nil
}

// Present reports whether a file is at the flag's path in dir and whether it is upkeep's
// own flag. A missing dir counts as no flag. Anything but a regular file (a folder, a
// symbolic link) is present and not upkeep's.
func (f Flag) Present(dir string) (present, ours bool, err error) {
	p, err := f.path(dir)
	if err != nil {
		return false, false, &FlagError{Op: "read", Path: p, Err: err}
	}
	present, ours, err = lookup(p)
	if err != nil {
		return false, false, &FlagError{Op: "read", Path: p, Err: err}
	}
	return present, ours, nil
}

// lookup is Present for a checked path, without wrapping errors.
func lookup(p string) (bool, bool, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if !fi.Mode().IsRegular() {
		return true, false, nil
	}
	head, err := readHead(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil // removed since Lstat
	}
	if err != nil {
		return true, false, err
	}
	return true, IsFlagContent(head), nil
}

// readHead returns the start of file p, enough for IsFlagContent.
func readHead(p string) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, 256))
}

// IsFlagContent reports whether data is the content of a flag file written by upkeep:
// it starts with upkeep's marker comment, closed on the same line.
func IsFlagContent(data []byte) bool {
	if !bytes.HasPrefix(data, []byte(flagMarker)) {
		return false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return bytes.HasSuffix(bytes.TrimRight(line, "\r"), []byte("-->"))
}

// path returns the flag's path in dir, or ErrFlagName when Name is not a plain file name.
func (f Flag) path(dir string) (string, error) {
	p := filepath.Join(dir, f.Name)
	if f.Name == "" || f.Name == "." || f.Name == ".." ||
		strings.ContainsAny(f.Name, `/\`) || filepath.Base(f.Name) != f.Name ||
		filepath.VolumeName(f.Name) != "" {
		return p, ErrFlagName
	}
	return p, nil
}
