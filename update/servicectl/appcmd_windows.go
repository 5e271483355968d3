package servicectl

import (
	"os"
	"os/exec"
	"path/filepath"
)

// appcmdPath returns IIS's appcmd.exe, from the Windows folder, else from PATH.
func appcmdPath() (string, error) {
	if dir := os.Getenv("windir"); dir != "" {
		p := filepath.Join(dir, "system32", "inetsrv", "appcmd.exe")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("appcmd.exe")
}
