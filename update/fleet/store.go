package fleet

import (
	"context"
	"time"
)

// Store is where a master keeps its fleet: servers, updates, operations, their tasks
// and the append-only event log. A task's state is a view of the log kept up to date
// by Append, in the same transaction. SQLiteStore is the embedded implementation.
type Store interface {
	// PutServer creates or replaces a server's record.
	PutServer(ctx context.Context, s ServerRecord) error
	// EnrolServer creates a slave's record, or replaces one whose rekey the admin
	// allowed (clearing that permission); a name taken otherwise is ErrNameTaken.
	EnrolServer(ctx context.Context, s ServerRecord) error
	// AllowRekey lets the next enrolment under a slave's name replace its record, or
	// returns ErrNotFound.
	AllowRekey(ctx context.Context, name string) error
	// Touch records a contact from a server and the versions it reported.
	Touch(ctx context.Context, name string, at time.Time, versions map[string]string) error
	// TouchAll records several contacts in one transaction (a nil Versions leaves
	// the versions as they are); unknown servers are left out.
	TouchAll(ctx context.Context, ts []Touched) error
	// Server returns one server, or ErrNotFound.
	Server(ctx context.Context, name string) (*ServerRecord, error)
	// Servers returns every server, by name.
	Servers(ctx context.Context) ([]ServerRecord, error)

	// PutUpdate records an accepted update; a second one with the same name fails
	// unless it is the same pack (then it is a no-op).
	PutUpdate(ctx context.Context, u Update) error
	// Update returns one update, or ErrNotFound.
	Update(ctx context.Context, name string) (*Update, error)

	// CreateOperation records an operation with its tasks, and a "created" event.
	CreateOperation(ctx context.Context, op Operation, tasks []Task) error
	// Operation returns an operation and its tasks (in selection order), or ErrNotFound.
	Operation(ctx context.Context, id string) (*Operation, []Task, error)
	// OperationHeader returns an operation without its tasks, or ErrNotFound: what a
	// poll needs, at a cost that does not grow with the operation's servers.
	OperationHeader(ctx context.Context, id string) (*Operation, error)
	// Tally counts an operation's tasks by wave, release and state (the numbers the
	// wave decisions need), in one query.
	Tally(ctx context.Context, id string) ([]TaskCount, error)
	// Operations returns the newest operations first, at most limit.
	Operations(ctx context.Context, limit int) ([]Operation, error)
	// EndOperation sets an operation's end time.
	EndOperation(ctx context.Context, id string, at time.Time) error
	// Release marks the tasks of one wave of an operation as released to their servers.
	Release(ctx context.Context, op string, wave int) error
	// Task returns a server's task in an operation, or ErrNotFound.
	Task(ctx context.Context, op, server string) (*Task, error)
	// OpenTasks returns the released tasks of a server that are not final and whose
	// operation has not expired at now.
	OpenTasks(ctx context.Context, server string, now time.Time) ([]Task, error)
	// OpenServers returns the servers that have OpenTasks at now, in one query whose
	// cost grows with the operations under way, not with the fleet.
	OpenServers(ctx context.Context, now time.Time) ([]string, error)

	// Append appends ev to the log; when ev.State is set, it also sets the state of
	// the task (ev.Op, ev.Server) unless that task is already final. An event that
	// names a server without a task in ev.Op is refused with ErrNotFound.
	Append(ctx context.Context, ev Event) error
	// Events returns the events of one operation ("" for all), oldest first.
	Events(ctx context.Context, op string) ([]Event, error)

	// Close releases the store.
	Close() error
}

// TaskCount is how many tasks of an operation share a wave, a release and a state.
type TaskCount struct {
	Wave     int
	Released bool
	State    State
	N        int
}

// Touched is a contact from a server, for TouchAll.
type Touched struct {
	Name     string
	At       time.Time
	Versions map[string]string // nil: unchanged
}
