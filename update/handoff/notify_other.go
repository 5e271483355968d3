//go:build !unix

package handoff

// EnvNotifySocket names systemd's notification socket; there is none on this system.
const EnvNotifySocket = "NOTIFY_SOCKET"

// notify does nothing: no service manager here reads sd_notify messages (a Windows
// service reports its state through the service control manager).
func notify(state string) (bool, error) { return false, nil }
