// Package maintenance owns a module's maintenance mode: the window during an install in
// which the module answers "come back later" instead of running half old and half new.
//
// It has two forms, which the engine drives around a swap:
//
//   - For Go services, a [State] that the engine turns on and off, and its
//     [State.Middleware], an http.Handler placed in front of the service's own handler.
//     While maintenance is on it answers 503 Service Unavailable with Retry-After and
//     Cache-Control: no-store (an HTML page, in French or English as the browser's
//     Accept-Language asks, or JSON when the client's Accept prefers
//     application/json), except for configured health-check paths and requests that
//     carry the bypass token. [State.On] drains: it returns once every request admitted
//     before it has finished, or reports [ErrDrainTimeout] with the number still running.
//   - For modules that are not Go programs, a [Flag]: a file such as app_offline.htm
//     written atomically into the module's folder and removed afterwards. Its content
//     starts with a marker ([IsFlagContent]) that tells upkeep's own flag from a file a
//     person placed under the same name; upkeep never overwrites nor removes the latter
//     ([ErrForeignFlag]), and always may remove its own, so a module left with a stale
//     flag after a crash is cleared by recovery, with no renaming by hand.
//     A person's own flag is taken down by [Flag.TakeDown] when asked, as the Altazion
//     procedure does (renamed to app_offline.bak, [Flag.BakName], or moved into the
//     state dir when that name is taken: never deleted); and a site's own maintenance
//     page kept as that .bak is what upkeep's flag shows during an update.
//
// The package does not decide when maintenance starts or ends (the engine does), does not
// stop or restart processes or web servers, does not bind ports, and writes nothing into a
// module's folder except the flag file itself (and, when asked, the .bak of a flag it
// takes down).
package maintenance
