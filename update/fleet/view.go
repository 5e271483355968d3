package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
)

// The master keeps a view of its slaves in memory, so that an idle fleet costs it no
// store query: a poll is authenticated against the secret's hash read once; its
// contact is written with the others' every syncEvery, in one transaction; and it
// reads the store for work only when the view says the slave may have some: this
// master released work to it, or the periodic read of the servers that have open
// work (work another master sharing the store created) names it.

const (
	// syncEvery is how often contacts are written and open work is read.
	syncEvery = 2 * time.Second
	// secretsEvery is how often the secrets' hashes are read again, so that a re-key
	// done through another master sharing the store refuses the old secret here too.
	secretsEvery = 30 * time.Second
)

// slaveView is what the master holds in memory of one slave. Guarded by Master.mu.
type slaveView struct {
	hash   [32]byte // SHA-256 of its secret, as the store has it
	hashed bool     // hash was read

	// gen grows whenever the slave may have new work; clean is the gen at which
	// the store showed it none (when known).
	gen, clean uint64
	known      bool
	wait       chan struct{} // closed at the next bump of gen; nil until a poll waits

	held    int       // long polls open on this master
	dropped time.Time // when it went away during a long poll

	seen     time.Time // its last contact
	versions []byte    // the versions it last reported, as JSON
	changed  bool      // versions differ from what the store has
	dirty    bool      // seen (and versions when changed) not written yet
}

// view returns a slave's view, creating it. Called with m.mu held.
func (m *Master) view(name string) *slaveView {
	v := m.slaves[name]
	if v == nil {
		v = &slaveView{}
		m.slaves[name] = v
	}
	return v
}

