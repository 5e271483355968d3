package fleet

import (
	"context"
	"net"
	"net/http"
)

// ServeWith is Serve with another handler in front of the master (BenchmarkScale's
// counters).
func ServeWith(ctx context.Context, m *Master, ln net.Listener, h http.Handler) error {
	return m.serve(ctx, ln, h)
}
