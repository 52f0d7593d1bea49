import { Metrics, Throttle } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import { randomInterruptions, settle, start } from "./support.ts"

/** Takes a slot and returns the virtual time it was admitted at. */
const admittedAt = <E>(throttle: Throttle.Throttle<E>) => Effect.andThen(throttle.take, Clock.currentTimeMillis)

describe("Throttle", () => {
  it.effect("a limit that is not an integer >= 1 fails with InvalidOptionError naming limit", () =>
    Effect.gen(function*() {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "2" as unknown as number]) {
        const error = yield* Effect.flip(Throttle.make({ limit: bad, window: 1000 }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("limit")
        expect(error.message).toContain("Throttle.make: option limit must be an integer >= 1")
      }
    }))

  it.effect("a window that is not a finite duration > 0 fails with InvalidOptionError naming window", () =>
    Effect.gen(function*() {
      for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, "Infinity", "soon"] as const) {
        const error = yield* Effect.flip(Throttle.make({ limit: 1, window: bad as Duration.Input }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("window")
      }
      expect((yield* Throttle.make({ limit: 1, window: "1 second" })).window).toEqual(Duration.seconds(1))
    }))

  it.effect("an unknown strategy fails with InvalidOptionError naming strategy", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Throttle.make({ limit: 1, window: 1000, strategy: "drop" as unknown as Throttle.Strategy })
      )
      expect(error._tag).toBe("InvalidOptionError")
      expect(error.option).toBe("strategy")
      expect((yield* Throttle.make({ limit: 1, window: 1000 })).strategy).toBe("delay")
    }))

  it.effect("delay: a burst of 7 with limit 3 per second is admitted at 0, 0, 0, 1000, 1000, 1000, 2000", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 3, window: "1 second" })
      const times = yield* VirtualTime.autojump(
        Effect.forEach(Array.from({ length: 7 }), () => admittedAt(throttle), { concurrency: "unbounded" })
      )
      expect(times).toEqual([0, 0, 0, 1000, 1000, 1000, 2000])
      expect(yield* throttle.stats).toMatchObject({ admitted: 7, delayed: 4, waiting: 0, rejected: 0, available: 2 })
    }))

  it.effect("the window slides: a slot frees exactly one window after the start that used it", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 2, window: 1000 })
      const times = yield* VirtualTime.autojump(Effect.gen(function*() {
        const a = yield* admittedAt(throttle)
        yield* Effect.sleep(600)
        const b = yield* admittedAt(throttle)
        // a fixed window would admit both of these at 1000; the sliding one waits for each earlier start to age out
        const [c, d] = yield* Effect.all([admittedAt(throttle), admittedAt(throttle)], { concurrency: "unbounded" })
        return [a, b, c, d]
      }))
      expect(times).toEqual([0, 600, 1000, 1600])
    }))

  it.effect("delayed callers are admitted in the order they arrived", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 1, window: 100 })
      const order: Array<[number, number]> = []
      yield* VirtualTime.autojump(
        Effect.forEach(
          [0, 1, 2, 3, 4, 5],
          (i) => Effect.andThen(admittedAt(throttle), (t) => Effect.sync(() => order.push([i, t]))),
          { concurrency: "unbounded", discard: true }
        )
      )
      expect(order).toEqual([[0, 0], [1, 100], [2, 200], [3, 300], [4, 400], [5, 500]])
    }))

  it.effect("a newcomer never jumps the line, even when it arrives as a slot frees up", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 1, window: 100 })
      // c's sleep is registered first, so at 100 c runs before b (the head of the line) wakes up
      const c = yield* start(Effect.andThen(Effect.sleep(100), admittedAt(throttle)))
      expect(yield* admittedAt(throttle)).toBe(0)
      const b = yield* start(admittedAt(throttle))
      yield* TestClock.adjust(100)
      yield* TestClock.adjust(100)
      expect([yield* Fiber.join(b), yield* Fiber.join(c)]).toEqual([100, 200])
    }))

  it.effect("interrupting waiting callers, the one sleeping at the head included, uses no slot", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 1, window: 1000 })
      expect(yield* admittedAt(throttle)).toBe(0)
      const b = yield* start(admittedAt(throttle)) // the head of the line, sleeping until 1000
      const c = yield* start(admittedAt(throttle))
      const d = yield* start(admittedAt(throttle))
      yield* settle
      expect((yield* throttle.stats).waiting).toBe(3)
      yield* TestClock.adjust(500)
      yield* Fiber.interrupt(c)
      yield* Fiber.interrupt(b)
      yield* settle
      expect((yield* throttle.stats).waiting).toBe(1)
      yield* TestClock.adjust(500)
      expect(yield* Fiber.join(d)).toBe(1000)
      expect(yield* throttle.stats).toMatchObject({ admitted: 2, waiting: 0 })
    }))

  it.effect("a caller interrupted after it was given a slot but before it started gives the slot back", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 2, window: 100 })
      yield* throttle.take
      yield* throttle.take
      let victim: Fiber.Fiber<number> | undefined
      // at 100, b (the front) admits itself and c in one go; b then interrupts c before c's next turn
      const b = yield* start(Throttle.withThrottle(throttle, Effect.sync(() => victim!.interruptUnsafe())))
      const c = yield* start(admittedAt(throttle))
      victim = c
      yield* settle
      yield* TestClock.adjust(100)
      yield* Fiber.join(b)
      const exit = yield* Fiber.await(c)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      // c's slot is free again at 100, not at 200
      expect(yield* admittedAt(throttle)).toBe(100)
      expect(yield* throttle.stats).toMatchObject({ admitted: 4, delayed: 1, waiting: 0, available: 0 })
    }))

  it.effect("reject: a call over the limit fails at once with ThrottledError carrying retryAfter", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 2, window: 1000, strategy: "reject", name: "api" })
      yield* throttle.take
      yield* TestClock.adjust(300)
      yield* throttle.take
      yield* TestClock.adjust(100)
      const error = yield* Effect.flip(throttle.take)
      expect(error).toBeInstanceOf(Throttle.ThrottledError)
      expect(Throttle.isThrottledError(error)).toBe(true)
      expect(error.retryAfter).toEqual(Duration.millis(600))
      expect(error).toMatchObject({ name: "api", limit: 2 })
      yield* TestClock.adjust(600)
      yield* throttle.take
      expect(yield* throttle.stats).toMatchObject({ admitted: 3, rejected: 1, delayed: 0, waiting: 0 })
    }))

  it.effect("withThrottle runs the effect once admitted and counts it as running until it ends", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 1, window: 1000 })
      const first = yield* start(Throttle.withThrottle(throttle, Effect.sleep(5000)))
      const second = yield* start(Effect.succeed("second").pipe(Throttle.withThrottle(throttle)))
      yield* settle
      expect(yield* throttle.stats).toMatchObject({ running: 1, waiting: 1 })
      yield* TestClock.adjust(1000)
      expect(yield* Fiber.join(second)).toBe("second")
      expect(yield* throttle.stats).toMatchObject({ running: 1, waiting: 0 })
      yield* TestClock.adjust(4000)
      yield* Fiber.join(first)
      expect(yield* throttle.stats).toMatchObject({ running: 0, admitted: 2 })
      expect(Throttle.isThrottle(throttle)).toBe(true)
    }))

  it.effect("with metrics on, in-flight and waiting gauges follow the throttle", () =>
    Effect.gen(function*() {
      const throttle = yield* Throttle.make({ limit: 1, window: 1000, name: "smtp", metrics: true })
      const attrs = { primitive: "Throttle", name: "smtp" }
      const running = yield* start(Throttle.withThrottle(throttle, Effect.sleep(2000)))
      const waiting = yield* start(throttle.take)
      yield* settle
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(1)
      yield* TestClock.adjust(2000)
      yield* Fiber.join(waiting)
      yield* Fiber.join(running)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count).toBe(2)
    }))

  it.effect(
    "random schedules with random interruptions: the window is never exceeded and nothing is left",
    () =>
      Effect.gen(function*() {
        yield* Chaos.forEachSeed(150, (random) =>
          Effect.gen(function*() {
            const limit = 1 + random.int(4)
            const windowMillis = 10 * (1 + random.int(10))
            const strategy = random.chance(0.25) ? "reject" as const : "delay" as const
            const throttle = yield* Throttle.make({ limit, window: windowMillis, strategy })
            const starts: Array<number> = []
            const run = Effect.gen(function*() {
              const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
              const callers = 1 + random.int(25)
              for (let i = 0; i < callers; i++) {
                const arrive = random.int(200)
                const hold = random.int(50)
                fibers.push(
                  yield* Effect.forkChild(
                    Effect.sleep(arrive).pipe(
                      Effect.andThen(
                        Throttle.withThrottle(
                          throttle,
                          Effect.andThen(
                            Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => starts.push(t))),
                            Effect.sleep(hold)
                          )
                        )
                      ),
                      Effect.ignore
                    )
                  )
                )
              }
              yield* Effect.forEach(
                randomInterruptions(random, fibers, random.int(callers), 300),
                (interruption) => Effect.forkChild(interruption)
              )
              yield* Fiber.awaitAll(fibers)
            })
            yield* LeakCheck.fibers(VirtualTime.autojump(run))
            // at most `limit` starts in any half-open span of one window
            const sorted = starts.toSorted((a, b) => a - b)
            for (let i = limit; i < sorted.length; i++) {
              expect(sorted[i]! - sorted[i - limit]!).toBeGreaterThanOrEqual(windowMillis)
            }
            const stats = yield* throttle.stats
            expect(stats).toMatchObject({ waiting: 0, running: 0 })
            expect(stats.admitted).toBe(starts.length)
          }))
      }),
    60_000
  )
})