// authenticate reports whether secret is the slave's, reading its hash from the
// store only the first time and when the secret does not match (a new enrolment
// through another master).
func (m *Master) authenticate(ctx context.Context, name, secret string) (bool, error) {
	if name == "" || secret == "" {
		return false, nil
	}
	sum := sha256.Sum256([]byte(secret))
	m.mu.Lock()
	if v := m.slaves[name]; v != nil && v.hashed && subtle.ConstantTimeCompare(v.hash[:], sum[:]) == 1 {
		m.mu.Unlock()
		return true, nil
	}
	m.mu.Unlock()
	rec, err := m.store.Server(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	want, err := hex.DecodeString(rec.SecretHash)
	if err != nil || len(want) != sha256.Size {
		return false, nil
	}
	m.mu.Lock()
	v := m.view(name)
	copy(v.hash[:], want)
	v.hashed = true
	m.mu.Unlock()
	return subtle.ConstantTimeCompare(want, sum[:]) == 1, nil
}

// enrolled records the secret of a new enrolment.
func (m *Master) enrolled(name, secretHash string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view(name)
	if b, err := hex.DecodeString(secretHash); err == nil && len(b) == sha256.Size {
		copy(v.hash[:], b)
		v.hashed = true
	}
	v.known, v.versions = false, nil
}

// notify bumps a slave's gen: it may have new work, and its long poll, if any,
// looks.
func (m *Master) notify(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bump(m.view(name))
}

func (m *Master) bump(v *slaveView) {
	v.gen++
	if v.wait != nil {
		close(v.wait)
		v.wait = nil
	}
}

// pollState returns what a poll of name waits on and whether it must read the store
// for work (it may skip that only when it is a long poll, the store showed the slave
// no work since its gen last grew, and the periodic read of open work is running),
// with the gen it read.
func (m *Master) pollState(name string, long bool) (wait <-chan struct{}, query bool, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view(name)
	if v.wait == nil {
		v.wait = make(chan struct{})
	}
	trusted := long && v.known && v.clean == v.gen && m.syncing && time.Since(m.syncedAt) < 3*syncEvery
	return v.wait, !trusted, v.gen
}

// worked records what a read of the store showed of a slave's work at gen.
func (m *Master) worked(name string, gen uint64, any bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view(name)
	v.known = !any // with work, the next poll reads again (until it is done)
	v.clean = gen
}

// touch records a poll's contact, its versions (JSON) to be written with the next
// sync, unless they are not an object of strings.
func (m *Master) touch(name string, versions json.RawMessage) error {
	if len(versions) == 0 {
		versions = jsonNull
	}
	m.mu.Lock()
	v := m.view(name)
	same := bytes.Equal(v.versions, versions)
	m.mu.Unlock()
	if !same {
		var vs map[string]string
		if err := json.Unmarshal(versions, &vs); err != nil {
			return badRequest("fleet: versions: %v", err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v.seen = m.now()
	if !same {
		v.versions, v.changed = bytes.Clone(versions), true
	}
	if !v.dirty {
		v.dirty = true
		m.dirty++
	}
	m.startSync()
	return nil
}

var jsonNull = json.RawMessage("null")

// startSync starts the sync loop unless it runs. Called with m.mu held.
func (m *Master) startSync() {
	if !m.syncing {
		m.syncing = true
		go m.syncLoop()
	}
}

// syncLoop writes contacts and reads open work every syncEvery, while polls are held
// or contacts wait to be written.
func (m *Master) syncLoop() {
	t := time.NewTicker(syncEvery)
	defer t.Stop()
	m.sync(context.Background())
	for range t.C {
		written := m.sync(context.Background())
		m.mu.Lock()
		// With no poll held, contacts the store refused are given up rather than
		// tried for ever (a store closed under a master no one polls any more).
		if m.heldAll == 0 && (m.dirty == 0 || !written) {
			m.syncing = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
}

// sync writes the contacts gathered, reads which slaves have open work (bumping the
// gen of those the view had as clean), and now and then the secrets' hashes; it
// reports whether the contacts were written.
func (m *Master) sync(ctx context.Context) (written bool) {
	ctx, cancel := context.WithTimeout(ctx, 4*syncEvery)
	defer cancel()
	written = true
	if err := m.flushContacts(ctx); err != nil {
		m.log.Warn("fleet: writing contacts", "err", err)
		written = false
	}
	start := time.Now()
	open, err := m.store.OpenServers(ctx, m.now())
	if err != nil {
		m.log.Warn("fleet: reading open work", "err", err)
	} else {
		m.mu.Lock()
		for _, name := range open {
			if v := m.slaves[name]; v != nil && v.known && v.clean == v.gen {
				m.bump(v)
			}
		}
		m.syncedAt = start
		m.mu.Unlock()
	}
	if time.Since(m.secretsAt) >= secretsEvery {
		m.refreshSecrets(ctx)
	}
	return written
}

// flushContacts writes the contacts gathered since the last time, in one
// transaction; those not written are kept for the next time.
func (m *Master) flushContacts(ctx context.Context) error {
	m.mu.Lock()
	if m.dirty == 0 {
		m.mu.Unlock()
		return nil
	}
	batch := make([]Touched, 0, m.dirty)
	for name, v := range m.slaves {
		if !v.dirty {
			continue
		}
		t := Touched{Name: name, At: v.seen}
		if v.changed {
			json.Unmarshal(v.versions, &t.Versions) // checked by touch
			if t.Versions == nil {
				t.Versions = map[string]string{}
			}
		}
		v.dirty, v.changed = false, false
		batch = append(batch, t)
	}
	m.dirty = 0
	m.mu.Unlock()
	err := m.store.TouchAll(ctx, batch)
	if err != nil {
		m.mu.Lock()
		for _, t := range batch {
			v := m.slaves[t.Name]
			if !v.dirty {
				v.dirty = true
				m.dirty++
			}
			v.changed = v.changed || t.Versions != nil
		}
		m.mu.Unlock()
	}
	return err
}

// refreshSecrets reads every server's secret hash again.
func (m *Master) refreshSecrets(ctx context.Context) {
	recs, err := m.store.Servers(ctx)
	if err != nil {
		m.log.Warn("fleet: reading secrets", "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secretsAt = time.Now()
	for _, r := range recs {
		v := m.slaves[r.Name]
		if v == nil {
			continue
		}
		b, err := hex.DecodeString(r.SecretHash)
		if err != nil || len(b) != sha256.Size {
			v.hashed = false
			continue
		}
		copy(v.hash[:], b)
		v.hashed = true
	}
}

// hold records a long poll open; unhold its end, and when the slave went away
// during it (its connection closed), when: a dead mailbox slave is not fresh.
func (m *Master) hold(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view(name)
	v.held++
	v.dropped = time.Time{}
	m.heldAll++
	m.startSync()
}

func (m *Master) unhold(name string, gone bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view(name)
	m.heldAll--
	if v.held--; v.held <= 0 {
		v.held = 0
		if gone {
			v.dropped = m.now()
		}
	}
}

// heldState says whether a slave holds a long poll here, and when it went away
// during one.
func (m *Master) heldState(name string) (bool, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.slaves[name]
	if v == nil {
		return false, time.Time{}
	}
	return v.held > 0, v.dropped
}

// maxCached bounds the operation headers and the updates the master keeps in memory.
const maxCached = 1024

// opUpdate returns an operation's header and its update, from memory after the first
// read: neither the header's fields that a poll or a file request reads (kind,
// update, expiry) nor an update ever change. The caller must not modify them.
func (m *Master) opUpdate(ctx context.Context, id string) (*Operation, *Update, error) {
	m.cacheMu.Lock()
	op := m.ops[id]
	var u *Update
	if op != nil {
		u = m.updates[op.Update]
	}
	m.cacheMu.Unlock()
	if op != nil && u != nil {
		return op, u, nil
	}
	op, err := m.store.OperationHeader(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if u, err = m.store.Update(ctx, op.Update); err != nil {
		return nil, nil, err
	}
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if len(m.ops) >= maxCached {
		clear(m.ops)
	}
	if len(m.updates) >= maxCached {
		clear(m.updates)
	}
	m.ops[id], m.updates[op.Update] = op, u
	return op, u, nil
}

// advanceSpacing is the least time between two decisions of one operation: the
// reports that arrive meanwhile wait for the next one, which covers them all.
const advanceSpacing = 50 * time.Millisecond

// advanceState is the decisions under way for one operation: many slaves' reports
// arriving together share one reading of its counts (advance), instead of one each.
type advanceState struct {
	want, done uint64        // reports asking for a decision; those one covered
	running    bool          // a decision is being taken
	err        error         // the last decision's
	last       time.Time     // when it ended
	ch         chan struct{} // closed when it ends
}

// advanceShared takes the decisions an operation's new states call for, as advance
// does, once the states written before the call are counted: a call that arrives
// while a decision is taken waits for the next one, which covers every call waiting.
func (m *Master) advanceShared(ctx context.Context, id string) error {
	m.advMu.Lock()
	a := m.adv[id]
	if a == nil {
		if len(m.adv) >= maxCached {
			for k, v := range m.adv {
				if !v.running && v.done == v.want && time.Since(v.last) > time.Second {
					delete(m.adv, k)
				}
			}
		}
		a = &advanceState{ch: make(chan struct{})}
		m.adv[id] = a
	}
	a.want++
	mine := a.want
	for {
		if a.done >= mine {
			err := a.err
			m.advMu.Unlock()
			return err
		}
		if !a.running {
			a.running = true
			wait := advanceSpacing - time.Since(a.last)
			m.advMu.Unlock()
			if wait > 0 {
				time.Sleep(wait) // the reports arriving meanwhile share the decision
			}
			m.advMu.Lock()
			upto := a.want
			m.advMu.Unlock()
			err := m.advance(context.WithoutCancel(ctx), id)
			m.advMu.Lock()
			a.running, a.done, a.err, a.last = false, upto, err, time.Now()
			close(a.ch)
			a.ch = make(chan struct{})
			continue
		}
		ch := a.ch
		m.advMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		m.advMu.Lock()
	}
}
