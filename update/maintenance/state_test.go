package maintenance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// slowServer serves paths starting with "/slow" by blocking until release is called,
// after sending on entered, and everything else at once. Slow requests are released
// at the end of the test in any case, so that a failed assertion does not leave
// srv.Close waiting for them.
func slowServer(t *testing.T, s *State, opts ...MiddlewareOption) (srv *httptest.Server, entered chan struct{}, release func()) {
	t.Helper()
	entered = make(chan struct{}, 16)
	ch := make(chan struct{})
	release = sync.OnceFunc(func() { close(ch) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/slow") {
			okHandler(w, r)
			return
		}
		entered <- struct{}{}
		<-ch
		io.WriteString(w, "slow done")
	})
	srv = httptest.NewServer(s.Middleware(h, opts...))
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs before srv.Close
	return srv, entered, release
}

// getAsync runs get in a goroutine and returns its reply on a channel.
func getAsync(t *testing.T, srv *httptest.Server, path string, header ...string) <-chan reply {
	ch := make(chan reply, 1)
	go func() {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			ch <- reply{status: -1, body: err.Error()}
			return
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			ch <- reply{status: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		ch <- reply{resp.StatusCode, resp.Header, string(body)}
	}()
	return ch
}

func onAsync(ctx context.Context, s *State, reason string) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.On(ctx, reason) }()
	return ch
}

func TestOnWaitsForSlowRequest(t *testing.T) {
	t.Parallel()
	s := NewState(WithDrainTimeout(10 * time.Second))
	srv, entered, release := slowServer(t, s)

	slow := getAsync(t, srv, "/slow")
	<-entered
	require.Equal(t, 1, s.InFlight())

	on := onAsync(t.Context(), s, "draining")
	require.Eventually(t, s.Active, 5*time.Second, time.Millisecond)
	// New requests are refused while the old one drains, and On keeps waiting.
	require.Equal(t, http.StatusServiceUnavailable, get(t, srv, "/", nil).status)
	select {
	case err := <-on:
		t.Fatalf("On returned %v while a request was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}

	release()
	require.NoError(t, <-on)
	r := <-slow
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "slow done", r.body)
	require.Zero(t, s.InFlight())
	require.True(t, s.Active())
	require.Equal(t, "draining", s.Reason())
}

func TestOnDrainGivesUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func(t *testing.T) (context.Context, func())
		wantErr error
	}{
		{
			name:    "timeout",
			timeout: 50 * time.Millisecond,
			ctx:     func(t *testing.T) (context.Context, func()) { return t.Context(), func() {} },
			wantErr: ErrDrainTimeout,
		},
		{
			name:    "context cancelled",
			timeout: 10 * time.Second,
			ctx: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithCancel(t.Context())
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
		{
			name:    "context deadline",
			timeout: 10 * time.Second,
			ctx: func(t *testing.T) (context.Context, func()) {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
				return ctx, func() { <-ctx.Done(); cancel() }
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewState(WithDrainTimeout(tt.timeout))
			srv, entered, release := slowServer(t, s)
			slow1, slow2 := getAsync(t, srv, "/slow"), getAsync(t, srv, "/slow")
			<-entered
			<-entered

			ctx, stop := tt.ctx(t)
			on := onAsync(ctx, s, "r")
			stop()
			err := <-on
			require.ErrorIs(t, err, tt.wantErr)
			var de *DrainError
			require.ErrorAs(t, err, &de)
			require.Equal(t, 2, de.Running)
			require.Contains(t, err.Error(), "2 request(s) still running")
			require.True(t, s.Active(), "maintenance must stay on")
			require.Equal(t, http.StatusServiceUnavailable, get(t, srv, "/", nil).status)

			release()
			require.Equal(t, http.StatusOK, (<-slow1).status)
			require.Equal(t, http.StatusOK, (<-slow2).status)
			require.Eventually(t, func() bool { return s.InFlight() == 0 }, 5*time.Second, time.Millisecond)
			// A second On now finds nothing left to drain.
			require.NoError(t, s.On(t.Context(), "r"))
		})
	}
}

