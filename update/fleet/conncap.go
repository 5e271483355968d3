package fleet

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// capListener closes, as soon as they are accepted, the connections of a client
// address that already holds max: one client cannot take every descriptor of the
// master, and the others (real slaves) still get in.
type capListener struct {
	net.Listener
	max int
	log *slog.Logger

	mu      sync.Mutex
	open    map[string]int // client IP → connections open
	refused int            // since the last log line
	logged  time.Time
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientIP(c.RemoteAddr())
		l.mu.Lock()
		if l.open[ip] >= l.max {
			l.refused++
			if now := time.Now(); now.Sub(l.logged) >= 10*time.Second {
				l.log.Warn("fleet: connections refused: too many from one client", "client", ip, "max", l.max, "refused", l.refused)
				l.logged, l.refused = now, 0
			}
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &cappedConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *capListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

func clientIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// cappedConn gives its place back once closed.
type cappedConn struct {
	net.Conn
	l    *capListener
	ip   string
	once sync.Once
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

// ReadFrom lets the server hand a file to the connection's own ReadFrom (sendfile on
// TCP): without it, every pack byte served over plain http would be copied through
// user space.
func (c *cappedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// writerOnly hides a writer's ReadFrom, so that io.Copy does not call it back.
type writerOnly struct{ io.Writer }
