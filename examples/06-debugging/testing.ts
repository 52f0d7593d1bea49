/**
 * Replaces the Python guide's async testing advice (pytest-asyncio, mocking `asyncio.sleep`, trio's `MockClock`
 * with `autojump_threshold`, counting concurrent calls with a shared counter) with Effect's `TestClock` and the
 * `@async-ops/testing` kit: `TestClock.adjust` moves virtual time by hand, `VirtualTime.autojump` runs an effect to
 * completion by jumping to the next sleeper (a retry with backoff finishes in microseconds), and
 * `ConcurrencyProbe` records how many calls ran at once. Each check prints its verdict; in a test file you would
 * write `expect(...)` in `it.effect`, which provides the TestClock for you.
 */
import { ConcurrencyProbe, VirtualTime } from "@async-ops/testing"
import { Clock, Console, Effect, Fiber, Schedule } from "effect"
import { TestClock } from "effect/testing"

const check = (label: string, actual: unknown, expected: unknown) =>
  Console.log(
    `${JSON.stringify(actual) === JSON.stringify(expected) ? "ok  " : "FAIL"} ${label}: ${JSON.stringify(actual)}`
  )

/** 1. TestClock by hand: fork, adjust, then look. */
const byHand = Effect.gen(function*() {
  yield* Console.log("-- TestClock.adjust: a 30-minute timeout around a 1-hour call, tested at once")
  const call = Effect.sleep("1 hour").pipe(Effect.as("response"), Effect.timeout("30 minutes"))
  const fiber = yield* Effect.forkChild(call)
  yield* TestClock.adjust("29 minutes")
  yield* check("after 29 min the call is still running", fiber.pollUnsafe() === undefined, true)
  yield* TestClock.adjust("1 minute")
  const error = yield* Effect.flip(Fiber.join(fiber))
  yield* check("after 30 min it failed with", error._tag, "TimeoutError")
})

/** 2. autojump: no adjust at all, time jumps to each sleeper in turn. */
const autojump = Effect.gen(function*() {
  yield* Console.log("-- VirtualTime.autojump: a call that fails twice, retried with exponential backoff")
  let attempts = 0
  const flaky = Effect.suspend(() => ++attempts < 3 ? Effect.fail("503") : Effect.succeed("200"))
  const start = yield* Clock.currentTimeMillis
  const result = yield* VirtualTime.autojump(
    flaky.pipe(Effect.retry(Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 5 }))))
  )
  yield* check("result", result, "200")
  yield* check("attempts", attempts, 3)
  yield* check("virtual ms waited (1 s + 2 s)", (yield* Clock.currentTimeMillis) - start, 3000)
})

/** 3. ConcurrencyProbe: prove a bound holds. */
const probe = Effect.gen(function*() {
  yield* Console.log("-- ConcurrencyProbe: 10 jobs with concurrency 3")
  const probe = yield* ConcurrencyProbe.make
  const t0 = yield* Clock.currentTimeMillis
  const job = (i: number) => probe.track(Effect.sleep(100 + 10 * i), `job-${i}`)
  yield* VirtualTime.autojump(Effect.forEach([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], job, { concurrency: 3, discard: true }))
  const stats = yield* probe.stats
  yield* check("peak in flight", stats.peak, 3)
  yield* check("started / ended", [stats.started, stats.ended], [10, 10])
  const timeline = yield* probe.timeline
  yield* check("job-3 started when job-0 ended (ms)", [timeline[3]!.start - t0, timeline[0]!.end! - t0], [100, 100])
})

export const program = Effect.gen(function*() {
  yield* byHand
  yield* autojump
  yield* probe
}).pipe(Effect.provide(TestClock.layer()))
