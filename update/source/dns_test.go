package source

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// nxdomainServer is a DNS server on 127.0.0.1 that answers every query "no such
// name" (RCODE 3), and counts the queries.
func nxdomainServer(t *testing.T, queries *atomic.Int32) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			queries.Add(1)
			resp := append([]byte(nil), buf[:n]...)
			resp[2] = 0x80 | resp[2]&0x79 // a response, opcode and RD kept
			resp[3] = 0x80 | 3            // recursion available, NXDOMAIN
			resp[6], resp[7], resp[8], resp[9], resp[10], resp[11] = 0, 0, 0, 0, 0, 0
			pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}

// A host the DNS says does not exist is not retried: it will not appear in a few
// seconds, and the error says so.
func TestHTTPNoSuchHostNotRetried(t *testing.T) {
	t.Parallel()
	var queries, retries atomic.Int32
	dns := nxdomainServer(t, &queries)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns)
	}}
	dialer := &net.Dialer{Resolver: resolver}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	src, err := NewHTTP("http://updates.no-such-host.test/repo/", fastOptions(WithRetries(5), WithHTTPClient(client),
		WithLogger(newCountingLogger(&retries)))...)
	require.NoError(t, err)
	_, err = src.Fetch(context.Background(), Request{Name: "manifest.json", Max: 10})
	require.ErrorIs(t, err, ErrUnreachable)
	require.ErrorContains(t, err, "no such host")
	require.ErrorContains(t, err, "updates.no-such-host.test")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	require.True(t, dnsErr.IsNotFound)
	require.Zero(t, retries.Load(), "a name that does not exist is not retried")
	require.Positive(t, queries.Load(), "the resolver asked the test's DNS server")
}
