import { Barrier, Metrics } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Metric, Ref } from "effect"
import { isInterrupted, randomInterruptions, start } from "./support.ts"

const brokenReason = <A>(exit: Exit.Exit<A, Barrier.BrokenBarrierError>) =>
  Exit.isFailure(exit)
    ? Cause.findErrorOption(exit.cause).pipe((o) => o._tag === "Some" ? o.value.reason : "none")
    : "ok"

describe("Barrier", () => {
  it.effect("parties that are not an integer >= 1 fail with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "2" as unknown as number]) {
        const error = yield* Effect.flip(Barrier.make(bad))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("parties")
        expect(error.message).toContain("Barrier.make: option parties must be an integer >= 1")
      }
      expect((yield* Barrier.make(1)).parties).toBe(1)
    }))

  it.effect("fibers wait until the last party arrives, then all are released together", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const a = yield* start(barrier.await)
      const b = yield* start(barrier.await)
      yield* Effect.yieldNow
      expect(a.pollUnsafe()).toBeUndefined()
      expect(b.pollUnsafe()).toBeUndefined()
      expect((yield* barrier.stats).waiting).toBe(2)
      const c = yield* barrier.await
      expect(a.pollUnsafe()).toBeDefined()
      expect(b.pollUnsafe()).toBeDefined()
      expect([yield* Fiber.join(a), yield* Fiber.join(b), c]).toEqual([0, 1, 2])
      expect(yield* barrier.stats).toEqual({ parties: 3, waiting: 0, broken: false, rounds: 1 })
    }))

  it.effect("reports the parties waiting and the rounds completed as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "Barrier", name: "barrier-metrics" }
      const waiting = Effect.map(Metric.value(Metric.withAttributes(Metrics.waiting, attrs)), (s) => s.value)
      const rounds = Effect.map(Metric.value(Metric.withAttributes(Metrics.acquired, attrs)), (s) => s.count)
      const barrier = yield* Barrier.make(3, { name: "barrier-metrics", metrics: true })
      const a = yield* start(barrier.await)
      const b = yield* start(barrier.await)
      expect(yield* waiting).toBe(2)
      yield* Fiber.interrupt(b)
      expect(yield* waiting).toBe(1)
      yield* start(barrier.await)
      yield* barrier.await
      yield* Fiber.join(a)
      expect(yield* waiting).toBe(0)
      expect(yield* rounds).toBe(1)
      const c = yield* start(barrier.await)
      expect(yield* waiting).toBe(1)
      yield* barrier.abort
      expect(yield* waiting).toBe(0)
      expect(brokenReason(yield* Fiber.await(c))).toBe("abort")
      expect(yield* rounds).toBe(1)
    }))

  it.effect("each await returns a distinct arrival index, 0 for the first and parties - 1 for the last", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(5)
      const fibers = []
      for (let i = 0; i < 4; i++) fibers.push(yield* start(barrier.await))
      const last = yield* barrier.await
      expect([...(yield* Fiber.joinAll(fibers)), last]).toEqual([0, 1, 2, 3, 4])
    }))

  it.effect("the barrier is cyclic: workers meet round after round with fresh indexes", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(4)
      const seen = yield* Ref.make<Array<Array<number>>>([])
      const worker = (id: number) =>
        Effect.gen(function*() {
          for (let round = 0; round < 5; round++) {
            yield* Effect.sleep(10 * ((id + round) % 3))
            const index = yield* barrier.await
            yield* Ref.update(seen, (xs) => {
              const next = xs.slice()
              next[round] = [...(next[round] ?? []), index]
              return next
            })
          }
        })
      yield* Effect.forEach([0, 1, 2, 3], worker, { concurrency: "unbounded", discard: true }).pipe(
        VirtualTime.autojump
      )
      const rounds = yield* Ref.get(seen)
      expect(rounds.length).toBe(5)
      for (const indexes of rounds) expect(indexes.toSorted()).toEqual([0, 1, 2, 3])
      expect(yield* barrier.stats).toEqual({ parties: 4, waiting: 0, broken: false, rounds: 5 })
    }))

  it.effect("a released fiber that waits again at once joins the next round, not the one that released it", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      // a waits twice in a row: its second await must wait for a new partner, not pass on its own
      const a = yield* start(Effect.all([barrier.await, barrier.await]))
      expect(yield* barrier.await).toBe(1)
      yield* Effect.yieldNow
      expect(a.pollUnsafe()).toBeUndefined()
      expect(yield* barrier.stats).toMatchObject({ waiting: 1, rounds: 1 })
      expect(yield* barrier.await).toBe(1)
      expect(yield* Fiber.join(a)).toEqual([0, 0])
    }))

  it.effect("a barrier of one party never waits and returns index 0", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(1)
      expect([yield* barrier.await, yield* barrier.await, yield* barrier.await]).toEqual([0, 0, 0])
      expect(yield* barrier.stats).toEqual({ parties: 1, waiting: 0, broken: false, rounds: 3 })
    }))

  it.effect("abort fails every waiter with BrokenBarrierError, and later waits fail at once", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const a = yield* start(barrier.await)
      const b = yield* start(barrier.await)
      yield* barrier.abort
      const exits = [yield* Fiber.await(a), yield* Fiber.await(b)]
      for (const exit of exits) {
        expect(Exit.isFailure(exit)).toBe(true)
        expect(brokenReason(exit)).toBe("abort")
      }
      const later = yield* Effect.flip(barrier.await)
      expect(later).toBeInstanceOf(Barrier.BrokenBarrierError)
      expect(later._tag).toBe("BrokenBarrierError")
      expect(later.reason).toBe("abort")
      expect(Barrier.isBrokenBarrierError(later)).toBe(true)
      expect(yield* barrier.stats).toEqual({ parties: 3, waiting: 0, broken: true, rounds: 0 })
    }))

  it.effect("reset after abort makes the barrier work again", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      yield* barrier.abort
      yield* barrier.reset
      expect((yield* barrier.stats).broken).toBe(false)
      const a = yield* start(barrier.await)
      expect(yield* barrier.await).toBe(1)
      expect(yield* Fiber.join(a)).toBe(0)
      expect(yield* barrier.stats).toEqual({ parties: 2, waiting: 0, broken: false, rounds: 1 })
    }))

  it.effect("reset fails the fibers waiting now with BrokenBarrierError and leaves the barrier working", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const a = yield* start(barrier.await)
      const b = yield* start(barrier.await)
      yield* barrier.reset
      expect(brokenReason(yield* Fiber.await(a))).toBe("reset")
      expect(brokenReason(yield* Fiber.await(b))).toBe("reset")
      expect(yield* barrier.stats).toEqual({ parties: 3, waiting: 0, broken: false, rounds: 0 })
      // the next full set passes: the two reset fibers do not count towards it
      const c = yield* start(barrier.await)
      const d = yield* start(barrier.await)
      expect(yield* barrier.await).toBe(2)
      expect([yield* Fiber.join(c), yield* Fiber.join(d)]).toEqual([0, 1])
    }))

  it.effect("a waiter interrupted while waiting leaves without breaking the barrier; the next full set gets 0..n-1", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const a = yield* start(barrier.await)
      const b = yield* start(barrier.await)
      yield* Fiber.interrupt(a)
      expect(isInterrupted(yield* Fiber.await(a))).toBe(true)
      expect(yield* barrier.stats).toEqual({ parties: 3, waiting: 1, broken: false, rounds: 0 })
      // one arrival is not enough any more: b and c still need a third
      const c = yield* start(barrier.await)
      yield* Effect.yieldNow
      expect(c.pollUnsafe()).toBeUndefined()
      const d = yield* barrier.await
      expect([yield* Fiber.join(b), yield* Fiber.join(c), d]).toEqual([0, 1, 2])
      expect(yield* barrier.stats).toEqual({ parties: 3, waiting: 0, broken: false, rounds: 1 })
    }))

  it.effect("a waiter interrupted by a fiber released in the same round does not stop the others or leave a trace", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const victim = yield* Deferred.make<Fiber.Fiber<number, Barrier.BrokenBarrierError>>()
      // a is resumed first and, inline, interrupts b, which was released in the same round but has not run yet
      const a = yield* start(
        barrier.await.pipe(Effect.tap(() => Effect.flatMap(Deferred.await(victim), Fiber.interrupt)))
      )
      const b = yield* start(barrier.await)
      yield* Deferred.succeed(victim, b)
      expect(yield* barrier.await).toBe(2)
      expect(yield* Fiber.join(a)).toBe(0)
      // b counted as arrived (the round completed) but ends interrupted, as a cancelled asyncio task would
      expect(isInterrupted(yield* Fiber.await(b))).toBe(true)
      expect(yield* barrier.stats).toEqual({ parties: 3, waiting: 0, broken: false, rounds: 1 })
      // the barrier still works for a full set
      const x = yield* start(barrier.await)
      const y = yield* start(barrier.await)
      expect(yield* barrier.await).toBe(2)
      expect([yield* Fiber.join(x), yield* Fiber.join(y)]).toEqual([0, 1])
    }))

  it.effect("a party that fails can abort the barrier so its peers stop waiting", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const party = (fail: boolean) =>
        Effect.gen(function*() {
          yield* Effect.sleep(10)
          if (fail) return yield* Effect.fail("load failed" as const)
          return yield* barrier.await
        }).pipe(Effect.tapError(() => barrier.abort))
      const exits = yield* Effect.forEach([false, true, false], (f) => Effect.exit(party(f)), {
        concurrency: "unbounded"
      }).pipe(VirtualTime.autojump)
      const errors = exits.map((exit) =>
        Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause).pipe((o) => o._tag === "Some" ? o.value : "") : ""
      )
      expect(errors[1]).toBe("load failed")
      expect(errors[0]).toBeInstanceOf(Barrier.BrokenBarrierError)
      expect(errors[2]).toBeInstanceOf(Barrier.BrokenBarrierError)
    }))

  it.effect("stats report parties, fibers waiting, the broken state and completed rounds", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      expect(yield* barrier.stats).toEqual({ parties: 2, waiting: 0, broken: false, rounds: 0 })
      const a = yield* start(barrier.await)
      expect(yield* barrier.stats).toEqual({ parties: 2, waiting: 1, broken: false, rounds: 0 })
      yield* barrier.await
      yield* Fiber.join(a)
      expect(yield* barrier.stats).toEqual({ parties: 2, waiting: 0, broken: false, rounds: 1 })
      yield* start(barrier.await)
      yield* barrier.abort
      expect(yield* barrier.stats).toEqual({ parties: 2, waiting: 0, broken: true, rounds: 1 })
    }))

  it.effect("10,000 parties meet in one round with distinct indexes and leave no fiber", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(10_000)
      const indexes = yield* LeakCheck.fibers(
        Effect.forEach(Array.from({ length: 10_000 }), () => barrier.await, { concurrency: "unbounded" })
      )
      expect(new Set(indexes).size).toBe(10_000)
      expect(Math.min(...indexes)).toBe(0)
      expect(Math.max(...indexes)).toBe(9_999)
      expect(yield* barrier.stats).toEqual({ parties: 10_000, waiting: 0, broken: false, rounds: 1 })
    }))

  it.effect("random schedules of arrivals, interruptions, aborts and resets leave nothing waiting and no fiber", () =>
    Effect.gen(function*() {
      // totals over every run, to check the schedules do reach the paths under test
      const seen = { rounds: 0, broken: 0, interruptedWhileWaiting: 0 }
      // seeds 1..200, then again with metrics on: the gauge must end idle too
      for (const metrics of [false, true]) {
        yield* Chaos.forEachSeed(200, (random) =>
          Effect.gen(function*() {
            const name = `random-${random.seed}`
            const parties = 1 + random.int(4)
            const workers = parties + random.int(4)
            const barrier = yield* Barrier.make(parties, metrics ? { name, metrics } : undefined)
            const indexCounts = Array.from({ length: parties }, () => 0)
            let aborted = false
            const run = Effect.gen(function*() {
              const fibers: Array<Fiber.Fiber<void>> = []
              for (let w = 0; w < workers; w++) {
                const rounds = 1 + random.int(4)
                const sleeps = Array.from({ length: rounds }, () => random.int(20))
                fibers.push(
                  yield* Effect.forkChild(
                    Effect.forEach(sleeps, (ms) =>
                      Effect.sleep(ms).pipe(
                        Effect.andThen(barrier.await.pipe(Effect.onInterrupt(() =>
                          Effect.sync(() => {
                            seen.interruptedWhileWaiting++
                          })
                        ))),
                        Effect.tap((i) =>
                          Effect.sync(() => {
                            indexCounts[i] = (indexCounts[i] ?? 0) + 1
                          })
                        ),
                        Effect.catchTag("BrokenBarrierError", () =>
                          Effect.sync(() => {
                            seen.broken++
                          }))
                      ), { discard: true })
                  )
                )
              }
              // random interruptions at random virtual times, and sometimes an abort followed later by a reset
              const events = randomInterruptions(random, fibers, random.int(workers + 1), 60)
              if (random.chance(0.3)) {
                const at = random.int(60)
                aborted = true
                events.push(
                  Effect.sleep(at).pipe(
                    Effect.andThen(barrier.abort),
                    Effect.andThen(Effect.sleep(random.int(20))),
                    Effect.andThen(barrier.reset)
                  )
                )
              }
              yield* Effect.all(events, { concurrency: "unbounded", discard: true })
              // let everything that can finish finish, then interrupt whoever is left waiting for a round that
              // cannot fill any more
              yield* Effect.sleep(200)
              yield* Fiber.interruptAll(fibers)
            })
            yield* LeakCheck.fibers(VirtualTime.autojump(run))
            const stats = yield* barrier.stats
            expect(stats.waiting).toBe(0)
            expect(stats.broken).toBe(false)
            // every completed round handed out each index 0..parties-1 exactly once
            for (const count of indexCounts) expect(count, `aborted: ${aborted}`).toBe(stats.rounds)
            seen.rounds += stats.rounds
            if (metrics) {
              const attrs = { primitive: "Barrier", name }
              expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value, name).toBe(0)
              expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count, name).toBe(
                stats.rounds
              )
            }
          }))
      }
      expect(seen.rounds).toBeGreaterThan(300)
      expect(seen.broken).toBeGreaterThan(50)
      expect(seen.interruptedWhileWaiting).toBeGreaterThan(100)
    }))

  it.effect("isBarrier tells a barrier made by make from any other value", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      expect(Barrier.isBarrier(barrier)).toBe(true)
      expect(Barrier.isBarrier({ ...barrier })).toBe(false)
      expect(Barrier.isBarrier(null)).toBe(false)
    }))
})
