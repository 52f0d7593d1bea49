/**
 * Replaces the seed's `Bulkhead` class (an `asyncio.Semaphore` for the running calls, a counter for the queued ones
 * and `asyncio.wait_for` on the acquire, raising `BulkheadFullError`): when a dependency saturates, calls past the
 * bulkhead fail at once with a typed `BulkheadRejectedError` instead of piling onto it and making every call slow.
 *
 * ```python
 * async with bulkhead:          # raises BulkheadFullError when max_concurrent + max_queue are taken
 *     return await db.query(q)  # or after queue_timeout seconds of waiting
 * ```
 */
import { Bulkhead } from "@async-ops/core"
import { Clock, Console, Effect } from "effect"

/**
 * A dependency that degrades under load: each call takes 25 ms per call in flight when it starts (itself
 * included), like a database whose pool is exhausted.
 */
const makeDependency = () => {
  let inFlight = 0
  let peak = 0
  const query = (n: number) =>
    Effect.suspend(() => {
      inFlight++
      peak = Math.max(peak, inFlight)
      return Effect.sleep(25 * inFlight).pipe(
        Effect.as(`row ${n}`),
        Effect.ensuring(Effect.sync(() => inFlight--))
      )
    })
  return { query, peak: () => peak }
}

/** Milliseconds since `since`, rounded to 5 ms so that timer jitter does not show in a real run. */
const elapsed = (since: number) => Effect.map(Clock.currentTimeMillis, (now) => Math.round((now - since) / 5) * 5)

export const program = Effect.gen(function*() {
  const calls = [1, 2, 3, 4, 5, 6, 7, 8]

  yield* Console.log("-- without a bulkhead: every call piles onto the saturated dependency")
  const bare = makeDependency()
  const start = yield* Clock.currentTimeMillis
  yield* Effect.forEach(calls, bare.query, { concurrency: "unbounded" })
  yield* Console.log(`8 calls, peak in flight ${bare.peak()}, the last answered after ${yield* elapsed(start)} ms`)

  yield* Console.log("-- with a bulkhead (2 running, 2 queued for at most 40 ms): the excess fails fast")
  const dependency = makeDependency()
  const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueued: 2, queueTimeout: "40 millis", name: "db" })
  const since = yield* Clock.currentTimeMillis
  const outcomes = yield* Effect.forEach(
    calls,
    (n) =>
      bulkhead.withPermit(dependency.query(n)).pipe(
        Effect.flatMap((row) => Effect.map(elapsed(since), (ms) => `call ${n}: ${row} after ${ms} ms`)),
        Effect.catchTag("BulkheadRejectedError", (e) =>
          Effect.map(elapsed(since), (ms) => `call ${n}: rejected (${e.reason}) after ${ms} ms`))
      ),
    { concurrency: "unbounded" }
  )
  for (const line of outcomes) yield* Console.log(line)
  const stats = yield* bulkhead.stats
  yield* Console.log(
    `dependency peak in flight ${dependency.peak()}; rejected: ${stats.rejectedQueueFull} queue-full, ` +
      `${stats.rejectedQueueTimeout} queue-timeout`
  )
})
