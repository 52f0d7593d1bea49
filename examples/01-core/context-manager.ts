/**
 * Replaces Python's `@asynccontextmanager` (acquire, `yield`, release in `finally`): in Effect a resource is
 * `Effect.acquireRelease` and its lifetime is a `Scope`, so the release runs on success, on failure and on
 * interruption, in reverse order of acquisition.
 */
import { Console, Effect, Exit } from "effect"

const connection = (name: string) =>
  Effect.acquireRelease(
    Console.log(`open ${name}`).pipe(Effect.as({ name })),
    (conn, exit) => Console.log(`close ${conn.name} (${Exit.isSuccess(exit) ? "success" : "failure"})`)
  )

const useBoth = (body: Effect.Effect<string, string>) =>
  Effect.scoped(Effect.gen(function*() {
    const db = yield* connection("db")
    const cache = yield* connection("cache")
    yield* Console.log(`using ${db.name} and ${cache.name}`)
    return yield* body
  }))

export const program = Effect.gen(function*() {
  yield* Console.log("-- on success")
  const ok = yield* useBoth(Effect.succeed("done"))
  yield* Console.log(`result: ${ok}`)

  yield* Console.log("-- on failure")
  const failed = yield* Effect.flip(useBoth(Effect.fail("query failed")))
  yield* Console.log(`error: ${failed}`)

  yield* Console.log("-- on interruption (a 1 s timeout around work that takes 1 minute)")
  const timedOut = yield* useBoth(Effect.sleep("1 minute").pipe(Effect.as("never"))).pipe(
    Effect.timeoutOption("1 second")
  )
  yield* Console.log(`timed out: ${timedOut._tag === "None"}`)
})
