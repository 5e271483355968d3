package update

import (
	"os"
	"time"
)

// Journal steps, in order. The journal is written before each step starts and after
// it ends; Recover reads the last one written (see recover.go for what it does at each).
const (
	jExtract     = "extract"     // extracting into the stage folder
	jStaged      = "staged"      // the new tree is complete and verified in the stage folder
	jMaintenance = "maintenance" // maintenance is being turned on
	jBackup      = "backup"      // the previous version is being kept
	jSwap        = "swap"        // the new tree is replacing the live one
	jSwapped     = "swapped"     // the new tree is in place, POSTINSTALL has not succeeded yet
	jInstalled   = "installed"   // POSTINSTALL succeeded: the install will be completed
)

// journal is the durable record of an operation under way on one module.
type journal struct {
	Op       string    `json:"op"` // install, rollback
	Module   string    `json:"module"`
	Strategy Strategy  `json:"strategy"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Step     string    `json:"step"`
	Stage    string    `json:"stage"`            // the new tree before the swap
	Old      string    `json:"old,omitempty"`    // where the previous tree goes (swap) or its archive (inplace)
	NewID    string    `json:"new_id,omitempty"` // identity of the stage folder, to tell after a crash which tree is live
	Fresh    bool      `json:"fresh,omitempty"`  // nothing was installed before (no live folder)
	Started  time.Time `json:"started"`
	Reason   string    `json:"reason,omitempty"` // why a rollback is under way
	// Undoing is set when the operation failed and its undoing began: Recover then
	// finishes the undoing whatever Step says.
	Undoing bool `json:"undoing,omitempty"`
}

func (e *Engine) journalPath(m *ModuleConfig) string { return e.state.module(m.Name, "journal.json") }

func (e *Engine) writeJournal(m *ModuleConfig, j *journal, step string) error {
	j.Step = step
	return e.writeJSON(e.journalPath(m), j)
}

func (e *Engine) readJournal(m *ModuleConfig) (*journal, error) {
	var j journal
	ok, err := readJSON(e.journalPath(m), &j)
	if err != nil || !ok {
		return nil, err
	}
	return &j, nil
}

func (e *Engine) clearJournal(m *ModuleConfig) error {
	err := e.ops.remove(e.journalPath(m))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
