package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Limits of the operations log.
const (
	// DefaultLogLimit is the size at which the operations log is rotated: the current
	// file becomes operations.1.jsonl (replacing the one before) and a new one starts,
	// so the log never holds more than about twice this on disk or in memory.
	DefaultLogLimit = 4 << 20
	// MaxOperationError bounds the error text an operation keeps.
	MaxOperationError = 8 << 10
	// maxLogLine bounds one line read back from the log.
	maxLogLine = 64 << 10
)

// Names of the operations log files, in the "agent" folder of the state dir.
const (
	logName    = "operations.jsonl"
	oldLogName = "operations.1.jsonl"
)

// opLog is the operations log: one JSON line per change of an operation (its start,
// its end), fsync'd, appended to STATE/agent/operations.jsonl. The last line of an ID
// is the operation as it stands. The caller serialises calls.
type opLog struct {
	dir    string
	limit  int64
	noSync bool
	f      *os.File
	size   int64
	gen    int
	ops    map[string]*logged
	order  []string // IDs in the order they first appeared: start order
	cliOff int64    // how much of the other processes' log (cliLogName) was read
}

type logged struct {
	op  Operation
	gen int // the log file generation that last wrote it
}

// openLog reads the log in dir (the previous generation, then the current one) and
// opens it for appending. A line that does not parse (the torn last line of a crash)
// is skipped and reported in bad.
func openLog(dir string, limit int64, noSync bool) (l *opLog, bad []error, err error) {
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	l = &opLog{dir: dir, limit: limit, noSync: noSync, ops: map[string]*logged{}, gen: 1}
	for gen, name := range []string{oldLogName, logName} {
		b, err := l.read(name, gen)
		if err != nil {
			return nil, nil, err
		}
		bad = append(bad, b...)
	}
	l.readCLI()
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	l.f, l.size = f, fi.Size()
	return l, bad, nil
}

func (l *opLog) read(name string, gen int) ([]error, error) {
	path := filepath.Join(l.dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var bad []error
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), maxLogLine)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var op Operation
		if err := json.Unmarshal(line, &op); err != nil || op.ID == "" {
			if err == nil {
				err = errors.New("no id")
			}
			bad = append(bad, fmt.Errorf("%s:%d: %w", path, n, err))
			continue
		}
		l.put(op, gen)
	}
	if err := sc.Err(); err != nil {
		bad = append(bad, fmt.Errorf("%s: %w", path, err))
	}
	return bad, nil
}

func (l *opLog) put(op Operation, gen int) {
	if g, ok := l.ops[op.ID]; ok {
		g.op, g.gen = op, gen
		return
	}
	l.ops[op.ID] = &logged{op: op, gen: gen}
	l.order = append(l.order, op.ID)
}

// append writes op's line and keeps it as the operation's state. The state is kept
// in memory even when the write fails (the error says so).
func (l *opLog) append(op Operation) error {
	if len(op.Error) > MaxOperationError {
		op.Error = op.Error[:MaxOperationError] + "…"
	}
	line, err := json.Marshal(op)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if l.size+int64(len(line)) > l.limit && l.size > 0 {
		if err := l.rotate(); err != nil {
			l.put(op, l.gen)
			return err
		}
	}
	l.put(op, l.gen)
	return l.write(line)
}

func (l *opLog) write(line []byte) error {
	if l.f == nil {
		return errors.New("operations log closed")
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err == nil && !l.noSync {
		err = l.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", l.f.Name(), err)
	}
	return nil
}

// rotate makes the current file the previous generation and starts a new one, which
// first holds the operations still running (so that they survive the next rotation).
func (l *opLog) rotate() error {
	cur, old := filepath.Join(l.dir, logName), filepath.Join(l.dir, oldLogName)
	if err := l.f.Close(); err != nil {
		return err
	}
	l.f = nil
	if err := os.Rename(cur, old); err != nil {
		return err
	}
	f, err := os.OpenFile(cur, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	l.f, l.size = f, 0
	if !l.noSync {
		if d, err := os.Open(l.dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	l.gen++
	// What only the dropped generation held is forgotten.
	l.order = slices.DeleteFunc(l.order, func(id string) bool {
		if l.ops[id].gen < l.gen-1 {
			delete(l.ops, id)
			return true
		}
		return false
	})
	for _, id := range l.order {
		g := l.ops[id]
		if g.op.Result == ResultRunning {
			b, _ := json.Marshal(g.op)
			g.gen = l.gen
			if err := l.write(append(b, '\n')); err != nil {
				return err
			}
		}
	}
	return nil
}

// get returns the operation with id.
func (l *opLog) get(id string) (Operation, bool) {
	l.readCLI()
	g, ok := l.ops[id]
	if !ok {
		return Operation{}, false
	}
	return g.op, true
}

// list returns up to limit operations of module ("" = all), newest first (those of
// other processes come in among the agent's own by their start).
func (l *opLog) list(module string, limit int) []Operation {
	l.readCLI()
	var out []Operation
	for i := len(l.order) - 1; i >= 0 && len(out) < limit; i-- {
		op := l.ops[l.order[i]].op
		if module == "" || op.Module == module {
			out = append(out, op)
		}
	}
	return out
}

// running returns the operations the log holds as running.
func (l *opLog) running() []Operation {
	var out []Operation
	for _, id := range l.order {
		if op := l.ops[id].op; op.Result == ResultRunning {
			out = append(out, op)
		}
	}
	return out
}

func (l *opLog) close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
