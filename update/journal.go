package update

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Journal steps, in order. The journal is written before each step starts and after
// it ends; Recover reads the last one written and completes the operation (at
// jInstalled) or undoes it through its kind (see kind.undo).
const (
	jExtract     journalStep = "extract"     // extracting into the stage folder
	jStaged      journalStep = "staged"      // the new tree is complete and verified in the stage folder
	jMaintenance journalStep = "maintenance" // maintenance is being turned on
	jBackup      journalStep = "backup"      // the previous version is being kept
	jSwap        journalStep = "swap"        // the new tree is replacing the live one
	jSwapped     journalStep = "swapped"     // the new tree is in place, POSTINSTALL has not succeeded yet
	jInstalled   journalStep = "installed"   // POSTINSTALL succeeded: the operation will be completed
)

// journalStep is a step of an operation, as its journal records it.
type journalStep string

// journalOp is an operation a journal records.
type journalOp string

// Operations a journal records.
const (
	opInstall  journalOp = "install"
	opRollback journalOp = "rollback"
)

// journal is the durable record of an operation under way on one module. It names
// no path: the folders it acts on are derived from the configuration (the stage in
// the module's work folder, the backup named Keep), so that a journal written by
// someone else cannot make Recover delete anything outside the module's places.
type journal struct {
	Op       journalOp   `json:"op"` // install, rollback
	Module   string      `json:"module"`
	Strategy Strategy    `json:"strategy"`
	From     string      `json:"from"`
	To       string      `json:"to"`
	Step     journalStep `json:"step"`
	// Keep is the name the previous tree is kept under (a version, or
	// "unmanaged-<time>" for a tree upkeep did not manage); "" when it is not kept.
	Keep string `json:"keep,omitempty"`
	// NewID and OldID identify the staged tree and the live one before the swap
	// (inodes), to tell after a crash which tree the live folder holds. For a first
	// inplace install, OldID is the live folder the install created.
	NewID string `json:"new_id,omitempty"`
	OldID string `json:"old_id,omitempty"`
	Fresh bool   `json:"fresh,omitempty"` // there was no live folder before
	// Links identifies the tree of links to the live files that the swap strategy
	// makes at the backup named Keep for POSTBACKUP, before the exchange makes the
	// live tree itself that backup; undoing removes that tree, and only that one.
	// Journals of earlier versions have none.
	Links   string    `json:"links_id,omitempty"`
	Started time.Time `json:"started"`
	Reason  string    `json:"reason,omitempty"` // why a rollback is under way
	// Undoing is set when the operation failed and its undoing began: Recover then
	// finishes the undoing whatever Step says.
	Undoing bool `json:"undoing,omitempty"`
}

func (e *Engine) journalPath(m *ModuleConfig) string { return e.state.module(m.Name, "journal.json") }

func (e *Engine) writeJournal(m *ModuleConfig, j *journal, step journalStep) error {
	j.Step = step
	return e.writeJSON(e.journalPath(m), j)
}

// readJournal reads the module's journal, refusing one another account could have
// written and one that does not fit the module's configuration.
func (e *Engine) readJournal(m *ModuleConfig) (*journal, error) {
	p := e.journalPath(m)
	fi, err := os.Lstat(p)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &workFolderError{Path: p, Owner: -1, Mode: fi.Mode(), Reason: "the journal is not a regular file"}
	}
	if err := ownedInfo(p, fi, "journal"); err != nil {
		return nil, err
	}
	var j journal
	if _, err := readJSON(p, &j); err != nil {
		return nil, err
	}
	if err := j.check(m); err != nil {
		return nil, fmt.Errorf("%s: %w: recovery refuses it; look at it, then remove it", p, err)
	}
	return &j, nil
}

// check refuses a journal that does not describe an operation on m.
func (j *journal) check(m *ModuleConfig) error {
	switch {
	case j.Op != opInstall && j.Op != opRollback:
		return fmt.Errorf("unknown operation %q", j.Op)
	case j.Module != m.Name:
		return fmt.Errorf("written for module %q, not %q", j.Module, m.Name)
	case j.Strategy != m.Strategy:
		return fmt.Errorf("written for the %s strategy, the module is configured with %s", j.Strategy, m.Strategy)
	}
	for field, v := range map[string]string{"from": j.From, "to": j.To, "keep": j.Keep} {
		if v != "" && !safeName(v) {
			return fmt.Errorf("%s %q is not a version or backup name", field, v)
		}
	}
	if j.Op == opInstall && j.Keep == "" && j.From != "" && !j.Fresh {
		// An install always keeps the managed version it replaces (journals written
		// before Keep existed named its path instead).
		j.Keep = j.From
	}
	return nil
}

// sameTree reports whether a recorded tree identity and a current one name the same
// folder. Identities are inodes; journals of earlier versions recorded
// "device:inode", and the device changes across a remount, so only the inode counts.
func sameTree(recorded, current string) bool {
	if recorded == "" || current == "" {
		return false
	}
	return recorded[strings.LastIndex(recorded, ":")+1:] == current[strings.LastIndex(current, ":")+1:]
}

// safeName reports whether s can name a backup: one path element, no dot names.
func safeName(s string) bool {
	return s != "." && s != ".." && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, `/\:`) && !strings.ContainsRune(s, 0)
}

func (e *Engine) clearJournal(m *ModuleConfig) error {
	return e.ops.removeFile(e.journalPath(m))
}
