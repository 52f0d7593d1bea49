/**
 * Replaces a hand-tuned `asyncio.Semaphore(N)` in front of a dependency whose capacity you do not know (or that
 * changes under you) with an adaptive limit after Netflix's concurrency-limits: AIMD raises the limit while calls
 * succeed and cuts it when they time out, so it settles near the dependency's real capacity and follows it.
 *
 * ```python
 * sem = asyncio.Semaphore(50)  # picked once, wrong as soon as the service scales down or up
 * async with sem:
 *     return await asyncio.wait_for(call(), timeout=0.010)
 * ```
 */
import { Limiter } from "@async-ops/core"
import { Console, Effect } from "effect"

/** The service answers in 5 ms up to `capacity` calls in flight, and 5 ms slower per call above it. */
const makeService = (initialCapacity: number) => {
  let capacity = initialCapacity
  let inFlight = 0
  const call = Effect.suspend(() => {
    inFlight++
    const latency = 5 * (1 + Math.max(0, inFlight - capacity))
    return Effect.sleep(latency).pipe(Effect.ensuring(Effect.sync(() => inFlight--)))
  })
  return { call, setCapacity: (n: number) => (capacity = n), capacity: () => capacity }
}

export const program = Effect.gen(function*() {
  const service = makeService(50)
  const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 10, min: 2, max: 100, increase: 2 })
  // A call slower than 10 ms (twice the no-load latency) times out: the limiter counts that as overload.
  const call = limiter.withPermit(service.call.pipe(Effect.timeout("10 millis")))
  // 100 clients in a closed loop, more than the service can take
  const clients = Effect.forEach(Array.from({ length: 100 }), () => Effect.forever(Effect.ignore(call)), {
    concurrency: "unbounded",
    discard: true
  })
  const report = (at: number) =>
    Effect.flatMap(
      limiter.stats,
      (s) => Console.log(`${String(at).padStart(4)} ms  capacity ${service.capacity()}  limit ${s.limit}`)
    )
  const scenario = Effect.gen(function*() {
    let at = 0
    for (const [capacity, millis] of [[50, 300], [10, 200], [50, 300]] as const) {
      service.setCapacity(capacity)
      for (let t = 0; t < millis; t += 50) {
        yield* Effect.sleep(50)
        at += 50
        yield* report(at)
      }
    }
  })
  yield* Console.log("time     service    adaptive limit")
  yield* Effect.raceFirst(scenario, clients)
  const stats = yield* limiter.stats
  yield* Console.log(`calls: ${stats.samples} measured, ${stats.overloads} timed out`)
})
