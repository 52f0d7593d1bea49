/**
 * Replaces asyncio debug mode's slow-callback log (`asyncio.run(main(), debug=True)` warning "Executing <Handle>
 * took 0.200 seconds" past `loop.slow_callback_duration`) with `EventLoopMonitor`: a sampler measures how late the
 * event loop runs its timer, logs "event loop blocked for N ms" at warning level past a threshold, keeps p50/p99/max
 * and offers a check that fails while the loop has recently stalled (wire it into readiness). Here a synchronous
 * 200 ms wait (`Atomics.wait`, Node's `time.sleep`) blocks the loop on purpose; the printed text is deterministic
 * (the measured stall is only compared with the threshold).
 */
import * as EventLoopMonitor from "@async-ops/service/EventLoopMonitor"
import { Console, Deferred, Effect, Exit, Logger } from "effect"

/** A real block of the whole thread for `millis`, like `time.sleep()` in a coroutine. */
const blockingSleep = (millis: number) =>
  Effect.sync(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis))

export const program = Effect.scoped(Effect.gen(function*() {
  // collect the monitor's warnings (a real service would leave them to its logger)
  const warnings: Array<string> = []
  const warned = yield* Deferred.make<void>()
  const collect = Logger.layer([
    Logger.make(({ logLevel, message }) => {
      if (logLevel !== "Warn") return
      warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      Deferred.doneUnsafe(warned, Exit.void)
    })
  ])
  const monitor = yield* EventLoopMonitor.make({ interval: 10, threshold: 100, metrics: false }).pipe(
    Effect.provide(collect)
  )
  yield* Console.log("-- monitor on: sample every 10 ms, warn at 100 ms")
  yield* Console.log(`readiness check before: ${Exit.isSuccess(yield* Effect.exit(monitor.check)) ? "ok" : "failing"}`)

  yield* Console.log("-- a synchronous 200 ms wait on the event loop")
  yield* blockingSleep(200)
  yield* Deferred.await(warned)

  const measured = Number(/blocked for (\d+) ms/.exec(warnings[0]!)?.[1])
  yield* Console.log(`warning logged: "event loop blocked for N ms" with N >= 100: ${measured >= 100}`)
  const stats = yield* monitor.stats
  yield* Console.log(`stats: stalls >= 1: ${stats.stalls >= 1}, max >= 100 ms: ${stats.max >= 100}`)
  const check = yield* Effect.exit(monitor.check)
  yield* Console.log(
    `readiness check after: ${
      Exit.isFailure(check) ? "failing with EventLoopStalledError (until the stall leaves the 10 s window)" : "ok"
    }`
  )
  yield* Console.log("-- fix: await the async API, or move the blocking call to a worker thread (07-sync-async)")
}))