func TestOnWithoutRequests(t *testing.T) {
	t.Parallel()
	s := NewState()
	require.False(t, s.Active())
	require.Empty(t, s.Reason())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, s.On(ctx, "nothing running"), "nothing to drain, even with a done context")
	require.True(t, s.Active())
	require.Equal(t, "nothing running", s.Reason())
	require.NoError(t, s.On(t.Context(), "again"))
	require.Equal(t, "again", s.Reason())
	s.Off()
	s.Off()
	require.False(t, s.Active())
	require.Empty(t, s.Reason())
}

func TestHealthAndBypassNotDrained(t *testing.T) {
	t.Parallel()
	s := NewState(WithDrainTimeout(10 * time.Second))
	srv, entered, release := slowServer(t, s, WithBypassToken("tok"), WithHealthPaths("/slow-health"))
	// A health path runs at any time and is never waited for.
	health := getAsync(t, srv, "/slow-health")
	<-entered
	require.Zero(t, s.InFlight())
	require.NoError(t, s.On(t.Context(), "x"))
	// Nor is a request let in by the bypass token during maintenance.
	bypass := getAsync(t, srv, "/slow", BypassHeader, "tok")
	<-entered
	require.Zero(t, s.InFlight())
	require.NoError(t, s.On(t.Context(), "again"))
	release()
	require.Equal(t, http.StatusOK, (<-health).status)
	require.Equal(t, http.StatusOK, (<-bypass).status)
}

func TestConcurrentRequestsAndToggles(t *testing.T) {
	t.Parallel()
	s := NewState(WithDrainTimeout(10 * time.Second))
	var running atomic.Int32
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		defer running.Add(-1)
		time.Sleep(time.Millisecond)
		io.WriteString(w, "ok")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt() // also when an assertion below fails
	var served, refused atomic.Int32
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := srv.Client().Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					served.Add(1)
				case http.StatusServiceUnavailable:
					refused.Add(1)
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	for range 30 {
		time.Sleep(2 * time.Millisecond)
		require.NoError(t, s.On(t.Context(), "toggle"))
		// Drained: nothing admitted before On still runs, and nothing new gets in.
		require.Zero(t, running.Load())
		require.Zero(t, s.InFlight())
		time.Sleep(2 * time.Millisecond)
		require.Zero(t, running.Load())
		s.Off()
	}
	halt()
	require.Zero(t, s.InFlight())
	require.Positive(t, served.Load())
	require.Positive(t, refused.Load())
}

func TestSubscribe(t *testing.T) {
	t.Parallel()
	s := NewState()
	var mu sync.Mutex
	var got1, got2 []bool
	cancel1 := s.Subscribe(func(active bool) {
		mu.Lock()
		defer mu.Unlock()
		got1 = append(got1, active)
		require.Equal(t, active, s.Active(), "subscribers may read the state")
	})
	cancel2 := s.Subscribe(func(active bool) {
		mu.Lock()
		defer mu.Unlock()
		got2 = append(got2, active)
	})
	defer cancel2()

	require.NoError(t, s.On(t.Context(), "a"))
	require.NoError(t, s.On(t.Context(), "b")) // already on: no call
	s.Off()
	s.Off() // already off: no call
	cancel1()
	cancel1() // harmless
	require.NoError(t, s.On(t.Context(), "c"))

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []bool{true, false}, got1)
	require.Equal(t, []bool{true, false, true}, got2)
}

func TestSubscribeConcurrentEndsOnCurrentValue(t *testing.T) {
	t.Parallel()
	s := NewState()
	var mu sync.Mutex
	var got []bool
	s.Subscribe(func(active bool) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, active)
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				if i%2 == 0 {
					s.On(context.Background(), "x")
				} else {
					s.Off()
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(got); i++ {
		require.NotEqual(t, got[i-1], got[i], "calls alternate")
	}
	if len(got) > 0 {
		require.Equal(t, s.Active(), got[len(got)-1])
	}
}

func TestDrainErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&DrainError{Running: 3, Waited: 1500 * time.Millisecond, Err: ErrDrainTimeout})
	require.Equal(t, "maintenance: 3 request(s) still running after draining for 1.5s: drain timed out", err.Error())
	require.True(t, errors.Is(err, ErrDrainTimeout))
}
