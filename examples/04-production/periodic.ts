/**
 * Replaces the Python guide's periodic background job (`while True: await job(); await asyncio.sleep(60)` in a
 * task, or APScheduler's interval and cron triggers with `max_instances=1`) with `Periodic`: fixed-rate ticks that
 * a slow run does not shift, a tick that finds a run in progress skipped and counted, a failing run logged at
 * warning level without stopping the schedule, a cron expression, and a clean stop when the scope closes. The
 * demo runs on virtual time (a TestClock driven by `VirtualTime.autojump`), so a cron every 5 minutes prints at once.
 */
import * as Periodic from "@async-ops/service/Periodic"
import { VirtualTime } from "@async-ops/testing"
import { Cause, Clock, Console, Effect, Logger } from "effect"
import { TestClock } from "effect/testing"

/** Prints log lines as `LEVEL message` on the Console (deterministic: no timestamps, no fiber ids). */
const plainLogger = Logger.layer([
  Logger.make(({ cause, fiber, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    const why = cause.reasons.length > 0 ? ` (${String(Cause.squash(cause))})` : ""
    fiber.getRef(Console.Console).log(`${logLevel.toUpperCase()} ${parts.map(String).join(" ")}${why}`)
  })
])

/** Seconds since `start`, as printed. */
const at = (start: number, line: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Console.log(`t=${(now - start) / 1000}s ${line}`))

/** Every 10 s; run 2 is slow (25 s), run 3 fails. */
const interval = Effect.scoped(Effect.gen(function*() {
  yield* Console.log("-- every 10 s, overlap: skip (run 2 takes 25 s, run 3 fails)")
  const start = yield* Clock.currentTimeMillis
  let n = 0
  const job = Effect.gen(function*() {
    const run = ++n
    yield* at(start, `run ${run} starts`)
    yield* Effect.sleep(run === 2 ? "25 seconds" : "4 seconds")
    if (run === 3) return yield* Effect.fail("database unavailable")
    yield* at(start, `run ${run} done`)
  })
  const task = yield* Periodic.make(job, { name: "sync", every: "10 seconds", overlap: "skip" })
  yield* task.awaitRuns(5)
  const s = yield* task.stats
  yield* Console.log(`stats: runs=${s.runs} succeeded=${s.successes} failed=${s.failures} skipped=${s.skipped}`)
}))

/** A cron expression: every 5 minutes, on the clock. */
const cron = Effect.scoped(Effect.gen(function*() {
  yield* Console.log("-- cron \"*/5 * * * *\" started at 10:02:30 UTC")
  const job = Effect.flatMap(
    Clock.currentTimeMillis,
    (now) => Console.log(`report at ${new Date(now).toISOString().slice(11, 19)}`)
  )
  const task = yield* Periodic.make(job, { name: "report", cron: "*/5 * * * *" })
  yield* task.awaitRuns(3)
  const next = (yield* task.stats).nextRunAt!
  yield* Console.log(`next run at ${new Date(next).toISOString().slice(11, 19)}; scope closes, task stops`)
}))

export const program = Effect.gen(function*() {
  yield* TestClock.setTime(Date.UTC(2026, 0, 1, 10, 0, 0))
  yield* interval
  yield* TestClock.setTime(Date.UTC(2026, 0, 1, 10, 2, 30))
  yield* cron
}).pipe(VirtualTime.autojump, Effect.provide([TestClock.layer(), plainLogger]))
