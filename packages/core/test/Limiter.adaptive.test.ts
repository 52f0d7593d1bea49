import { Bulkhead, Limiter, Metrics } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Option } from "effect"
import { TestClock } from "effect/testing"
import { runRandomCallers, start } from "./support.ts"

interface Phase {
  readonly capacity: number
  readonly millis: number
}

interface Point {
  readonly at: number
  readonly capacity: number
  readonly limit: number
}

/**
 * A service whose latency is `base` while at most `capacity` calls are in flight and climbs by `k * base` per call
 * above it (fixed when the call starts), called by `workers` clients in a closed loop through `limiter`, each call
 * with a timeout of twice the no-load latency. Returns the limit sampled every `every` ms, phase by phase.
 */
const simulate = (
  limiter: Limiter.Limiter,
  phases: ReadonlyArray<Phase>,
  { base = 10, every = 100, k = 1, workers = 200 } = {}
) =>
  Effect.gen(function*() {
    let capacity = phases[0]!.capacity
    let inFlight = 0
    const service = Effect.suspend(() => {
      inFlight++
      const latency = base * (1 + k * Math.max(0, inFlight - capacity))
      return Effect.sleep(latency).pipe(Effect.ensuring(Effect.sync(() => inFlight--)))
    })
    const call = limiter.withPermit(service.pipe(Effect.timeout(2 * base)))
    const clients = Effect.forEach(Array.from({ length: workers }), () => Effect.forever(Effect.ignore(call)), {
      concurrency: "unbounded",
      discard: true
    })
    const points: Array<Point> = []
    const controller = Effect.gen(function*() {
      let at = 0
      for (const phase of phases) {
        capacity = phase.capacity
        for (let t = 0; t < phase.millis; t += every) {
          yield* Effect.sleep(every)
          at += every
          points.push({ at, capacity, limit: (yield* limiter.stats).limit })
        }
      }
    })
    yield* VirtualTime.autojump(Effect.raceFirst(controller, clients))
    return points
  })

/** The limits sampled in the last 40% of each phase. */
const settled = (points: ReadonlyArray<Point>, phases: ReadonlyArray<Phase>, every = 100) => {
  const out: Array<{ capacity: number; limits: Array<number> }> = []
  let offset = 0
  for (const phase of phases) {
    const n = phase.millis / every
    const slice = points.slice(offset, offset + n)
    out.push({ capacity: phase.capacity, limits: slice.slice(Math.floor(n * 0.6)).map((p) => p.limit) })
    offset += n
  }
  return out
}

const expectWithin25Percent = (points: ReadonlyArray<Point>, phases: ReadonlyArray<Phase>) => {
  for (const { capacity, limits } of settled(points, phases)) {
    expect(Math.min(...limits), `capacity ${capacity}: ${limits.join(" ")}`).toBeGreaterThanOrEqual(capacity * 0.75)
    expect(Math.max(...limits), `capacity ${capacity}: ${limits.join(" ")}`).toBeLessThanOrEqual(capacity * 1.25)
  }
}

const algorithms = ["aimd", "gradient2"] as const

