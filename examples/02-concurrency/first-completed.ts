/**
 * Replaces Python's `done, pending = await asyncio.wait(tasks, return_when=FIRST_COMPLETED)` followed by cancelling
 * `pending` (and the "first success wins" loop over `asyncio.as_completed`) with `Effect.raceAllFirst` (the first
 * to finish wins, success or failure) and `Effect.raceAll` (the first success wins; it fails only if all fail).
 * Either way the losers are interrupted and their finalizers run before the race returns.
 */
import { Cause, Console, Effect, Exit } from "effect"

/** A mirror that answers after `ms`, or fails then; its finalizer says how it ended. */
const mirror = (name: string, ms: number, fails = false): Effect.Effect<string, string> =>
  Effect.sleep(ms).pipe(
    Effect.andThen(fails ? Effect.fail(`${name} is down`) : Effect.succeed(`${name} (${ms} ms)`)),
    Effect.onExit((exit) =>
      Console.log(
        `  ${name}: ${
          Exit.isSuccess(exit)
            ? "answered"
            : Cause.hasInterruptsOnly(exit.cause)
            ? "cancelled (lost the race)"
            : "failed"
        }`
      )
    )
  )

const show = (exit: Exit.Exit<string, string>): string =>
  Exit.isSuccess(exit)
    ? `winner: ${exit.value}`
    : `failed: ${exit.cause.reasons.filter(Cause.isFailReason).map((r) => r.error).join("; ")}`

export const program = Effect.gen(function*() {
  const mirrors = () => [mirror("mirror-a", 10, true), mirror("mirror-b", 30), mirror("mirror-c", 50)]

  yield* Console.log("-- raceAll: the first success wins (a failure that comes first is ignored)")
  yield* Console.log(show(yield* Effect.exit(Effect.raceAll(mirrors()))))

  yield* Console.log("-- raceAllFirst: the first to finish wins, even a failure (return_when=FIRST_COMPLETED)")
  yield* Console.log(show(yield* Effect.exit(Effect.raceAllFirst(mirrors()))))

  yield* Console.log("-- raceAll when every one fails: the race fails with all the failures")
  const allDown = [mirror("mirror-a", 10, true), mirror("mirror-b", 20, true)]
  yield* Console.log(show(yield* Effect.exit(Effect.raceAll(allDown))))
})
