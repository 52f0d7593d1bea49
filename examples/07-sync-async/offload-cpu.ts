/**
 * Replaces Python's `ProcessPoolExecutor` with `loop.run_in_executor(pool, cpu_bound, n)` (processes because of
 * the GIL) with `Offload`: a pool of worker threads runs CPU-bound calls in parallel, truly at once on several
 * cores, with the event loop free. Unlike a cancelled executor future, a timed-out call really stops: its worker
 * is terminated and the pool starts a fresh one. This file is the workers' task module too (`fib` below).
 */
import * as Offload from "@async-ops/service/Offload"
import { Console, Effect } from "effect"

/** The naive Fibonacci: pure CPU, exponential time. */
export const fib = (n: number): number => n < 2 ? n : fib(n - 1) + fib(n - 2)

export const program = Effect.scoped(Effect.gen(function*() {
  const pool = yield* Offload.make<{ readonly fib: typeof fib }>({
    module: new URL(import.meta.url),
    size: 2,
    name: "cpu"
  })

  yield* Console.log("-- fib(25..28) on 2 worker threads, in parallel")
  const inputs = [25, 26, 27, 28]
  const results = yield* Effect.forEach(inputs, (n) => pool.call("fib", n), { concurrency: "unbounded" })
  for (const [i, n] of inputs.entries()) yield* Console.log(`fib(${n}) = ${results[i]}`)
  const afterBatch = yield* pool.stats
  yield* Console.log(`pool: threads=${afterBatch.threads} completed=${afterBatch.completed}`)

  yield* Console.log("-- fib(60) (years of CPU) with a 200 ms timeout")
  const outcome = yield* pool.call("fib", 60).pipe(
    Effect.timeout("200 millis"),
    Effect.map(String),
    Effect.catchTag("TimeoutError", () => Effect.succeed("TimeoutError: the worker was terminated"))
  )
  yield* Console.log(outcome)
  yield* Console.log(`the pool keeps working: fib(20) = ${yield* pool.call("fib", 20)}`)
  const stats = yield* pool.stats
  yield* Console.log(`pool: completed=${stats.completed} replaced=${stats.replaced} busy=${stats.busy}`)
}))
