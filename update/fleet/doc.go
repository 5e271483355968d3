// Package fleet propagates updates from a master to the servers of a domain (its
// slaves) and applies them there, with a report per server: Watchdoc's "propagate the
// update of the master to the slaves".
//
// A [Master] is an http.Handler over a [Store] (SQLite by default, or PostgreSQL
// shared by several masters behind a load balancer: see [OpenPostgres]): it takes updates
// (a pack and its signature, verified with the master's keyring before they are
// accepted), enrols slaves, hands out work and records every event the slaves send in
// an append-only log. Reports, the servers list and convergence are views over that log.
//
// A [Slave] runs beside an *update.Engine. It enrols once with the shared enrolment
// token, which the master exchanges for a secret of the slave's own, then polls the
// master. An enrolled name belongs to its slave: an enrolment under it is refused with
// [CodeNameTaken] until the admin allows one re-key ([Master.Rekey], `upkeep fleet
// rekey NAME`, the Re-key button of the servers page), which also is the only way a
// push slave's wake-up URL (http or https) changes. A slave's events count only for
// its own tasks. In mailbox mode the poll is a long poll: work arrives in the session the
// slave opened. In push mode the master calls the slave's listen address when there is
// work, and the slave fetches it from the master at once; nothing but that wake-up
// travels from the master to the slave, so a forged call costs one extra poll.
// Whatever the master says, a slave stages only a pack that its own keyring verifies:
// the master is a source of the slave's engine (the files of the task's operation,
// under /fleet/v1/files/, authenticated and over the pinned TLS client), and the
// engine downloads, verifies and keeps the pack as it does from its own source, then
// installs it (maintenance, hooks, backup, rollback).
//
// # Operations
//
// A propagate operation makes each selected slave download the pack (from the master
// or a mirror URL the master names, with Range requests to resume), verify it and keep
// it ready: the slave reports staged, with no downtime. An apply operation makes each
// selected slave install the staged pack; with a wave size the master releases the
// servers in batches, in the order given, and cancels what is left once failures
// exceed the allowed percentage of the servers finished. Work expires: a slave that
// comes back before the expiry picks up what is still valid.
//
// The master is updated first (the seed's rule): an apply to slaves of a version
// newer than the one the master's own engine runs of the module is refused with
// [CodeMasterFirst] unless [OperationRequest].Force is set. [SelfName] ("master") in
// the servers applies the update to the master itself, through its engine, alone in
// the first wave; the slaves of the same operation follow once it has installed.
//
// The servers list gives each server's [Contact]: fresh while a long poll of it is
// open or its last contact is within its poll interval and 15 s, late within three
// intervals (or at once when its connection closed during a long poll), lost beyond.
//
// # Pages
//
// The master also serves pages under [PagesPath] (/ui/): the servers list, the
// operations log with each operation's report, Add update (an upload with its
// progress; a refused pack turns the bar red, with the reason), and Propagate and Apply
// with a server selection (the master itself among them when it runs an engine, and
// force), which the page then follows every second; the servers list shows each
// server's contact in green, orange or red with a Re-key button per slave, and a
// Convergence card lists who is not on the newest version of each module. They stand
// behind the guard of the local portal (update/portal): they need the admin token,
// as a bearer or through the login form, which starts a session with a random ID
// that lasts 12 hours and ends at logout or with the process (after five wrong tokens
// in a row an address is refused with 429 for a while); they answer only the loopback
// names and the listen address's host on the port they are served on, and
// [MasterOptions].Hosts (421 otherwise); they take a POST only from the same origin
// and, unless it carries the admin token as a bearer, with the page's token in
// [PageTokenHeader] (403 otherwise). Every JSON error, of the API as of the pages,
// is {"error","code"}. The pages are in English and French: the switch on them
// (?lang=), else [MasterOptions].Lang (the configuration's lang), else the browser's
// Accept-Language, else English.
//
// # Several masters
//
// Masters sharing a PostgreSQL store see the same servers, updates, operations and
// log: an operation started on one is reported by any, and a slave polling any of them
// gets its work. The pack bytes are kept in the database too ([PackStore], in rows of
// [PackChunkSize]), so a master serves a pack another one accepted, copying it to its
// pack folder the first time; a mirror URL still spares them the bytes. A master wakes
// the long polls it holds when it creates work, and those of the slaves that have work
// another master created within 2 s (it reads which servers have open work every
// 2 s).
//
// # Cost of an idle fleet
//
// A master keeps a view of its slaves in memory, so that a long poll with no work
// costs it no store query: the secret's hash is read once (again every 30 s, and at
// once when a secret does not match, so that a re-key through another master counts
// there within 30 s), contacts are written together every 2 s in one transaction
// (and before the servers list is read), and a poll looks for work only when the
// master released some to the slave since the store last showed it none, or the
// reading of open work names it. Reports arriving together share one reading of
// their operation's counts. A long poll of 5 s or more ends on a whole second (at most
// a second late), so that the polls of many slaves end, and come back, together: the
// runtime and the kernel serve them in batches rather than one wake-up each.
// BenchmarkScale measures it with 1,000 and 10,000 slaves.
//
// # Limits
//
// [MaxPackSize] bounds an uploaded pack, [MaxOutput] the hook output kept per event,
// [MaxTokenFileSize] a token file. A slave's engine never reads more than the size
// the master announced for a pack, and checks its SHA-256 and its signature.
//
// The master holds its ground ([Master.Run], [Master.Serve], [Master.Server]): a request's headers
// must arrive within [HeaderTimeout] and the whole request within [ReadTimeout] (an
// admin's upload excepted), a long poll waits at most [MaxLongPoll] and has
// [PollGrace] to write its answer, an
// idle connection closes after [IdleTimeout], one client address holds at most
// [DefaultMaxConnsPerClient] connections ([MasterOptions].MaxConnsPerClient), and the
// enrolment token (Authorization: Bearer) is checked before any body is read.
//
// It will not: decide what version a slave should run on its own (the engine's
// scheduler does that), or trust a pack because the master does.
package fleet
