import * as EventLoopMonitor from "@async-ops/service/EventLoopMonitor"
import * as Health from "@async-ops/service/Health"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Logger, Metric, Scope } from "effect"
import { TestClock } from "effect/testing"

/** Lets forked fibers reach their next suspension point. */
const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })

/**
 * The test clock, with a monotonic time that can be pushed ahead by hand: `block(ms)` makes the sampler's current
 * sleep look `ms` late, as a synchronous call holding the thread would (TestClock itself wakes sleepers on time).
 */
const skewedClock = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  let extra = BigInt(0)
  const skewed: Clock.Clock = {
    ...clock,
    monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe() + extra,
    monotonicTimeNanos: Effect.map(clock.monotonicTimeNanos, (n) => n + extra)
  }
  const block = (millis: number) =>
    Effect.sync(() => {
      extra += BigInt(millis * 1_000_000)
    })
  return { skewed, block }
})

/** Captures warning logs; `seen` completes on the first one. */
const captureWarnings = Effect.gen(function*() {
  const warnings: Array<string> = []
  const seen = yield* Deferred.make<void>()
  const logger = Logger.make(({ logLevel, message }) => {
    if (logLevel !== "Warn") return
    const parts = Array.isArray(message) ? message : [message]
    warnings.push(parts.map(String).join(" "))
    Deferred.doneUnsafe(seen, Exit.void)
  })
  return { warnings, seen, layer: Logger.layer([logger]) }
})

