package agent

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Operations started outside the agent (by the upkeep command: install, rollback,
// hold, release, maintenance off) go to a log file of their own beside the agent's,
// STATE/agent/operations.cli.jsonl, one line per ended operation, appended with
// O_APPEND (one write per line). The agent only reads that file, from where it last
// stopped, so the portal lists those operations with its own.
const (
	cliLogName    = "operations.cli.jsonl"
	oldCLILogName = "operations.cli.1.jsonl"
)

// RecordOperation appends op, an operation a process other than the agent ran and
// ended, to the operations log of the state dir, where the agent (and so the portal)
// lists it. It fills op.ID (when empty) and op.Ended (when zero), and returns op as
// recorded. The file is rotated at DefaultLogLimit.
func RecordOperation(stateDir string, op Operation) (Operation, error) {
	if op.ID == "" {
		var b [4]byte
		rand.Read(b[:])
		op.ID = op.Started.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
	}
	if op.Ended.IsZero() {
		op.Ended = time.Now()
	}
	if op.Result == "" || op.Result == ResultRunning {
		return op, fmt.Errorf("agent: record operation %s: result %q: only an ended operation is recorded", op.ID, op.Result)
	}
	if len(op.Error) > MaxOperationError {
		op.Error = op.Error[:MaxOperationError] + "…"
	}
	line, err := json.Marshal(op)
	if err != nil {
		return op, err
	}
	dir := filepath.Join(stateDir, "agent")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return op, fmt.Errorf("agent: record operation: %w", err)
	}
	path := filepath.Join(dir, cliLogName)
	if fi, err := os.Stat(path); err == nil && fi.Size() > DefaultLogLimit {
		// The agent notices the shorter file and reads it from its start.
		if err := os.Rename(path, filepath.Join(dir, oldCLILogName)); err != nil {
			return op, fmt.Errorf("agent: record operation: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return op, fmt.Errorf("agent: record operation: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return op, fmt.Errorf("agent: record operation: %w", err)
	}
	return op, nil
}

// readCLI reads what other processes appended to their log since the last call: whole
// lines only (a line being written is read next time). A file shorter than what was
// read was rotated: it is read from its start.
func (l *opLog) readCLI() {
	f, err := os.Open(filepath.Join(l.dir, cliLogName))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	if fi.Size() < l.cliOff {
		l.cliOff = 0
	}
	if fi.Size() == l.cliOff {
		return
	}
	// One call reads at most a log's worth; the rest comes at the next.
	buf, err := io.ReadAll(io.NewSectionReader(f, l.cliOff, min(fi.Size()-l.cliOff, DefaultLogLimit+maxLogLine)))
	if err != nil {
		return
	}
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		if len(buf) >= maxLogLine {
			l.cliOff += int64(len(buf)) // a line longer than any operation's: skipped
		}
		return
	}
	for line := range bytes.SplitSeq(buf[:end], []byte{'\n'}) {
		var op Operation
		if json.Unmarshal(bytes.TrimSpace(line), &op) == nil && op.ID != "" && op.Result != ResultRunning {
			l.putByStart(op)
		}
	}
	l.cliOff += int64(end + 1)
}

// putByStart keeps op, placing an operation not seen before after the last one that
// started no later than it.
func (l *opLog) putByStart(op Operation) {
	if _, ok := l.ops[op.ID]; ok {
		l.put(op, l.gen)
		return
	}
	i := len(l.order)
	for i > 0 && l.ops[l.order[i-1]].op.Started.After(op.Started) {
		i--
	}
	l.ops[op.ID] = &logged{op: op, gen: l.gen}
	l.order = slices.Insert(l.order, i, op.ID)
}
