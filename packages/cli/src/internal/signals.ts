/**
 * Stop signals for the commands that stop gracefully (`fetch`, `demo`): the first SIGINT/SIGTERM completes a
 * Deferred the command watches; a second one exits at once with the signal's code.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** @internal */
export type StopSignal = "SIGINT" | "SIGTERM"

/**
 * The exit code for a stop by `signal`: 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as shells do.
 *
 * @internal
 */
export const exitCodeOf = (signal: StopSignal): number => signal === "SIGINT" ? 130 : 143

/**
 * Installs SIGINT/SIGTERM handlers for the current scope and returns a Deferred completed by the first signal.
 * A second signal ends the process with its exit code without waiting for the drain.
 *
 * @internal
 */
export const stopSignal: Effect.Effect<Deferred.Deferred<StopSignal>, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const deferred = Deferred.makeUnsafe<StopSignal>()
    let seen = 0
    const handler = (signal: StopSignal) => () => {
      seen++
      if (seen > 1) {
        process.stderr.write(`\n${signal} again: stopping now\n`)
        process.exit(exitCodeOf(signal))
      }
      Deferred.doneUnsafe(deferred, Effect.succeed(signal))
    }
    const onInt = handler("SIGINT")
    const onTerm = handler("SIGTERM")
    process.on("SIGINT", onInt)
    process.on("SIGTERM", onTerm)
    return { deferred, onInt, onTerm }
  }),
  ({ onInt, onTerm }) =>
    Effect.sync(() => {
      process.off("SIGINT", onInt)
      process.off("SIGTERM", onTerm)
    })
).pipe(Effect.map(({ deferred }) => deferred))