describe("EventLoopMonitor", () => {
  it.effect("a late wake-up is a stall: warning log, stats, metrics and a failing check", () =>
    Effect.gen(function*() {
      const { skewed, block } = yield* skewedClock
      const { layer, warnings } = yield* captureWarnings
      const monitor = yield* EventLoopMonitor.make({ name: "t1", interval: 20, threshold: 100, window: "1 second" })
        .pipe(Effect.provide(layer), Effect.provideService(Clock.Clock, skewed))
      yield* settle
      yield* TestClock.adjust(100) // 5 samples on time
      expect(yield* monitor.stats).toMatchObject({ samples: 5, stalls: 0, current: 0, max: 0 })
      yield* monitor.check
      yield* block(250)
      yield* TestClock.adjust(20) // that sample woke 250 ms late
      expect(warnings).toEqual(["event loop blocked for 250 ms"])
      const stats = yield* monitor.stats
      expect(stats).toMatchObject({ samples: 6, stalls: 1, current: 250, max: 250, p50: 0, longestStall: 250 })
      expect(stats.p99).toBe(250)
      const error = yield* Effect.flip(monitor.check)
      expect(error).toEqual(
        new EventLoopMonitor.EventLoopStalledError({ name: "t1", maxDelay: 250, threshold: 100, window: 1000 })
      )
      expect(error.message).toBe(
        "EventLoopMonitor t1: event loop blocked for 250 ms within the last 1000 ms (threshold 100 ms)"
      )
      const histogram = yield* Metric.value(Metric.withAttributes(EventLoopMonitor.delayHistogram, { name: "t1" }))
      expect(histogram.count).toBe(6)
      expect(histogram.max).toBe(250)
      const stalls = yield* Metric.value(Metric.withAttributes(EventLoopMonitor.stallCounter, { name: "t1" }))
      expect(stalls.count).toBe(1)
      // the stall leaves the window: the check passes again, percentiles drop
      yield* TestClock.adjust(1_100)
      yield* monitor.check
      expect(yield* monitor.stats).toMatchObject({ max: 0, stalls: 1, longestStall: 250 })
    }))

  it.effect("a delay under the threshold is measured but not logged; checkThreshold is separate", () =>
    Effect.gen(function*() {
      const { skewed, block } = yield* skewedClock
      const { layer, warnings } = yield* captureWarnings
      const monitor = yield* EventLoopMonitor.make({
        name: "t2",
        interval: 10,
        threshold: 100,
        checkThreshold: 40,
        metrics: false
      }).pipe(Effect.provide(layer), Effect.provideService(Clock.Clock, skewed))
      yield* settle
      yield* block(50)
      yield* TestClock.adjust(10)
      expect(warnings).toEqual([])
      expect(yield* monitor.stats).toMatchObject({ samples: 1, stalls: 0, current: 50 })
      expect((yield* Effect.flip(monitor.check)).maxDelay).toBe(50)
    }))

  it.effect("the sampler stops when the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const monitor = yield* EventLoopMonitor.make({ interval: 10, metrics: false }).pipe(Scope.provide(scope))
      yield* settle
      yield* TestClock.adjust(30)
      expect((yield* monitor.stats).samples).toBe(3)
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust(100)
      expect((yield* monitor.stats).samples).toBe(3)
    }))

  it.effect("layer and check: the monitor as a service", () =>
    Effect.gen(function*() {
      yield* EventLoopMonitor.check
      const monitor = yield* EventLoopMonitor.EventLoopMonitor
      expect(monitor.name).toBe("svc")
    }).pipe(Effect.provide(EventLoopMonitor.layer({ name: "svc", metrics: false }))))

  it.effect("healthCheck: a Health report reads degraded after a stall and healthy once it ages out", () =>
    Effect.gen(function*() {
      const { skewed, block } = yield* skewedClock
      const monitor = yield* EventLoopMonitor.make({ name: "hc", interval: 20, threshold: 100, window: "1 second" })
        .pipe(Effect.provide(Logger.layer([])), Effect.provideService(Clock.Clock, skewed))
      const check = EventLoopMonitor.healthCheck()
      expect([check.name, check.kinds, check.critical]).toEqual(["event-loop", ["liveness"], false])
      yield* Health.register(check).pipe(Effect.provideService(EventLoopMonitor.EventLoopMonitor, monitor))
      yield* Health.register(
        EventLoopMonitor.healthCheck({ name: "loop-critical", kinds: ["readiness"], critical: true })
      )
        .pipe(Effect.provideService(EventLoopMonitor.EventLoopMonitor, monitor))
      yield* settle
      yield* TestClock.adjust(100)
      const live = yield* Health.report("liveness")
      expect([live.status, live.checks.map((c) => [c.name, c.status])]).toEqual(["healthy", [[
        "event-loop",
        "healthy"
      ]]])
      yield* block(250)
      yield* TestClock.adjust(20) // that sample woke 250 ms late
      const stalled = yield* Health.report("liveness")
      expect(stalled.status).toBe("degraded")
      expect(stalled.checks[0]).toMatchObject({
        name: "event-loop",
        status: "degraded",
        critical: false,
        error: "EventLoopStalledError: EventLoopMonitor hc: event loop blocked for 250 ms within the last 1000 ms "
          + "(threshold 100 ms)"
      })
      expect((yield* Health.report("readiness")).status).toBe("unhealthy")
      yield* TestClock.adjust(1_100) // the stall leaves the window
      expect((yield* Health.report("liveness")).status).toBe("healthy")
      expect((yield* Health.report()).checks.map((c) => c.status)).toEqual(["healthy", "healthy"])
    }).pipe(Effect.provide(Health.layer)))

  it.effect("invalid options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const bad = (options: EventLoopMonitor.Options) =>
        EventLoopMonitor.make(options).pipe(Effect.flip, Effect.map((e) => [e.option, e.value]))
      expect(yield* bad({ interval: 0 })).toEqual(["interval", 0])
      expect(yield* bad({ interval: Number.NaN })).toEqual(["interval", Number.NaN])
      expect(yield* bad({ threshold: -1 })).toEqual(["threshold", -1])
      expect(yield* bad({ checkThreshold: Number.POSITIVE_INFINITY })).toEqual([
        "checkThreshold",
        Number.POSITIVE_INFINITY
      ])
      expect(yield* bad({ window: "soon" as never })).toEqual(["window", "soon"])
    }))

  it.live("a real 200 ms busy loop on the main thread logs a warning with the measured stall", () =>
    Effect.gen(function*() {
      const { layer, warnings, seen } = yield* captureWarnings
      const monitor = yield* EventLoopMonitor.make({ name: "live", interval: 10, threshold: 100, metrics: false })
        .pipe(Effect.provide(layer))
      // the sampler's first sleep is armed (startImmediately); hold the thread for 200 ms
      const end = performance.now() + 200
      while (performance.now() < end) {
        // busy
      }
      yield* Deferred.await(seen)
      expect(warnings.length).toBeGreaterThanOrEqual(1)
      const measured = Number(/event loop blocked for (\d+) ms/.exec(warnings[0]!)?.[1])
      expect(measured).toBeGreaterThanOrEqual(100)
      const stats = yield* monitor.stats
      expect(stats.stalls).toBeGreaterThanOrEqual(1)
      expect(stats.longestStall).toBeGreaterThanOrEqual(100)
      expect((yield* Effect.exit(monitor.check))._tag).toBe("Failure")
    }))
})
