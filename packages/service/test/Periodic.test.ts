import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Periodic from "@async-ops/service/Periodic"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Logger, Metric, Random, Ref, Schedule, Scope } from "effect"
import { TestClock } from "effect/testing"

/** Lets forked fibers reach their next suspension point (trap 18 of EFFECT4.md). */
const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })

/** Advances the test clock by `millis` in one go, then lets the runs it started reach their sleeps. */
const advance = (millis: number) => Effect.andThen(TestClock.adjust(millis), settle)

/** A task that records the (virtual) time of each run start. */
const recorder = Effect.gen(function*() {
  const times = yield* Ref.make<Array<number>>([])
  const task = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(times, (ts) => [...ts, now]))
  return { times, task }
})

/** Captures log lines as `LEVEL message` strings. */
const captureLogs = Effect.gen(function*() {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    lines.push(`${logLevel} ${parts.filter((p) => typeof p === "string").join(" ")}`)
  })
  return { lines, layer: Logger.layer([logger]) }
})

describe("Periodic", () => {
  it.effect("every: runs at exact multiples of the interval and stops when the scope closes", () =>
    Effect.gen(function*() {
      const { task, times } = yield* recorder
      const scope = yield* Scope.make()
      const periodic = yield* Periodic.make(task, { every: "10 seconds" }).pipe(Scope.provide(scope))
      yield* settle
      expect((yield* periodic.stats).nextRunAt).toBe(10_000)
      yield* advance(35_000)
      expect(yield* Ref.get(times)).toEqual([10_000, 20_000, 30_000])
      const stats = yield* periodic.stats
      expect(stats).toMatchObject({ runs: 3, successes: 3, failures: 0, skipped: 0, lastRunAt: 30_000 })
      expect(stats.nextRunAt).toBe(40_000)
      yield* Scope.close(scope, Exit.void)
      yield* advance(60_000)
      expect(yield* Ref.get(times)).toEqual([10_000, 20_000, 30_000])
      expect((yield* periodic.stats).nextRunAt).toBeUndefined()
      expect(yield* periodic.trigger).toBe("stopped")
    }))

  it.effect("runOnStart runs once at start, then on the interval", () =>
    Effect.gen(function*() {
      const { task, times } = yield* recorder
      yield* Periodic.make(task, { every: 1000, runOnStart: true })
      yield* settle
      yield* advance(2_500)
      expect(yield* Ref.get(times)).toEqual([0, 1000, 2000])
    }))

  it.effect("overlap skip: a tick during a slow run is skipped and the cadence is kept", () =>
    Effect.gen(function*() {
      const starts = yield* Ref.make<Array<number>>([])
      const slow = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(starts, (ts) => [...ts, now])).pipe(
        Effect.andThen(Effect.sleep(25_000))
      )
      const periodic = yield* Periodic.make(slow, { every: "10 seconds", overlap: "skip" })
      yield* settle
      for (let i = 0; i < 7; i++) yield* advance(10_000)
      // run at 10s lasts until 35s: the ticks at 20s and 30s are skipped; next run at 40s (until 65s), etc.
      expect(yield* Ref.get(starts)).toEqual([10_000, 40_000, 70_000])
      expect(yield* periodic.stats).toMatchObject({ runs: 3, successes: 2, skipped: 4, running: true })
    }))

  it.effect("overlap wait: the next run starts right after a slow one, extra ticks are coalesced", () =>
    Effect.gen(function*() {
      const starts = yield* Ref.make<Array<number>>([])
      const slow = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(starts, (ts) => [...ts, now])).pipe(
        Effect.andThen(Effect.sleep(25_000))
      )
      const periodic = yield* Periodic.make(slow, { every: "10 seconds", overlap: "wait" })
      yield* settle
      yield* advance(10_000) // run 1 starts at 10s
      yield* advance(10_000) // tick at 20s: queued
      expect((yield* periodic.stats).pending).toBe(true)
      yield* advance(10_000) // tick at 30s: coalesced (skipped)
      yield* advance(5_000) // run 1 ends at 35s, run 2 starts at once
      expect(yield* Ref.get(starts)).toEqual([10_000, 35_000])
      expect(yield* periodic.stats).toMatchObject({ runs: 2, skipped: 1, pending: false, running: true })
    }))

  it.effect("cron: fires on the expression's times (every 5 minutes)", () =>
    Effect.gen(function*() {
      const { task, times } = yield* recorder
      yield* TestClock.setTime(Date.UTC(2026, 0, 1, 10, 2, 30))
      const periodic = yield* Periodic.make(task, { cron: "*/5 * * * *" })
      yield* settle
      expect(new Date((yield* periodic.stats).nextRunAt!).toISOString()).toBe("2026-01-01T10:05:00.000Z")
      for (let i = 0; i < 4; i++) yield* advance(5 * 60_000)
      expect((yield* Ref.get(times)).map((t) => new Date(t).toISOString())).toEqual([
        "2026-01-01T10:05:00.000Z",
        "2026-01-01T10:10:00.000Z",
        "2026-01-01T10:15:00.000Z",
        "2026-01-01T10:20:00.000Z"
      ])
    }))

  it.effect("a failing run is logged at warning, counted, and the next run still happens", () =>
    Effect.gen(function*() {
      const { layer, lines } = yield* captureLogs
      const count = yield* Ref.make(0)
      const task = Ref.updateAndGet(count, (n) => n + 1).pipe(
        Effect.flatMap((n) => n === 2 ? Effect.fail("boom" as const) : n === 3 ? Effect.die("bug") : Effect.void)
      )
      const periodic = yield* Periodic.make(task, { name: "flaky", every: 1000 }).pipe(Effect.provide(layer))
      yield* settle
      for (let i = 0; i < 4; i++) yield* advance(1000)
      const stats = yield* periodic.stats
      expect(stats).toMatchObject({ runs: 4, successes: 2, failures: 2 })
      expect(Cause.hasDies(stats.lastError!)).toBe(true)
      expect(lines.filter((l) => l.startsWith("Warn"))).toEqual([
        "Warn Periodic flaky: run failed",
        "Warn Periodic flaky: run failed"
      ])
    }))

  it.effect("a run past the timeout is interrupted and counted as a PeriodicTimeoutError", () =>
    Effect.gen(function*() {
      const finished = yield* Ref.make(0)
      const periodic = yield* Periodic.make(
        Effect.sleep(5000).pipe(Effect.andThen(Ref.update(finished, (n) => n + 1))),
        {
          name: "slow",
          every: 10_000,
          timeout: 2000
        }
      )
      yield* settle
      yield* advance(10_000)
      yield* advance(2000)
      const stats = yield* periodic.stats
      expect(stats).toMatchObject({ runs: 1, failures: 1, running: false, lastDuration: 2000 })
      expect(Cause.squash(stats.lastError!)).toEqual(new Periodic.PeriodicTimeoutError({ name: "slow", timeout: 2000 }))
      expect(yield* Ref.get(finished)).toBe(0)
    }))

  it.effect("trigger runs now, and follows the overlap rule while a run is in progress", () =>
    Effect.gen(function*() {
      const { task, times } = yield* recorder
      const gate = yield* Deferred.make<void>()
      const periodic = yield* Periodic.make(Effect.andThen(task, Deferred.await(gate)), { every: "1 hour" })
      yield* advance(1000)
      expect(yield* periodic.trigger).toBe("started")
      yield* settle
      expect(yield* periodic.trigger).toBe("skipped")
      yield* Deferred.succeed(gate, undefined)
      yield* periodic.awaitRuns(1)
      expect(yield* Ref.get(times)).toEqual([1000])
      expect(yield* periodic.stats).toMatchObject({ runs: 1, successes: 1, skipped: 1, running: false })
    }))

  it.effect("jitter delays ticks by a seeded random amount below jitter x interval, without drift", () =>
    Effect.gen(function*() {
      const run = Effect.gen(function*() {
        const { task, times } = yield* recorder
        yield* Periodic.make(task, { every: 1000, jitter: 0.5 })
        yield* settle
        for (let i = 0; i < 10; i++) yield* advance(500)
        return yield* Ref.get(times)
      }).pipe(Effect.scoped, Random.withSeed(42))
      const first = yield* run
      expect(first.length).toBe(4)
      first.forEach((t, i) => {
        expect(t).toBeGreaterThanOrEqual((i + 1) * 1000)
        expect(t).toBeLessThan((i + 1) * 1000 + 500)
      })
      expect(first.some((t) => t % 1000 !== 0)).toBe(true)
      yield* TestClock.setTime(0)
      expect(yield* run).toEqual(first)
    }))

  it.effect("closing the scope interrupts a run in progress (onStop interrupt)", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const periodic = yield* Periodic.make(
        Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))),
        { every: 1000 }
      ).pipe(Scope.provide(scope))
      yield* advance(1000)
      expect((yield* periodic.stats).running).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      expect((yield* periodic.stats).running).toBe(false)
    }))

  it.effect("onStop await lets a run in progress finish, and interrupts it after stopTimeout", () =>
    Effect.gen(function*() {
      const done = yield* Ref.make<Array<string>>([])
      const task = (label: string, millis: number) =>
        Effect.sleep(millis).pipe(Effect.andThen(Ref.update(done, (d) => [...d, label])))
      /** Starts a run at +1 s, closes the scope at once; returns how long the close took. */
      const closeDuring = (label: string, millis: number) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const periodic = yield* Periodic.make(task(label, millis), {
            every: 1000,
            onStop: "await",
            stopTimeout: "5 seconds"
          }).pipe(Scope.provide(scope))
          yield* advance(1000)
          expect((yield* periodic.stats).running).toBe(true)
          const closeStart = yield* Clock.currentTimeMillis
          const closing = yield* Effect.forkChild(
            Scope.close(scope, Exit.void).pipe(Effect.andThen(Clock.currentTimeMillis)),
            { startImmediately: true }
          )
          yield* settle
          yield* advance(10_000)
          const closedAt = yield* Fiber.join(closing)
          expect((yield* periodic.stats).running).toBe(false)
          return closedAt - closeStart
        })
      expect(yield* closeDuring("short", 3000)).toBe(3000) // the run ended on its own
      expect(yield* closeDuring("long", 8000)).toBe(5000) // cut off at stopTimeout
      expect(yield* Ref.get(done)).toEqual(["short"])
    }))

  it.effect("Periodic.run ends when a finite schedule ends, after its last run", () =>
    Effect.gen(function*() {
      const { task, times } = yield* recorder
      const fiber = yield* Effect.forkChild(
        Periodic.run(task, { schedule: Schedule.spaced(100).pipe(Schedule.upTo({ times: 3 })) }),
        { startImmediately: true }
      )
      for (let i = 0; i < 5; i++) yield* advance(100)
      expect(fiber.pollUnsafe()).toEqual(Exit.void)
      expect(yield* Ref.get(times)).toEqual([100, 200, 300])
    }))

  /** Run 1 takes 15 s and succeeds (the tick at 20 s is skipped), run 2 fails after 2 s. */
  const slowThenFailing = Effect.gen(function*() {
    const count = yield* Ref.make(0)
    return Effect.gen(function*() {
      const n = yield* Ref.updateAndGet(count, (c) => c + 1)
      if (n === 1) return yield* Effect.sleep(15_000)
      yield* Effect.sleep(2_000)
      return yield* Effect.fail("boom")
    })
  })

  it.effect("with metrics on, counts runs, failures and skipped ticks, and records run durations", () =>
    Effect.gen(function*() {
      const task = yield* slowThenFailing
      const periodic = yield* Periodic.make(task, { every: "10 seconds", name: "metered", metrics: true })
      yield* settle
      yield* advance(10_000)
      yield* advance(10_000)
      yield* advance(15_000)
      const attrs = { primitive: "Periodic", name: "metered" }
      const read = <S>(metric: Metric.Metric<number, S>) => Metric.value(Metric.withAttributes(metric, attrs))
      expect((yield* read(Periodic.runsCounter)).count).toBe(2)
      expect((yield* read(Periodic.failuresCounter)).count).toBe(1)
      expect((yield* read(Periodic.skippedCounter)).count).toBe(1)
      const durations = yield* read(Periodic.durationHistogram)
      expect([durations.count, durations.min, durations.max, durations.sum]).toEqual([2, 2_000, 15_000, 17_000])
      expect(yield* periodic.stats).toMatchObject({ runs: 2, successes: 1, failures: 1, skipped: 1 })
    }).pipe(Effect.provide(Logger.layer([])), Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("with metrics off (the default), nothing is recorded", () =>
    Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      yield* Effect.gen(function*() {
        const task = yield* slowThenFailing
        const periodic = yield* Periodic.make(task, { every: "10 seconds", name: "quiet" })
        yield* settle
        yield* advance(10_000)
        yield* advance(10_000)
        yield* advance(15_000)
        expect(yield* periodic.stats).toMatchObject({ runs: 2, successes: 1, failures: 1, skipped: 1 })
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([])), Effect.provideService(Metric.MetricRegistry, registry))
      expect([...registry.keys()]).toEqual([])
    }))

  it.effect("invalid options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const bad = (options: Periodic.Options) =>
        Periodic.make(Effect.void, options).pipe(Effect.flip, Effect.map((e) => [e.option, e.value]))
      expect(yield* bad({ every: 0 })).toEqual(["every", 0])
      expect(yield* bad({ every: -5 })).toEqual(["every", -5])
      expect(yield* bad({ every: Number.NaN })).toEqual(["every", Number.NaN])
      expect(yield* bad({ every: Number.POSITIVE_INFINITY })).toEqual(["every", Number.POSITIVE_INFINITY])
      expect(yield* bad({ cron: "not a cron" })).toEqual(["cron", "not a cron"])
      expect(yield* bad({ cron: "61 * * * *" })).toEqual(["cron", "61 * * * *"])
      expect(yield* bad({ cron: "* * * * *", timeZone: "Mars/Olympus" })).toEqual(["cron", "* * * * *"])
      expect(yield* bad({})).toEqual(["every/cron/schedule", 0])
      expect(yield* bad({ every: 1000, cron: "* * * * *" })).toEqual(["every/cron/schedule", 2])
      expect(yield* bad({ every: 1000, jitter: 1 })).toEqual(["jitter", 1])
      expect(yield* bad({ every: 1000, jitter: -0.1 })).toEqual(["jitter", -0.1])
      expect(yield* bad({ every: 1000, timeout: 0 })).toEqual(["timeout", 0])
      expect(yield* bad({ every: 1000, stopTimeout: -1 })).toEqual(["stopTimeout", -1])
      expect(yield* bad({ every: 1000, overlap: "queue" as never })).toEqual(["overlap", "queue"])
      const error = yield* Periodic.make(Effect.void, { cron: "x" }).pipe(Effect.flip)
      expect(error).toBeInstanceOf(InvalidOptionError)
      expect(error.message).toContain("Periodic.make: option cron must be a cron expression")
    }))
})
