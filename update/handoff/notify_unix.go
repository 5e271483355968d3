//go:build unix

package handoff

import (
	"fmt"
	"net"
	"os"
)

// EnvNotifySocket names the service manager's notification socket (systemd's
// sd_notify protocol): a unit of Type=notify gives it to the service.
const EnvNotifySocket = "NOTIFY_SOCKET"

// notify sends state ("READY=1", "MAINPID=N\nREADY=1") to the service manager's
// socket, when the process runs under one. It reports whether there was a socket.
func notify(state string) (bool, error) {
	name := os.Getenv(EnvNotifySocket)
	if name == "" {
		return false, nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:] // an abstract socket (Linux)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return true, fmt.Errorf("handoff: %s %s: %w", EnvNotifySocket, os.Getenv(EnvNotifySocket), err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return true, fmt.Errorf("handoff: %s %s: %w", EnvNotifySocket, os.Getenv(EnvNotifySocket), err)
	}
	return true, nil
}
