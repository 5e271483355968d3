package fleet

import (
	"errors"
	"time"
)

// State is where one server stands in one operation.
type State string

// States, as CLI.md lists them.
const (
	StatePending     State = "pending"     // not yet handed to the server
	StateDelivered   State = "delivered"   // the server has received the work
	StateStaged      State = "staged"      // the pack is downloaded, verified and kept ready
	StateInstalling  State = "installing"  // the server's engine is installing it
	StateInstalled   State = "installed"   // installed; Version is the server's new version
	StateFailed      State = "failed"      // Code and Reason say why
	StateUnreachable State = "unreachable" // the master could not reach a push slave (it may still poll)
	StateCancelled   State = "cancelled"   // a halted wave, or expired before the server took it
)

// Kind is what an operation does.
type Kind string

// Kinds of operations.
const (
	KindAddUpdate Kind = "add-update"
	KindPropagate Kind = "propagate"
	KindApply     Kind = "apply"
)

// final reports whether a server in state s is done with an operation of kind k.
func final(k Kind, s State) bool {
	switch s {
	case StateFailed, StateCancelled, StateInstalled:
		return true
	case StateStaged:
		return k == KindPropagate
	}
	return false
}

// Codes of failures beside the engine's (update.Code values).
const (
	CodeBadSignature = "bad_signature" // the pack's signature does not verify with the keyring
	CodeBadPack      = "bad_pack"      // size or SHA-256 differs from what the master announced
	CodeUnreachable  = "unreachable"   // a push slave did not answer
	CodeExpired      = "expired"       // the work expired before the server took it
	CodeHalted       = "halted"        // the wave was halted: too many failures
	CodeNotStaged    = "not_staged"    // apply with RequireStaged, and a server has not staged
	CodeUnknown      = "unknown_module"
	CodeInterrupted  = "interrupted"  // the server stopped during the install; its recovery restored the previous version
	CodeNameTaken    = "name_taken"   // enrolment under the name of an enrolled server, without the admin's rekey
	CodeMasterFirst  = "master_first" // apply of a version newer than the master's own, without force
)

// Update is a pack the master has accepted, under a name.
type Update struct {
	Name     string    `json:"name"`
	Module   string    `json:"module"`
	Version  string    `json:"version"`
	Platform string    `json:"platform"`
	File     string    `json:"file"` // the pack's file name, as its signature binds it
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Sig      []byte    `json:"sig"`
	Mirror   string    `json:"mirror,omitempty"` // a URL serving the same bytes, if any
	Added    time.Time `json:"added"`
}

// ServerRecord is a server as the store keeps it.
type ServerRecord struct {
	Name       string
	Role       Role
	Mode       Mode
	URL        string // a push slave's wake-up URL
	SecretHash string // hex SHA-256 of the slave's secret
	Interval   time.Duration
	LastSeen   time.Time
	Versions   map[string]string // module → installed version ("" for none)
	// Rekey reports that the admin allowed the next enrolment under this name to
	// replace the record (and its secret).
	Rekey bool
}

// Operation is an add-update, propagate or apply, with its parameters.
type Operation struct {
	ID          string
	Kind        Kind
	Update      string
	Started     time.Time
	Ended       time.Time // zero while running
	Expires     time.Time
	Wave        int // 0: all at once
	MaxFailures int // percent; -1: never halt
}

// Task is one server's part of an operation: the current state, which the events
// of the log set.
type Task struct {
	Op       string
	Server   string
	Seq      int // position in the selection
	Wave     int
	Released bool
	State    State
	Code     string
	Reason   string
	Version  string
	Updated  time.Time
}

// Event is one entry of the append-only log.
type Event struct {
	ID       int64         `json:"id"`
	At       time.Time     `json:"at"`
	Op       string        `json:"operation"`
	Server   string        `json:"server"`
	Kind     string        `json:"kind"` // started, delivered, downloaded, staged, installing, installed, failed, cancelled, unreachable
	State    State         `json:"state,omitempty"`
	Module   string        `json:"module,omitempty"`
	Version  string        `json:"version,omitempty"`
	Code     string        `json:"code,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Output   string        `json:"output,omitempty"`
}

// MaxOutput bounds the text (reason, hook output) kept per event.
const MaxOutput = 8 << 10

// ErrNotFound is returned by a Store when a server, update or operation does not exist.
var ErrNotFound = errors.New("fleet: not found")

// ServerResult is one server's line in a report (CLI.md).
type ServerResult struct {
	Name    string `json:"name"`
	State   State  `json:"state"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	Version string `json:"version"`
}

// Report is an operation as `fleet ops` and `fleet apply --json` print it.
type Report struct {
	ID      string         `json:"id"`
	Kind    Kind           `json:"kind"`
	Update  string         `json:"update"`
	Started time.Time      `json:"started"`
	Ended   *time.Time     `json:"ended"`
	Servers []ServerResult `json:"servers"`
}

// ServerView is one line of `fleet servers`.
type ServerView struct {
	Name      string            `json:"name"`
	Role      Role              `json:"role"`
	Mode      Mode              `json:"mode"`
	LastSeen  *time.Time        `json:"last_seen"`
	Reachable bool              `json:"reachable"` // Contact is fresh
	Contact   Contact           `json:"contact"`
	Versions  map[string]string `json:"versions"`
}

// Contact is how recent a server's last contact is, against its poll interval (the
// seed's reachability tick: green, orange, red).
type Contact string

// Contacts.
const (
	// ContactFresh: a long poll of it is open, or its last contact is within its poll
	// interval and 15 s.
	ContactFresh Contact = "fresh"
	// ContactLate: within three intervals and 15 s, or its connection closed during a
	// long poll and it has not polled since.
	ContactLate Contact = "late"
	// ContactLost: beyond, or never.
	ContactLost Contact = "lost"
)

// Convergence says whether every server that runs a module runs its newest version.
type Convergence struct {
	Module    string          `json:"module"`
	Newest    string          `json:"newest"`
	Converged bool            `json:"converged"`
	Behind    []ServerVersion `json:"behind"`
}

// ServerVersion is a server and the version of a module it runs ("" for none).
type ServerVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}
