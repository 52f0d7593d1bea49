/**
 * Replaces Python's `except*` over a TaskGroup's `ExceptionGroup` (`except* ConnectionError as eg: ...` then
 * `except* ValueError as eg: ...`, where each clause gets the matching sub-group and whatever no clause matched is
 * raised again): a `TaskGroup` fails with a `Cause` holding every task's typed failure, and a small `exceptStar`
 * built on `Effect.catchCause` hands each handler the failures with its tag and fails again with the rest, with the
 * handled tags removed from the error type.
 */
import { TaskGroup } from "@async-ops/core"
import { Cause, Console, Data, Effect } from "effect"

class ConnectionLost extends Data.TaggedError("ConnectionLost")<{ readonly host: string }> {}
class InvalidData extends Data.TaggedError("InvalidData")<{ readonly row: number }> {}
class Timeout extends Data.TaggedError("Timeout")<{ readonly what: string }> {}

/** `except* Tag as group:` runs `handler` with every failure tagged `tag`, then fails again with the others. */
const exceptStar = <E extends { readonly _tag: string }, const K extends E["_tag"]>(
  tag: K,
  handler: (group: ReadonlyArray<Extract<E, { readonly _tag: K }>>) => Effect.Effect<void>
) =>
<A, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | void, Exclude<E, { readonly _tag: K }>, R> =>
  Effect.catchCause(self, (cause) => {
    const matched: Array<Extract<E, { readonly _tag: K }>> = []
    const rest: Array<Cause.Reason<E>> = []
    for (const reason of cause.reasons) {
      if (Cause.isFailReason(reason) && reason.error._tag === tag) {
        matched.push(reason.error as Extract<E, { readonly _tag: K }>)
      } else {
        rest.push(reason)
      }
    }
    const unmatched = Cause.fromReasons(rest) as Cause.Cause<Exclude<E, { readonly _tag: K }>>
    if (matched.length === 0) return Effect.failCause(unmatched)
    return Effect.andThen(handler(matched), rest.length === 0 ? Effect.void : Effect.failCause(unmatched))
  })

/** A task that takes `ms` and then succeeds or fails with `error`. */
const task = (name: string, ms: number, error?: ConnectionLost | InvalidData | Timeout) =>
  Effect.sleep(ms).pipe(
    Effect.andThen(error === undefined ? Console.log(`task ${name}: ok`) : Effect.fail(error))
  )

/** Supervise mode: every task runs to its end and the group fails with all of their failures together. */
const batch = (withTimeout: boolean) =>
  TaskGroup.scoped((tg) =>
    Effect.gen(function*() {
      yield* tg.spawn(task("users", 10))
      yield* tg.spawn(task("orders", 20, new ConnectionLost({ host: "db-1" })))
      yield* tg.spawn(task("import", 30, new InvalidData({ row: 17 })))
      yield* tg.spawn(task("audit", 40, new ConnectionLost({ host: "db-2" })))
      if (withTimeout) yield* tg.spawn(task("cache", 50, new Timeout({ what: "cache warm-up" })))
    }), { mode: "supervise" })

export const program = Effect.gen(function*() {
  yield* Console.log("-- four tasks, three failures of two kinds: each except* clause gets its group")
  yield* batch(false).pipe(
    exceptStar(
      "ConnectionLost",
      (group) => Console.log(`except* ConnectionLost got ${group.length}: ${group.map((e) => e.host).join(", ")}`)
    ),
    exceptStar("InvalidData", (group) => Console.log(`except* InvalidData got: row ${group.map((e) => e.row)}`))
  )
  yield* Console.log("every failure was handled")

  yield* Console.log("-- a failure no clause matches is raised again, as except* does")
  const rest = yield* batch(true).pipe(
    exceptStar("ConnectionLost", (group) => Console.log(`except* ConnectionLost got ${group.length}`)),
    exceptStar("InvalidData", (group) => Console.log(`except* InvalidData got ${group.length}`)),
    // what is left is typed: only Timeout
    Effect.catchTag("Timeout", (e) => Effect.succeed(`unhandled, raised again: Timeout (${e.what})`))
  )
  yield* Console.log(String(rest))
})
