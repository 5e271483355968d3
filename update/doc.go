// Package update is upkeep's engine: it checks a signed manifest, downloads and
// verifies packs, and installs, rolls back and recovers the modules of one [Config],
// so that a module is never left half old and half new, nor stuck in maintenance.
//
// An [Engine] is made with [New]; its methods are [Engine.Check], [Engine.Install],
// [Engine.Rollback], [Engine.Recover] and [Engine.Status]. It holds no global state,
// and one lock per module (an OS lock in the state dir) keeps one operation per module
// at a time, across processes.
//
// New takes the [Config] and [Option] values ([WithKeyring], [WithSource], [WithHook],
// [WithMaintenance], [WithApplier], [WithLogger]); a program follows an
// engine's progress with [Engine.AddEventFunc]. The knobs only tests need (a clock,
// no fsync, short busy and service timeouts) are in update/updatetest.
//
// # The install
//
// Every step is written to the module's journal before it starts, so that Recover
// can finish or undo whatever a crash interrupted:
//
//  1. check: the manifest and its signature, which must bind manifest.json, the
//     manifest's serial and its product; expiry and serial order are enforced (with
//     root keys, keys.json first). update/trust makes each decision.
//  2. download into the state dir, hashing on the fly, never more than the signed size,
//     resuming after a cut.
//  3. verify the pack's signature and its binding (file, module, version, platform).
//  4. extract into the stage, a folder beside the live one, never into the live tree.
//  5. STARTUPDATE hook.
//  6. maintenance on (the Go service's [maintenance.State] drains, the flag file is
//     placed).
//  7. PREBACKUP, keep the previous version, POSTBACKUP. POSTBACKUP reads it at the
//     hooks' backup path whatever the strategy: for [Swap], where the live tree
//     itself becomes the backup at the exchange, as a tree of hard links to the live
//     files made here (no data copied) that the exchange then replaces; for
//     [InPlace], as a tar+zstd archive in that folder.
//  8. PREINSTALL, swap the staged tree in (one renameat2 exchange on Linux, or files
//     replaced one by one for [InPlace]), POSTINSTALL.
//  9. maintenance off, ENDUPDATE, status.
//
// A failure after step 6 puts the previous version back, runs ROLLBACK and turns
// maintenance off. Downtime is steps 6 to 9 only.
//
// When the manifest lists a delta of the pack from the version a module of files
// holds (see [pack.BuildDelta]), steps 2 to 4 use it instead: the delta is
// downloaded and verified like a pack (its binding says from=V), and the new tree
// is rebuilt into the stage from the live tree, only read, and the delta, each file
// checked against the delta's signed list. A live file that is not V's (a
// POSTINSTALL rewrote it) is fetched alone from the full pack by HTTP Range
// requests on its entry; any other failure (no delta, a corrupt one, a server
// without Range requests) falls back to the full pack. [InstallResult.Deltas],
// [InstallResult.BytesSaved], the events and the status's last result say which
// path was taken and what it saved.
//
// # What upkeep never does
//
// A module folder that holds files upkeep does not manage (no installed version, no
// [ModuleConfig.Installed]) is never deleted: a first install fails with
// [ErrUnmanaged], or keeps the folder as a backup when asked
// ([InstallOptions.KeepUnmanaged]).
//
// upkeep often runs as root or as a service account beside folders the application's
// own account can write. Every delete, rename and chmod under a module folder or its
// work folder goes through directory handles opened without following links, so a
// planted link cannot redirect it; the work folder is created 0700 and refused
// ([ErrUnsafeFolder]) when it is a link, another account's or writable by others, as
// is such a state dir. Journals name no path: what Recover acts on is derived from
// the configuration.
//
// # Where things are
//
// The state dir holds everything upkeep keeps of its own (status, journals, locks,
// downloads, inplace backups, the accepted manifest). Beside each module folder, a
// work folder ".NAME.upkeep" holds the stage and, for the [Swap] strategy, the kept
// previous trees, so that every move in or out of the live folder is a rename on one
// filesystem. Nothing of upkeep's enters a module folder except the maintenance flag
// while maintenance is on.
//
// Sources are in update/source, maintenance in update/maintenance, the zero-downtime
// restart of a Go server in update/handoff and its short form in update/selfupdate;
// publishing is update/publish.
package update
