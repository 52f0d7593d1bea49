/**
 * Replaces Python's `asyncio.Barrier(parties)` (`index = await barrier.wait()` after each phase, `if index == 0:`
 * for a once-per-round chore, and `barrier.abort()` so that a worker that fails does not leave the others waiting
 * forever) with async-ops' `Barrier`, which Effect does not ship.
 */
import { Barrier } from "@async-ops/core"
import { Clock, Console, Effect } from "effect"

const phases = ["load", "compute", "write"] as const

export const program = Effect.gen(function*() {
  yield* Console.log("-- three workers meet at the barrier after each phase: nobody starts a phase early")
  const barrier = yield* Barrier.make(3)
  const start = yield* Clock.currentTimeMillis
  // milliseconds since the start, to the 10 ms below (a real timer fires a few ms late; the test runs on virtual time)
  const at = Effect.map(Clock.currentTimeMillis, (now) => Math.floor((now - start + 2) / 10) * 10)
  const worker = (name: string, durations: ReadonlyArray<number>) =>
    Effect.forEach(phases, (phase, i) =>
      Effect.gen(function*() {
        yield* Effect.sleep(durations[i] ?? 0)
        yield* Console.log(`${yield* at} ms ${name}: ${phase} done`)
        const index = yield* barrier.await
        // index 0 is the first to have arrived: one worker per round does the round's chore
        if (index === 0) yield* Console.log(`${yield* at} ms ${name}: everyone finished ${phase}`)
      }), { discard: true })
  yield* Effect.all([worker("w1", [10, 30, 10]), worker("w2", [30, 10, 20]), worker("w3", [20, 20, 30])], {
    concurrency: "unbounded",
    discard: true
  })
  yield* Console.log(`stats: ${JSON.stringify(yield* barrier.stats)}`)

  yield* Console.log("-- a failing worker aborts the barrier; the others stop instead of waiting forever")
  const broken = yield* Barrier.make(3)
  const careful = (name: string, ms: number, fails: boolean) =>
    Effect.gen(function*() {
      yield* Effect.sleep(ms)
      if (fails) return yield* Effect.fail(`${name}: could not load its share`)
      yield* Console.log(`${name}: loaded, waiting for the others`)
      yield* broken.await
    }).pipe(
      Effect.tapError(() => broken.abort), // the party will never arrive: break the barrier
      Effect.catchTag("BrokenBarrierError", () => Console.log(`${name}: gave up, the barrier is broken`)),
      Effect.catch((message) => Console.log(message))
    )
  yield* Effect.all([careful("w1", 10, false), careful("w2", 20, false), careful("w3", 30, true)], {
    concurrency: "unbounded",
    discard: true
  })
  yield* Console.log(`stats: ${JSON.stringify(yield* broken.stats)}`)
  yield* broken.reset
  yield* Console.log(`after reset: ${JSON.stringify(yield* broken.stats)}`)
})
