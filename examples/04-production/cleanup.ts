/**
 * Replaces the guide's cleanup patterns (`except asyncio.CancelledError:` to roll back and re-raise, `finally:` to
 * close connections, `asyncio.shield(flush())` so a write is not cut in half, and cancelling background tasks then
 * `gather(..., return_exceptions=True)` at shutdown) with Effect's interruption: `Effect.onInterrupt` and
 * `Effect.ensuring` run when the shutdown interrupts a task, `Effect.uninterruptible` finishes a write before the
 * interruption takes effect, `acquireRelease` closes in reverse order, and a cleanup slower than the shutdown's
 * budget is cut off and named in the report instead of hanging the process.
 */
import * as Main from "@async-ops/service/Main"
import * as Shutdown from "@async-ops/service/Shutdown"
import { Clock, Console, Effect } from "effect"

const at = (start: number, line: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Console.log(`t=${now - start}ms ${line}`))

/** A background writer: batches of 300 ms that must not be cut in half, then a pause. */
const writer = (start: number) =>
  Effect.gen(function*() {
    for (let batch = 1;; batch++) {
      yield* Effect.uninterruptible(
        at(start, `writer: batch ${batch} started`).pipe(
          Effect.andThen(Effect.sleep(300)),
          Effect.andThen(at(start, `writer: batch ${batch} committed`))
        )
      )
      yield* Effect.sleep(200)
    }
  }).pipe(Effect.onInterrupt(() => at(start, "writer: interrupted between batches, nothing half-written")))

/** A background poller whose in-progress call is rolled back when cancelled. */
const poller = (start: number) =>
  Effect.forever(Effect.sleep(400)).pipe(
    Effect.onInterrupt(() => at(start, "poller: cancelled, rolled back its open call")),
    Effect.ensuring(at(start, "poller: finally, socket closed"))
  )

const cancellation = (start: number) =>
  Effect.scoped(Effect.gen(function*() {
    yield* Effect.acquireRelease(at(start, "open database"), () => at(start, "close database"))
    yield* Effect.acquireRelease(at(start, "open message broker"), () => at(start, "close message broker"))
    yield* Effect.forkScoped(writer(start), { startImmediately: true })
    yield* Effect.forkScoped(poller(start), { startImmediately: true })
    yield* Effect.sleep(650)
    yield* at(start, "SIGTERM")
    yield* Shutdown.trigger("SIGTERM")
    return yield* Effect.never
  }))

/** A drain that would take longer than the whole budget. */
const stuck = (start: number) =>
  Effect.scoped(Effect.gen(function*() {
    yield* Effect.acquireRelease(at(start, "open legacy client"), () => at(start, "close legacy client"))
    yield* Shutdown.register(
      "legacy flush",
      at(start, "legacy flush: started (needs 60 s)").pipe(
        Effect.andThen(Effect.sleep("60 seconds")),
        Effect.onInterrupt(() => at(start, "legacy flush: cut off at the budget"))
      )
    )
    yield* Shutdown.trigger("SIGTERM")
    return yield* Effect.never
  }))

export const program = Effect.gen(function*() {
  yield* Console.log("-- cancellation: tasks clean up, the write in progress finishes, resources close in reverse")
  const first = yield* Clock.currentTimeMillis
  const clean = yield* Main.run(cancellation(first), {
    shutdown: { signals: [], drainDelay: 0 },
    logLevel: "None"
  })
  yield* Console.log(`shutdown ${clean.outcome}, exit code ${clean.exitCode}`)
  yield* Console.log("-- a cleanup slower than the budget is cut off and reported")
  const second = yield* Clock.currentTimeMillis
  const overrun = yield* Main.run(stuck(second), {
    shutdown: { signals: [], drainDelay: 0, budget: "5 seconds" },
    logLevel: "None"
  })
  yield* at(second, `shutdown ${overrun.outcome}, exit code ${overrun.exitCode}, cut off: ${overrun.cutOff.join(", ")}`)
})
