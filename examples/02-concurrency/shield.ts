/**
 * Replaces Python's `asyncio.shield(save())` (critical work that must finish even when the caller is cancelled, e.g.
 * `await asyncio.wait_for(asyncio.shield(save()), 0.01)`) with two Effect forms: `Effect.uninterruptible`, which
 * finishes the work but makes the caller wait for it, and forking the work into a longer-lived Scope with
 * `Effect.forkIn` and joining it interruptibly, which is shield's exact behaviour: the caller gives up at once and
 * the work finishes in the background, still owned by a scope so it is never leaked.
 */
import { Clock, Console, Deferred, Effect, Fiber } from "effect"

/** The critical work: 50 ms to commit an order; it must not be cut in half. */
const save = (order: number, saved: Deferred.Deferred<void>) =>
  Console.log(`save order ${order}: started`).pipe(
    Effect.andThen(Effect.sleep(50)),
    Effect.andThen(Console.log(`save order ${order}: committed`)),
    Effect.andThen(Deferred.succeed(saved, undefined))
  )

/** Runs `effect` with a 10 ms timeout and says when the caller got control back (to the nearest 10 ms). */
const callerWithTimeout = <E>(effect: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* effect.pipe(Effect.timeoutOption(10))
    const elapsed = Math.round(((yield* Clock.currentTimeMillis) - start) / 10) * 10
    yield* Console.log(`caller: ${result._tag === "None" ? "timed out" : "done"}, back after ${elapsed} ms`)
  })

export const program = Effect.gen(function*() {
  yield* Console.log("-- Effect.uninterruptible: the save finishes, but the caller cannot leave before it does")
  const saved1 = yield* Deferred.make<void>()
  yield* callerWithTimeout(Effect.uninterruptible(save(1, saved1)))

  yield* Console.log("-- forkIn a longer-lived scope + interruptible join (asyncio.shield): the caller leaves at once")
  // the service's scope (in a real app the one its Layer or runMain provides), which outlives the caller
  yield* Effect.scoped(Effect.gen(function*() {
    const service = yield* Effect.scope
    // `Effect.forkDetach` would also shield the work, but then nothing owns the fiber and shutdown cannot stop it
    const shield = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.forkIn(effect, service, { startImmediately: true }).pipe(Effect.flatMap(Fiber.join))
    const saved2 = yield* Deferred.make<void>()
    yield* callerWithTimeout(shield(save(2, saved2)))
    yield* Console.log("caller: moved on while the save runs in the background")
    yield* Deferred.await(saved2)
  }))
  // on shutdown the service scope interrupts whatever still runs in it, so the shielded work is never leaked
  yield* Console.log("service scope closed")
})
