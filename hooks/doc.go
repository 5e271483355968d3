// Package hooks owns the install phases and the hooks run at them: Go hooks ([Hook],
// [Func], [On] for one phase, [Chain], [Retry]) and the script-folder runner
// ([Scripts]).
//
// It knows nothing of how an install works: the engine decides when each phase runs,
// fills the [Event], and decides what a failure means ([Phase.Aborts] gives the rule the
// engine follows). hooks will not back up, swap, roll back or turn maintenance on; it only
// runs what the operator asked for, in order, with bounded time and bounded memory.
//
// # Phases
//
// [Phases] lists them in the order an install runs them: STARTUPDATE (nothing changed
// yet, maintenance not on), PREBACKUP, POSTBACKUP, PREINSTALL, POSTINSTALL (new files in
// place, maintenance still on), ENDUPDATE (after everything) and ROLLBACK (after a failed
// install was undone).
//
// # The retry contract
//
// A hook that is not ready (a side service still draining) asks to be run again later:
// a Go hook returns an error wrapping [ErrRetryLater], a script exits with code
// [ExitRetryLater] (21). [Retry] and [Scripts] run it again every interval until it
// succeeds, fails otherwise, or the total retry time has elapsed; then the error is a
// [*RetryError] that still wraps [ErrRetryLater].
//
// # Scripts
//
// In a scripts folder, a file runs at a phase for a module when its name is
// PHASE_module.ext or PHASE-module.ext (PREINSTALL_ecommerce.sh,
// POSTINSTALL-ecommerce.ps1), compared case-insensitively with the event's phase and
// module, optionally followed by an order number: PHASE_module_NN.ext (or -NN). Scripts
// of one phase run in increasing NN; a script without a number has order 0, so it runs
// before the numbered ones; equal orders run in file-name order. The name is matched
// against the event's module, never split on separators, so a module named
// shop_admin owns PREINSTALL_shop_admin.sh and the module shop does not; only a module
// name that itself ends in _NN is ambiguous (PREINSTALL_shop_2.sh is both module shop,
// order 2, and module shop_2, order 0): avoid such names. The extension is one suffix
// after the last dot (.sh, .ps1, …); the name may have no extension.
//
// How a script runs depends on its extension, compared case-insensitively: .sh with sh,
// .ps1 with pwsh (on Windows powershell.exe when pwsh is absent), .cmd and .bat with
// cmd /c on Windows only; .exe and .com run directly on Windows; on other systems any
// other file with an executable bit runs directly (its #! line picks the interpreter).
// A matching file that cannot run is an error ([ErrNotRunnable]), never silently skipped;
// a missing interpreter is [ErrNoInterpreter]. Hidden files (starting with a dot), editor
// backups (ending with ~, .bak, .swp) and folders are ignored. A scripts folder that does
// not exist holds no scripts.
//
// A script's environment is the process environment plus, with the default prefix E_
// ([Scripts.EnvPrefix]), the [Event]:
//
//   - E_MODULE_PATH, E_BACKUP_PATH and E_STAGE_PATH: the module's folder, where the
//     previous version is kept, and the staged tree; absolute, each ending with the
//     path separator so that a file name can follow it; empty when there is no such
//     folder (no backup, nothing staged);
//   - E_MODULE and E_PHASE (STARTUPDATE, …, ROLLBACK);
//   - E_OPERATION: install or rollback ([Operation]), empty when the caller did not say;
//   - E_FROM_VERSION (empty on a first install) and E_TO_VERSION.
//
// Its working directory is the module path, or the scripts folder when the module path
// does not exist yet (a first install).
//
// # Limits
//
// Each run of a script is bounded by [Scripts.Timeout] (default [DefaultTimeout]). On
// timeout or cancellation its processes are killed, as far as the system allows:
//
//   - On Unix the script leads a process group of its own. The script and its group
//     are stopped first (SIGSTOP), so that none of them starts anything more; on Linux
//     every other descendant of the script that /proc shows, such as a child that
//     called setsid to leave the group, is stopped too, parents before children,
//     scanning again until no new one appears (pidfds keep a pid from naming another
//     process meanwhile); then all of them get SIGKILL. Killed for sure: every process
//     of the group and, on Linux, every process whose chain of parents leads to the
//     script at that moment. Not killed: a process that left both, such as a daemon
//     that forked twice and whose parent exited before the timeout, as it was given
//     to init (or to a subreaper) and is no longer the script's descendant; the
//     children of a descendant that exits in the instant between a scan and its
//     SIGSTOP, given to init the same way; a process of another user (a setuid
//     program), which cannot be signalled. On other Unix systems (macOS, the BSDs)
//     only the process group is killed, so a child that called setsid survives.
//   - On Windows the script is put in a job object as soon as it started; the
//     processes it starts join the job and may not break away from it. At timeout the
//     job is terminated, then taskkill /T kills what remains of the script's process
//     tree, then the script. A service the script started through the service manager
//     is not its process and is not killed.
//
// Nothing process-wide changes for the embedding program: no subreaper, no signal
// handler. A script that exits but leaves a background process holding its output
// open is waited for one more second, then its output is closed; that process is left
// running (it may be a service the script started), so such scripts should redirect
// its output. Output (stdout and stderr, interleaved as
// written) goes to the logger one record per line ("script output", with the line in a
// "line" attribute and the script, phase and module as attributes); lines longer than
// [MaxLine] bytes, or [Scripts.MaxOutput] when smaller, are split. Only the last [Scripts.TailLines] lines, at most [Scripts.MaxOutput] bytes,
// are kept in memory, for the [*ScriptError] of a failure.
package hooks
