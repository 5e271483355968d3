package service

import (
	"context"
	"os"
	"strconv"
	"time"
)

// Notifier tells systemd how the service is doing (sd_notify): READY=1 once it
// serves, WATCHDOG=1 while it is alive, STOPPING=1 when it stops. A nil Notifier,
// which NotifierFromEnv returns outside systemd, does nothing.
type Notifier struct {
	socket   string        // NOTIFY_SOCKET: a path, or "@name" for an abstract socket
	watchdog time.Duration // WATCHDOG_USEC, 0 without a watchdog
}

// NotifierFromEnv returns the Notifier systemd's environment asks for
// (NOTIFY_SOCKET, and WATCHDOG_USEC when WATCHDOG_PID is unset or this process), or
// nil when the process was not started by systemd with Type=notify.
func NotifierFromEnv() *Notifier {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	n := &Notifier{socket: sock}
	if pid := os.Getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
		if us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
			n.watchdog = time.Duration(us) * time.Microsecond
		}
	}
	return n
}

// Ready tells systemd the service is up (READY=1).
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping tells systemd the service is stopping (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Watchdog returns the watchdog interval systemd expects, 0 when there is none.
func (n *Notifier) Watchdog() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// RunWatchdog sends WATCHDOG=1 at half the watchdog interval until ctx is done. It
// returns at once when there is no watchdog.
func (n *Notifier) RunWatchdog(ctx context.Context) {
	if n.Watchdog() <= 0 {
		return
	}
	t := time.NewTicker(n.watchdog / 2)
	defer t.Stop()
	for {
		n.Notify("WATCHDOG=1")
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Notify sends states ("READY=1", "STATUS=…") in one datagram.
func (n *Notifier) Notify(states ...string) error {
	if n == nil {
		return nil
	}
	msg := ""
	for _, s := range states {
		msg += s + "\n"
	}
	return send(n.socket, msg)
}
