package service

import "errors"

// send does nothing useful on Windows: there is no systemd to notify.
func send(socket, msg string) error {
	return errors.New("sd_notify: no systemd on Windows")
}
