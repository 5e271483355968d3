//go:build unix

package service

import (
	"fmt"
	"net"
)

// send writes msg as one datagram to the socket. A name starting with '@' is an
// abstract socket (Linux): the net package turns the '@' into the leading NUL byte.
func send(socket, msg string) error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", socket, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", socket, err)
	}
	return nil
}
