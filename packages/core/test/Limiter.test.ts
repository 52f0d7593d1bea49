import { Limiter, Metrics } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Option, Ref } from "effect"
import { holdUntilReleased, isInterrupted, runRandomCallers, start } from "./support.ts"

/** Holds a permit of `limiter` until the returned deferred is completed. */
const holdPermit = (limiter: Limiter.Limiter) => holdUntilReleased((effect) => limiter.withPermit(effect))

describe("Limiter (fixed)", () => {
  it.effect("a limit that is not an integer >= 1 fails with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "2" as unknown as number]) {
        const error = yield* Effect.flip(Limiter.make({ limit: bad }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("limit")
        expect(error.message).toContain("Limiter.make: option limit must be an integer >= 1")
      }
      const limiter = yield* Limiter.make({ limit: 2 })
      for (const bad of [0, -3, 2.5, Number.NaN]) {
        const error = yield* Effect.flip(limiter.resize(bad))
        expect(error.option).toBe("limit")
        expect(error.module).toBe("Limiter.resize")
      }
      expect((yield* limiter.stats).limit).toBe(2)
    }))

  it.effect(
    "never more than limit in flight over 10,000 tasks, and the limit is reached",
    () =>
      Effect.gen(function*() {
        const limiter = yield* Limiter.make({ limit: 7 })
        const probe = yield* ConcurrencyProbe.make
        yield* VirtualTime.autojump(
          Effect.forEach(
            Array.from({ length: 10_000 }, (_, i) => i),
            (i) => limiter.withPermit(probe.track(Effect.sleep(1 + (i * 7919) % 13))),
            { concurrency: "unbounded", discard: true }
          )
        )
        const stats = yield* probe.stats
        expect(stats.peak).toBe(7)
        expect(stats.ended).toBe(10_000)
        expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0, acquired: 10_000 })
      }),
    60_000
  ) // 10,000 fibers: about 5 s on a loaded 2-core machine, over vitest's default

  it.effect("waiters are admitted in arrival order", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      const order = yield* Ref.make<Array<number>>([])
      const held = yield* holdPermit(limiter)
      const fibers = []
      for (let i = 0; i < 6; i++) {
        fibers.push(yield* start(limiter.withPermit(Ref.update(order, (xs) => [...xs, i]))))
      }
      expect((yield* limiter.stats).waiting).toBe(6)
      yield* held.release
      yield* Fiber.joinAll(fibers)
      expect(yield* Ref.get(order)).toEqual([0, 1, 2, 3, 4, 5])
    }))

  it.effect("a newcomer does not overtake waiters when a permit frees up", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      const order = yield* Ref.make<Array<string>>([])
      const held = yield* holdPermit(limiter)
      const waiter = yield* start(limiter.withPermit(Ref.update(order, (xs) => [...xs, "waiter"])))
      // release and, in the same step, arrive as a newcomer: the waiter was granted first
      yield* held.release
      yield* limiter.withPermit(Ref.update(order, (xs) => [...xs, "newcomer"]))
      yield* Fiber.join(waiter)
      expect(yield* Ref.get(order)).toEqual(["waiter", "newcomer"])
    }))

  it.effect("an interrupted waiter leaves no trace: it never runs and the others keep their order", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      const order = yield* Ref.make<Array<number>>([])
      const held = yield* holdPermit(limiter)
      const fibers = []
      for (let i = 0; i < 4; i++) {
        fibers.push(yield* start(limiter.withPermit(Ref.update(order, (xs) => [...xs, i]))))
      }
      yield* Fiber.interrupt(fibers[1]!)
      yield* Fiber.interrupt(fibers[3]!)
      expect(yield* limiter.stats).toMatchObject({ inFlight: 1, waiting: 2 })
      yield* held.release
      yield* Fiber.join(fibers[0]!)
      yield* Fiber.join(fibers[2]!)
      expect(yield* Ref.get(order)).toEqual([0, 2])
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0, acquired: 3, waited: 2 })
    }))

  it.effect("interrupting a holder releases its permit to the next waiter", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      const holder = yield* start(limiter.withPermit(Effect.never))
      const waiter = yield* start(limiter.withPermit(Effect.succeed("got it")))
      yield* Fiber.interrupt(holder)
      expect(yield* Fiber.join(waiter)).toBe("got it")
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0 })
    }))

  it.effect("a failure or a defect in the effect releases the permit and is passed through", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      expect(yield* Effect.flip(limiter.withPermit(Effect.fail("boom" as const)))).toBe("boom")
      const exit = yield* Effect.exit(limiter.withPermit(Effect.die("bug")))
      expect(exit).toStrictEqual(Exit.die("bug"))
      expect(yield* limiter.withPermit(Effect.succeed(1))).toBe(1)
      expect((yield* limiter.stats).inFlight).toBe(0)
    }))

  it.effect("a waiter interrupted after its grant and before it ran passes the permit on (no lost permit)", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      const victim = yield* Deferred.make<Fiber.Fiber<void>>()
      // the blocker ends, which grants the permit to `first`, and at once (before `first` runs) interrupts it
      const release = yield* Deferred.make<void>()
      const blocker = yield* start(
        limiter.withPermit(Deferred.await(release)).pipe(
          Effect.andThen(Deferred.await(victim)),
          Effect.flatMap((fiber) => Effect.sync(() => fiber.interruptUnsafe()))
        )
      )
      const ran = yield* Ref.make<Array<string>>([])
      const first = yield* start(limiter.withPermit(Ref.update(ran, (xs) => [...xs, "first"])))
      const second = yield* start(limiter.withPermit(Ref.update(ran, (xs) => [...xs, "second"])))
      yield* Deferred.succeed(victim, first)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(blocker)
      expect(isInterrupted(yield* Fiber.await(first))).toBe(true)
      yield* Fiber.join(second)
      expect(yield* Ref.get(ran)).toEqual(["second"])
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0 })
    }))

  it.effect("resize works data-first and data-last (pipe)", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      yield* Limiter.resize(limiter, 2)
      expect((yield* limiter.stats).limit).toBe(2)
      yield* limiter.pipe(Limiter.resize(5))
      expect((yield* limiter.stats).limit).toBe(5)
      const error = yield* Effect.flip(limiter.pipe(Limiter.resize(0)))
      expect(error._tag).toBe("InvalidOptionError")
    }))

  it.effect("resize up admits waiters at once", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      const held = yield* holdPermit(limiter)
      const probe = yield* ConcurrencyProbe.make
      const waiters = []
      for (let i = 0; i < 4; i++) waiters.push(yield* start(limiter.withPermit(probe.track(Effect.never))))
      expect((yield* limiter.stats).waiting).toBe(4)
      yield* Limiter.resize(limiter, 4)
      yield* probe.awaitCurrent(3)
      expect(yield* limiter.stats).toMatchObject({ limit: 4, inFlight: 4, waiting: 1 })
      yield* held.release
      yield* probe.awaitCurrent(4)
      yield* Fiber.interruptAll(waiters)
      expect((yield* limiter.stats).inFlight).toBe(0)
    }))

  it.effect("resize down lets holders finish and admits nobody until in flight is below the new limit", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 3 })
      const holders = [yield* holdPermit(limiter), yield* holdPermit(limiter), yield* holdPermit(limiter)]
      const ran = yield* Ref.make(0)
      const waiter = yield* start(limiter.withPermit(Ref.update(ran, (n) => n + 1)))
      yield* limiter.resize(1)
      expect(yield* limiter.stats).toMatchObject({ limit: 1, inFlight: 3, waiting: 1 })
      yield* holders[0]!.release
      yield* Fiber.join(holders[0]!.fiber)
      yield* holders[1]!.release
      yield* Fiber.join(holders[1]!.fiber)
      // one holder left = the new limit: still nobody admitted
      expect(yield* limiter.stats).toMatchObject({ inFlight: 1, waiting: 1 })
      expect(yield* Ref.get(ran)).toBe(0)
      yield* holders[2]!.release
      yield* Fiber.join(waiter)
      expect(yield* Ref.get(ran)).toBe(1)
      // the holders were not interrupted by the resize
      for (const h of holders) expect(Exit.isSuccess(yield* Fiber.await(h.fiber))).toBe(true)
    }))

  it.effect("withPermitIfAvailable runs when a permit is free and returns none at once otherwise", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 1 })
      expect(yield* Limiter.withPermitIfAvailable(limiter, Effect.succeed(1))).toEqual(Option.some(1))
      const held = yield* holdPermit(limiter)
      const ran = yield* Ref.make(false)
      const none = yield* limiter.withPermitIfAvailable(Ref.set(ran, true))
      expect(none).toEqual(Option.none())
      expect(yield* Ref.get(ran)).toBe(false)
      // with waiters queued, a free permit belongs to them: no barging
      const waiter = yield* start(limiter.withPermit(Effect.void))
      yield* held.release
      expect(Option.isNone(yield* limiter.withPermitIfAvailable(Effect.void))).toBe(true)
      yield* Fiber.join(waiter)
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, rejected: 2, acquired: 3 })
    }))

  it.effect("data-first, data-last and method forms are the same operation", () =>
    Effect.gen(function*() {
      const limiter = yield* Limiter.make({ limit: 2, name: "db" })
      expect(yield* Effect.succeed(1).pipe(Limiter.withPermit(limiter))).toBe(1)
      expect(yield* Limiter.withPermit(limiter, Effect.succeed(2))).toBe(2)
      expect(yield* Effect.succeed(3).pipe(Limiter.withPermitIfAvailable(limiter))).toEqual(Option.some(3))
      yield* limiter.pipe(Limiter.resize(5))
      expect(Limiter.isLimiter(limiter)).toBe(true)
      expect(Limiter.isLimiter({})).toBe(false)
      expect(yield* Limiter.stats(limiter)).toEqual({
        name: "db",
        limit: 5,
        inFlight: 0,
        waiting: 0,
        acquired: 3,
        waited: 0,
        rejected: 0
      })
    }))

  it.effect("100,000 waiters on one limiter are served in order at constant cost each", () =>
    Effect.gen(function*() {
      const n = 100_000
      const limiter = yield* Limiter.make({ limit: 10 })
      const held = []
      for (let i = 0; i < 10; i++) held.push(yield* holdPermit(limiter))
      let next = 0
      let outOfOrder = 0
      const fiber = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) =>
          limiter.withPermit(Effect.sync(() => {
            if (i !== next) outOfOrder++
            next++
          })),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.forkChild)
      while ((yield* limiter.stats).waiting < n) yield* Effect.yieldNow
      for (const h of held) yield* h.release
      yield* Fiber.join(fiber)
      expect(next).toBe(n)
      expect(outOfOrder).toBe(0)
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0, waited: n })
    }), 30_000)

  it.effect("reports in flight, waiting, limit and acquisitions as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "Limiter", name: "limiter-metrics" }
      const limiter = yield* Limiter.make({ limit: 2, name: "limiter-metrics", metrics: true })
      const held = yield* holdPermit(limiter)
      const probe = yield* ConcurrencyProbe.make
      const waiters = [
        yield* start(limiter.withPermit(probe.track(Effect.never))),
        yield* start(limiter.withPermit(probe.track(Effect.never)))
      ]
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(2)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(2)
      yield* limiter.resize(3)
      yield* probe.awaitCurrent(2)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(3)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(3)
      yield* Fiber.interruptAll(waiters)
      yield* held.release
      yield* Fiber.join(held.fiber)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count).toBe(3)
      // one wait-time sample per admission (0 for the one that did not wait)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waitTime, attrs))).count).toBe(3)
    }))

  it.effect("random schedules of holders, waiters, interruptions and resizes leave nothing held or waiting", () =>
    Effect.gen(function*() {
      const seen = { interruptedWaiting: 0, interruptedHolding: 0, completed: 0 }
      yield* Chaos.forEachSeed(150, (random) =>
        Effect.gen(function*() {
          const limits = [1 + random.int(4)]
          const limiter = yield* Limiter.make({ limit: limits[0]! })
          const probe = yield* ConcurrencyProbe.make
          yield* runRandomCallers(
            random,
            (hold) =>
              limiter.withPermit(
                probe.track(Effect.sleep(hold)).pipe(Effect.onInterrupt(() =>
                  Effect.sync(() => {
                    seen.interruptedHolding++
                  })
                ))
              ).pipe(Effect.onInterrupt(() =>
                Effect.sync(() => {
                  seen.interruptedWaiting++
                })
              )),
            {
              onCompleted: () => seen.completed++,
              events: () => {
                if (!random.chance(0.4)) return []
                const limit = 1 + random.int(4)
                limits.push(limit)
                return [Effect.sleep(random.int(60)).pipe(Effect.andThen(limiter.resize(limit)), Effect.orDie)]
              }
            }
          )
          const stats = yield* limiter.stats
          expect(stats.inFlight).toBe(0)
          expect(stats.waiting).toBe(0)
          expect((yield* probe.stats).peak).toBeLessThanOrEqual(Math.max(...limits))
        }))
      // the schedules do reach the paths under test
      expect(seen.interruptedWaiting).toBeGreaterThan(100)
      expect(seen.interruptedHolding).toBeGreaterThan(50)
      expect(seen.completed).toBeGreaterThan(500)
    }))
})
