/**
 * Replaces the Python guide's `BackgroundTaskManager` (a dict of `asyncio.create_task` handles, each wrapped in a
 * `while True: try: ... except Exception: log; await asyncio.sleep(delay)` restart loop, cancelled one by one on
 * shutdown) with `Supervisor`: named tasks restarted one-for-one on a backoff `Schedule`, a cap of restarts in a
 * window past which a crash-looping task is marked `failed` (and the health check turns degraded), a listing with
 * state, restart count and last error, and every task stopped when the scope closes. Runs on virtual time.
 */
import * as Health from "@async-ops/service/Health"
import * as Supervisor from "@async-ops/service/Supervisor"
import { VirtualTime } from "@async-ops/testing"
import { Clock, Console, Data, Effect, Schedule } from "effect"
import { TestClock } from "effect/testing"

class BrokerUnavailable extends Data.TaggedError("BrokerUnavailable")<{ readonly attempt: number }> {
  override get message() {
    return `attempt ${this.attempt}: connection refused`
  }
}

const at = (start: number, line: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Console.log(`t=${(now - start) / 1000}s ${line}`))

const show = (tasks: ReadonlyArray<Supervisor.TaskInfo>) =>
  Effect.forEach(tasks, (t) =>
    Console.log(
      `  ${t.name.padEnd(10)} ${t.state.padEnd(10)} restarts=${t.restarts}${
        t.lastError === undefined ? "" : ` last error: ${t.lastError}`
      }`
    ), { discard: true })

export const program = Effect.scoped(Effect.gen(function*() {
  const start = yield* Clock.currentTimeMillis
  const sup = yield* Supervisor.make({ name: "background" })
  yield* Health.register(Supervisor.healthCheck(sup))

  // A consumer that keeps crashing: restarts after 1 s, 2 s, 4 s; at most 3 restarts within a minute.
  let attempts = 0
  const consumer = Effect.gen(function*() {
    attempts++
    yield* at(start, `consumer: connecting (attempt ${attempts})`)
    return yield* new BrokerUnavailable({ attempt: attempts })
  })
  yield* sup.start("consumer", consumer, {
    restart: Schedule.exponential("1 second"),
    maxRestarts: { count: 3, within: "1 minute" }
  })
  // A heartbeat that runs forever, and a one-off job that completes.
  yield* sup.start("heartbeat", Effect.never)
  yield* sup.start("migrate", Effect.andThen(Effect.sleep("3 seconds"), at(start, "migrate: done")))

  yield* Effect.sleep("2500 millis")
  yield* at(start, "listing:")
  yield* show(yield* sup.list)

  yield* Effect.sleep("10 seconds")
  yield* at(start, "listing:")
  yield* show(yield* sup.list)
  const report = yield* Health.report("readiness")
  yield* Console.log(`readiness: ${report.status}`)

  yield* sup.stop("heartbeat", { timeout: "5 seconds" })
  const s = yield* sup.stats
  yield* Console.log(
    `stats: running=${s.running} completed=${s.completed} failed=${s.failed} stopped=${s.stopped} restarts=${s.restarts}`
  )
  yield* Console.log("-- scope closes: every task still running is interrupted")
})).pipe(Effect.provide(Health.layer), VirtualTime.autojump, Effect.provide(TestClock.layer()))
