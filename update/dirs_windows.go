//go:build windows

package update

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// renameAt moves from/fromName to to/toName. Windows has no *at calls: the move goes
// by path. Creating links needs a privilege there that the accounts applications run
// as do not have, which is what makes the path safe enough.
func renameAt(from *dir, fromName string, to *dir, toName string) error {
	return os.Rename(from.join(fromName), to.join(toName))
}

// exchangeAt has no atomic form on Windows: the caller falls back to three renames.
func exchangeAt(a *dir, aName string, b *dir, bName string) error { return errNoExchange }

// checkOwned is not enforced on Windows, where rights are ACLs (documented).
func checkOwned(d *dir, what string) error { return nil }

func ownedInfo(path string, fi os.FileInfo, what string) error { return nil }

// idAt identifies the folder name under d by its file index, which survives a
// remount, and by no name.
func idAt(d *dir, name string) (string, error) { return fileIndex(d.join(name)) }

// anchored returns d's path to name.
func (d *dir) anchored(name string) string { return d.join(name) }

// fileIndex identifies the folder at path by its volume file index.
func fileIndex(path string) (string, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return "", err
	}
	h, err := windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return "", err
	}
	defer windows.CloseHandle(h)
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return "", err
	}
	return fmt.Sprint(uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow)), nil
}

// syncDir does nothing: Windows cannot flush a folder handle, and NTFS journals
// renames.
func syncDir(d *dir) error { return nil }

// syscallNoFollow is 0: Windows opens links as what they point to only with a flag
// os.OpenFile does not take.
const syscallNoFollow = 0