describe("Limiter.adaptive", () => {
  it.effect("bad options fail with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const cases: Array<[Limiter.AdaptiveOptions, string]> = [
        [{ algorithm: "aimd", min: 0 }, "min"],
        [{ algorithm: "aimd", min: 1.5 }, "min"],
        [{ algorithm: "aimd", max: -1 }, "max"],
        [{ algorithm: "aimd", max: Number.NaN }, "max"],
        [{ algorithm: "aimd", min: 10, max: 5 }, "min"],
        [{ algorithm: "aimd", initial: 0 }, "initial"],
        [{ algorithm: "aimd", initial: 2.5 }, "initial"],
        [{ algorithm: "aimd", min: 5, max: 10, initial: 20 }, "initial"],
        [{ algorithm: "aimd", backoffRatio: 1.5 }, "backoffRatio"],
        [{ algorithm: "aimd", backoffRatio: -0.1 }, "backoffRatio"],
        [{ algorithm: "aimd", backoffRatio: Number.NaN }, "backoffRatio"],
        [{ algorithm: "aimd", increase: 0 }, "increase"],
        [{ algorithm: "aimd", latencyThreshold: -1 }, "latencyThreshold"],
        [{ algorithm: "aimd", latencyThreshold: Number.NaN }, "latencyThreshold"],
        [{ algorithm: "gradient2", smoothing: 2 }, "smoothing"],
        [{ algorithm: "gradient2", rttTolerance: 0.5 }, "rttTolerance"],
        [{ algorithm: "gradient2", rttTolerance: Number.NaN }, "rttTolerance"],
        [{ algorithm: "gradient2", longWindow: 0 }, "longWindow"],
        [{ algorithm: "gradient2", queueSize: -1 }, "queueSize"],
        [{ algorithm: "gradient2", queueSize: Number.POSITIVE_INFINITY }, "queueSize"],
        [{ algorithm: "gradient2", windowSize: 0.5 }, "windowSize"],
        [{ algorithm: "vegas" } as unknown as Limiter.AdaptiveOptions, "algorithm"]
      ]
      for (const [options, option] of cases) {
        const error = yield* Effect.flip(Limiter.adaptive(options))
        expect(error._tag, JSON.stringify(options)).toBe("InvalidOptionError")
        expect(error.option, JSON.stringify(options)).toBe(option)
        expect(error.module).toBe("Limiter.adaptive")
      }
      const ok = yield* Limiter.adaptive({ algorithm: "aimd", min: 5, max: 10 })
      expect(yield* ok.stats).toMatchObject({ limit: 10, min: 5, max: 10, algorithm: "aimd" })
    }))

  for (const algorithm of algorithms) {
    for (const capacity of [10, 50]) {
      it.effect(
        `${algorithm}: the limit settles within 25% of a capacity of ${capacity}`,
        () =>
          Effect.gen(function*() {
            const limiter = yield* Limiter.adaptive({ algorithm, initial: 5, min: 1, max: 200 })
            const phases = [{ capacity, millis: 3_000 }]
            const points = yield* simulate(limiter, phases)
            expectWithin25Percent(points, phases)
            const stats = yield* limiter.stats
            expect(stats.samples).toBeGreaterThan(1_000)
          }),
        60_000
      )
    }

    it.effect(
      `${algorithm}: the limit follows the capacity down and back up (50 -> 10 -> 50)`,
      () =>
        Effect.gen(function*() {
          const limiter = yield* Limiter.adaptive({ algorithm, initial: 5, min: 1, max: 200 })
          const phases = [{ capacity: 50, millis: 3_000 }, { capacity: 10, millis: 3_000 }, {
            capacity: 50,
            millis: 3_000
          }]
          const points = yield* simulate(limiter, phases)
          expectWithin25Percent(points, phases)
          expect((yield* limiter.stats).overloads).toBeGreaterThan(0)
        }),
      60_000
    )
  }

  it.effect("aimd: successes at full use add about `increase` per round trip", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 10, min: 1, max: 100 })
      // more callers than the limit, in a closed loop of 10 ms calls: 10 round trips in 100 ms
      const clients = Effect.forEach(
        Array.from({ length: 40 }),
        () => Effect.forever(limiter.withPermit(Effect.sleep(10))),
        { concurrency: "unbounded", discard: true }
      )
      yield* VirtualTime.autojump(Effect.raceFirst(Effect.sleep(100), clients))
      const stats = yield* limiter.stats
      expect(stats.limit).toBeGreaterThanOrEqual(18)
      expect(stats.limit).toBeLessThanOrEqual(20)
    }))

  it.effect("aimd: an application that uses less than half of the limit does not grow it", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 10 })
      for (let i = 0; i < 100; i++) yield* limiter.withPermit(Effect.void)
      expect((yield* limiter.stats).limit).toBe(10)
    }))

  it.effect("aimd: an overload multiplies the limit by backoffRatio, never below min", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 20, min: 4, backoffRatio: 0.5 })
      const overload = limiter.withPermit(Effect.timeout(Effect.never, 1))
      yield* VirtualTime.autojump(Effect.ignore(overload))
      expect((yield* limiter.stats).limit).toBe(10)
      yield* VirtualTime.autojump(Effect.ignore(overload))
      expect((yield* limiter.stats).limit).toBe(5)
      yield* VirtualTime.autojump(Effect.ignore(overload))
      expect(yield* limiter.stats).toMatchObject({ limit: 4, overloads: 3 })
    }))

  it.effect("aimd: one overload event decreases once, not once per call admitted before the decrease", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 20, backoffRatio: 0.5 })
      // 10 calls in flight together all time out: the first decrease covers them all
      yield* VirtualTime.autojump(
        Effect.forEach(
          Array.from({ length: 10 }),
          () => Effect.ignore(limiter.withPermit(Effect.timeout(Effect.never, 5))),
          {
            concurrency: "unbounded",
            discard: true
          }
        )
      )
      expect(yield* limiter.stats).toMatchObject({ limit: 10, overloads: 10 })
      // a call admitted after that decrease and overloaded decreases again
      yield* VirtualTime.autojump(Effect.ignore(limiter.withPermit(Effect.timeout(Effect.never, 5))))
      expect((yield* limiter.stats).limit).toBe(5)
    }))

  it.effect("aimd: a success slower than latencyThreshold counts as overload", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 10, latencyThreshold: "50 millis" })
      yield* VirtualTime.autojump(limiter.withPermit(Effect.sleep(40)))
      expect((yield* limiter.stats).limit).toBe(10)
      yield* VirtualTime.autojump(limiter.withPermit(Effect.sleep(60)))
      expect((yield* limiter.stats).limit).toBe(9)
    }))

  it.effect("the default classification: TimeoutError and BulkheadRejectedError are overload; other failures, defects and interruptions are ignored", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 10, backoffRatio: 0.5 })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 0 })
      yield* Effect.ignore(limiter.withPermit(Effect.fail("not found")))
      yield* Effect.exit(limiter.withPermit(Effect.die("bug")))
      const running = yield* start(limiter.withPermit(Effect.never))
      yield* Fiber.interrupt(running)
      expect(yield* limiter.stats).toMatchObject({ limit: 10, ignored: 3, samples: 0 })
      const held = yield* start(bulkhead.withPermit(Effect.never))
      yield* Effect.ignore(limiter.withPermit(bulkhead.withPermit(Effect.void)))
      expect(yield* limiter.stats).toMatchObject({ limit: 5, overloads: 1 })
      yield* Fiber.interrupt(held)
      expect(Limiter.defaultClassify(Exit.succeed(1))).toBe("success")
    }))

  it.effect("a custom classify marks outcomes as overload and a classify that throws still releases the permit", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({
        algorithm: "aimd",
        initial: 10,
        backoffRatio: 0.5,
        classify: (exit) =>
          Exit.isFailure(exit) && String(Option.getOrUndefined(Exit.findErrorOption(exit))) === "503"
            ? "overload"
            : Limiter.defaultClassify(exit)
      })
      yield* Effect.ignore(limiter.withPermit(Effect.fail("503")))
      expect((yield* limiter.stats).limit).toBe(5)
      const throwing = yield* Limiter.adaptive({
        algorithm: "gradient2",
        initial: 1,
        classify: () => {
          throw new Error("classify bug")
        }
      })
      const exit = yield* Effect.exit(throwing.withPermit(Effect.succeed(1)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* throwing.withPermit(Effect.succeed(2)).pipe(Effect.exit)).toSatisfy(Exit.isFailure)
      expect((yield* throwing.stats).inFlight).toBe(0)
    }))

  it.effect("gradient2: the limit shrinks when latency climbs above the long-term latency and grows when it does not", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "gradient2", initial: 10, windowSize: 10 })
      const round = (ms: number) =>
        Effect.forEach(Array.from({ length: 10 }), () => limiter.withPermit(Effect.sleep(ms)), {
          concurrency: "unbounded",
          discard: true
        })
      // steady latency: each window adds smoothing * queueSize = 0.4
      yield* VirtualTime.autojump(Effect.forEach(Array.from({ length: 20 }), () => round(10), { discard: true }))
      const grown = yield* limiter.stats
      expect(grown.estimate).toBeGreaterThan(12)
      // latency 4x the baseline: the gradient is at its floor (0.5) and the limit shrinks
      yield* VirtualTime.autojump(Effect.forEach(Array.from({ length: 5 }), () => round(40), { discard: true }))
      expect((yield* limiter.stats).estimate).toBeLessThan(grown.estimate)
    }))

  it.effect("the limit stays within [min, max]", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 3, min: 2, max: 4, backoffRatio: 0 })
      yield* VirtualTime.autojump(Effect.ignore(limiter.withPermit(Effect.timeout(Effect.never, 1))))
      expect((yield* limiter.stats).limit).toBe(2)
      for (let i = 0; i < 50; i++) {
        yield* Effect.forEach(Array.from({ length: 4 }), () => limiter.withPermit(Effect.yieldNow), {
          concurrency: "unbounded",
          discard: true
        })
      }
      expect((yield* limiter.stats).limit).toBe(4)
    }))

  it.effect("a lowered limit lets holders finish and admits nobody until in flight is below it", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 2, backoffRatio: 0.5 })
      const release = yield* Deferred.make<void>()
      const holder = yield* start(limiter.withPermit(Deferred.await(release)))
      const timedOut = yield* start(Effect.ignore(limiter.withPermit(Effect.timeout(Effect.never, 5))))
      const waiter = yield* start(limiter.withPermit(Effect.succeed("admitted")))
      yield* TestClock.adjust(5)
      yield* Fiber.join(timedOut)
      // the overload halved the limit to 1 while the holder still holds: the waiter stays queued
      expect(yield* limiter.stats).toMatchObject({ limit: 1, inFlight: 1, waiting: 1 })
      expect(waiter.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect(yield* Fiber.join(waiter)).toBe("admitted")
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0 })
    }))

  it.effect("reports the changing limit as a metric when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "AdaptiveLimiter", name: "downstream" }
      const limiter = yield* Limiter.adaptive({
        algorithm: "aimd",
        initial: 8,
        backoffRatio: 0.5,
        name: "downstream",
        metrics: true
      })
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(8)
      yield* VirtualTime.autojump(Effect.ignore(limiter.withPermit(Effect.timeout(Effect.never, 1))))
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(4)
      const running = yield* start(limiter.withPermit(Effect.never))
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(1)
      yield* Fiber.interrupt(running)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(0)
    }))

  it.effect("random schedules with timeouts, failures and interruptions leave nothing held or waiting", () =>
    Effect.gen(function*() {
      const seen = { interrupted: 0, completed: 0 }
      yield* Chaos.forEachSeed(100, (random) =>
        Effect.gen(function*() {
          const base = { initial: 1 + random.int(4), min: 1, max: 6 }
          const limiter = yield* Limiter.adaptive(
            random.chance(0.5) ? { ...base, algorithm: "aimd" } : { ...base, algorithm: "gradient2", windowSize: 2 }
          )
          const probe = yield* ConcurrencyProbe.make
          yield* runRandomCallers(random, (ms) => {
            const fails = random.chance(0.2)
            return limiter.withPermit(
              probe.track(Effect.sleep(ms)).pipe(
                Effect.andThen(fails ? Effect.fail("boom") : Effect.void),
                Effect.timeout(15)
              )
            ).pipe(Effect.ignore)
          }, {
            onCompleted: () => seen.completed++,
            onInterrupt: () => seen.interrupted++
          })
          const stats = yield* limiter.stats
          expect(stats).toMatchObject({ inFlight: 0, waiting: 0 })
          expect((yield* probe.stats).peak).toBeLessThanOrEqual(6)
        }))
      expect(seen.interrupted).toBeGreaterThan(100)
      expect(seen.completed).toBeGreaterThan(400)
    }))
})
