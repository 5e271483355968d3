package pageguard

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// sessions are the live logins: the hash of each session ID and its end. Keeping
// hashes means a lookup compares no secret byte by byte.
type sessions struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]time.Time
}

// start draws a session ID that lives until end.
func (s *sessions) start(end time.Time) (string, error) {
	var id [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	v := hex.EncodeToString(id[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= MaxSessions {
		var oldest [sha256.Size]byte
		var first time.Time
		for k, e := range s.m {
			if first.IsZero() || e.Before(first) {
				oldest, first = k, e
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(v))] = end
	return v, nil
}

// alive reports whether id is a session that has not ended at now; an ended one is
// forgotten.
func (s *sessions) alive(id string, now time.Time) bool {
	if id == "" {
		return false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	end, ok := s.m[k]
	if ok && !now.Before(end) {
		delete(s.m, k)
		return false
	}
	return ok
}

// end forgets session id and reports whether it was there.
func (s *sessions) end(id string) bool {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[k]
	delete(s.m, k)
	return ok
}

// throttle counts wrong secrets per client address.
type throttle struct {
	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time
}

// locked returns how long client is still refused at now (0: not).
func (t *throttle) locked(client string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.m[client]; f != nil && now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// failed counts a wrong secret of client and returns its failures in a row and how
// long it is now refused.
func (t *throttle) failed(client string, now time.Time) (int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[client]
	if f == nil {
		if len(t.m) >= maxThrottled {
			t.prune(now)
		}
		f = &failures{}
		t.m[client] = f
	}
	f.n++
	f.last = now
	if f.n < MaxLoginFailures {
		return f.n, 0
	}
	lock := MaxLoginBackoff
	if shift := f.n - MaxLoginFailures; shift < 16 {
		lock = min(LoginBackoff<<shift, MaxLoginBackoff)
	}
	f.until = now.Add(lock)
	return f.n, lock
}

// succeeded clears client's failures.
func (t *throttle) succeeded(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, client)
}

// prune forgets clients that are not locked and have been quiet for a while; when
// all are recent, the quietest goes, so that the map stays bounded.
func (t *throttle) prune(now time.Time) {
	var quietest string
	var q time.Time
	for c, f := range t.m {
		if now.After(f.until) && now.Sub(f.last) > MaxLoginBackoff {
			delete(t.m, c)
			continue
		}
		if q.IsZero() || f.last.Before(q) {
			quietest, q = c, f.last
		}
	}
	if len(t.m) >= maxThrottled {
		delete(t.m, quietest)
	}
}
