//go:build windows

package update

import "os"

// linkAt makes to/toName a hard link to the file from/fromName. Windows has no *at
// calls: the link goes by path, as renameAt does.
func linkAt(from *dir, fromName string, to *dir, toName string) error {
	return os.Link(from.join(fromName), to.join(toName))
}
