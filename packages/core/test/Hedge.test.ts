import { Hedge, Metrics, Retry } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Data, Deferred, Duration, Effect, Exit, Fiber, Metric } from "effect"
import { randomInterruptions } from "./support.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly attempt: number }> {}

/**
 * A backend whose n-th attempt (from 1, across calls) takes `latency(n)` ms and then does `outcome(n)`; it logs
 * when each attempt starts, ends and is cleaned up.
 */
const backend = (
  latency: (attempt: number) => number,
  outcome: (attempt: number) => "ok" | "fail" | "die" = () => "ok"
) => {
  const log: Array<string> = []
  let attempts = 0
  const call = Effect.suspend(() => {
    const n = ++attempts
    return Effect.gen(function*() {
      log.push(`start ${n} @${yield* Clock.currentTimeMillis}`)
      yield* Effect.sleep(latency(n))
      const result = outcome(n)
      if (result === "fail") return yield* Effect.fail(new Boom({ attempt: n }))
      if (result === "die") return yield* Effect.die(`defect ${n}`)
      log.push(`done ${n} @${yield* Clock.currentTimeMillis}`)
      return n
    }).pipe(Effect.onInterrupt(() =>
      Effect.gen(function*() {
        log.push(`cancelled ${n} @${yield* Clock.currentTimeMillis}`)
      })
    ))
  })
  return { log, call, attempts: () => attempts }
}

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(effect)
    return [exit, (yield* Clock.currentTimeMillis) - start] as const
  })

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = xs.toSorted((a, b) => a - b)
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!
}

describe("Hedge", () => {
  it.effect("tail latency: one attempt in ten takes 1000 ms; a 50 ms hedge brings p99 and max from 1000 to 60", () =>
    Effect.gen(function*() {
      const slowEvery10th = (n: number) => n % 10 === 0 ? 1_000 : 10
      const latencies = (run: (effect: Effect.Effect<number, Boom>) => Effect.Effect<number, Boom>) =>
        Effect.gen(function*() {
          const b = backend(slowEvery10th)
          const out: Array<number> = []
          for (let i = 0; i < 100; i++) {
            const [, ms] = yield* timed(run(b.call))
            out.push(ms)
          }
          return out
        }).pipe(VirtualTime.autojump)
      const plain = yield* latencies((e) => e)
      expect(percentile(plain, 99)).toBe(1_000)
      expect(Math.max(...plain)).toBe(1_000)
      const hedger = yield* Hedge.make({ delay: "50 millis" })
      const hedged = yield* latencies(hedger.run)
      expect(percentile(hedged, 99)).toBe(60)
      expect(Math.max(...hedged)).toBe(60)
      expect(percentile(hedged, 50)).toBe(10)
      const stats = yield* hedger.stats
      // attempts 10, 20, ..., 110 are the slow ones (hedges shift the count): 11 hedges, each won
      expect(stats).toMatchObject({ calls: 100, inFlight: 0, attempts: 0, hedges: 11, hedgesWon: 11 })
    }))

  it.effect("the first success wins; the others are interrupted and their finalizers run before the call returns", () =>
    Effect.gen(function*() {
      const b = backend((n) => n === 1 ? 500 : 20)
      const hedger = yield* Hedge.make({ delay: "100 millis", maxExtra: 2 })
      const [exit, ms] = yield* timed(hedger.run(b.call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.succeed(2))
      expect(ms).toBe(120)
      expect(b.log).toEqual(["start 1 @0", "start 2 @100", "done 2 @120", "cancelled 1 @120"])
    }))

  it.effect("at most maxExtra hedges, one every delay after the previous start", () =>
    Effect.gen(function*() {
      const b = backend(() => 1_000)
      const hedger = yield* Hedge.make({ delay: "100 millis", maxExtra: 2 })
      const [exit, ms] = yield* timed(hedger.run(b.call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.succeed(1))
      expect(ms).toBe(1_000)
      expect(b.log.filter((l) => l.startsWith("start"))).toEqual(["start 1 @0", "start 2 @100", "start 3 @200"])
      expect(b.log.filter((l) => l.startsWith("cancelled"))).toEqual(["cancelled 2 @1000", "cancelled 3 @1000"])
      expect((yield* hedger.stats).hedges).toBe(2)
    }))

  it.effect("maxExtra 0 and an Infinity delay never hedge", () =>
    Effect.gen(function*() {
      for (const options of [{ maxExtra: 0 }, { delay: Infinity }]) {
        const b = backend(() => 300)
        const hedger = yield* Hedge.make(options)
        yield* hedger.run(b.call).pipe(VirtualTime.autojump)
        expect(b.attempts()).toBe(1)
        expect((yield* hedger.stats).hedges).toBe(0)
      }
    }))

  it.effect("a hedge that fails does not end the call while the first attempt still runs", () =>
    Effect.gen(function*() {
      const b = backend((n) => n === 1 ? 100 : 10, (n) => n === 2 ? "fail" : "ok")
      const hedger = yield* Hedge.make({ delay: "50 millis" })
      const [exit, ms] = yield* timed(hedger.run(b.call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.succeed(1))
      expect(ms).toBe(100)
    }))

  it.effect("when every attempt fails the call fails with the first typed error by time", () =>
    Effect.gen(function*() {
      // attempt 1 fails at 100, attempt 2 (started at 50) fails at 60: the first failure is attempt 2's
      const b = backend((n) => n === 1 ? 100 : 10, () => "fail")
      const hedger = yield* Hedge.make({ delay: "50 millis" })
      const [exit, ms] = yield* timed(hedger.run(b.call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.fail(new Boom({ attempt: 2 })))
      expect(ms).toBe(100)
    }))

  it.effect("hedging does not retry: an attempt that fails before the delay ends the call, no hedge starts", () =>
    Effect.gen(function*() {
      const b = backend(() => 10, () => "fail")
      const hedger = yield* Hedge.make({ delay: "50 millis", maxExtra: 3 })
      const [exit, ms] = yield* timed(hedger.run(b.call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.fail(new Boom({ attempt: 1 })))
      expect(ms).toBe(10)
      expect(b.attempts()).toBe(1)
      expect(yield* hedger.stats).toMatchObject({ hedges: 0, inFlight: 0, attempts: 0 })
    }))

  it.effect("a defect in one attempt ends the call at once and interrupts the others", () =>
    Effect.gen(function*() {
      const b = backend((n) => n === 1 ? 1_000 : 10, (n) => n === 2 ? "die" : "ok")
      const hedger = yield* Hedge.make({ delay: "50 millis" })
      const [exit, ms] = yield* timed(hedger.run(b.call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.die("defect 2"))
      expect(ms).toBe(60)
      expect(b.log).toContain("cancelled 1 @60")
    }))

  it.effect("a call that completes without suspending returns at once without a timer fiber", () =>
    Effect.gen(function*() {
      const hedger = yield* Hedge.make({ delay: "50 millis" })
      const [value, counts] = yield* LeakCheck.track(hedger.run(Effect.succeed(7)))
      expect(value).toBe(7)
      expect(counts.started).toBe(1)
      expect(yield* Effect.flip(hedger.run(Effect.fail(new Boom({ attempt: 1 }))))).toEqual(new Boom({ attempt: 1 }))
      expect(yield* hedger.stats).toMatchObject({ calls: 2, inFlight: 0, attempts: 0 })
    }))

  it.effect("the delay follows the chosen percentile of observed latencies once minSamples are in", () =>
    Effect.gen(function*() {
      const hedger = yield* Hedge.make({ delay: "500 millis", percentile: 90, window: 20, minSamples: 10 })
      const latency = (i: number) => (i % 10) * 10 + 10 // 10, 20, ..., 100, repeating
      let i = 0
      const call = Effect.suspend(() => Effect.sleep(latency(i++)))
      for (let k = 0; k < 9; k++) yield* hedger.run(call).pipe(VirtualTime.autojump)
      // 9 samples: still the initial delay
      expect(Duration.toMillis((yield* hedger.stats).delay)).toBe(500)
      yield* hedger.run(call).pipe(VirtualTime.autojump)
      // samples 10..100: p90 (nearest rank) is 90
      expect(Duration.toMillis((yield* hedger.stats).delay)).toBe(90)
      // the window slides: 20 samples of 10 ms push the p90 down to 10
      const fast = Effect.sleep(10)
      for (let k = 0; k < 20; k++) yield* hedger.run(fast).pipe(VirtualTime.autojump)
      expect(Duration.toMillis((yield* hedger.stats).delay)).toBe(10)
      expect((yield* hedger.stats).hedges).toBe(0)
    }))

  it.effect("with a percentile, slow attempts get hedged once the estimate is in place", () =>
    Effect.gen(function*() {
      const b = backend((n) => n % 10 === 0 ? 1_000 : 10 + (n % 3))
      const hedger = yield* Hedge.make({ delay: "200 millis", percentile: 95, window: 50, minSamples: 5 })
      const out: Array<number> = []
      for (let k = 0; k < 100; k++) {
        const [, ms] = yield* timed(hedger.run(b.call)).pipe(VirtualTime.autojump)
        out.push(ms)
      }
      expect(Math.max(...out)).toBeLessThan(300)
      const stats = yield* hedger.stats
      expect(stats.hedgesWon).toBeGreaterThanOrEqual(9)
      expect(Duration.toMillis(stats.delay)).toBeLessThan(200)
    }))

  it.effect("a budget caps hedges at its ratio of calls; refused hedges are counted", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.makeBudget({ ratio: 0.1, minRetriesPerSecond: 0, window: "1 hour" })
      const hedger = yield* Hedge.make({ delay: "10 millis", budget })
      const b = backend(() => 50)
      for (let k = 0; k < 100; k++) yield* hedger.run(b.call).pipe(VirtualTime.autojump)
      const stats = yield* hedger.stats
      expect(stats.hedges).toBe(10)
      expect(stats.hedgesRejected).toBe(90)
      expect(b.attempts()).toBe(110)
      expect(yield* budget.stats).toMatchObject({ calls: 100, retries: 10, rejected: 90 })
    }))

  it.effect("Hedge.run works data-first and data-last", () =>
    Effect.gen(function*() {
      const hedger = yield* Hedge.make({ delay: "5 millis" })
      const b = backend((n) => n === 1 ? 100 : 1)
      expect(yield* Hedge.run(b.call, hedger).pipe(VirtualTime.autojump)).toBe(2)
      expect(yield* b.call.pipe(Hedge.run(hedger), VirtualTime.autojump)).toBe(3)
    }))

  it.effect("interrupting the caller interrupts every attempt and the timer, runs finalizers, leaks nothing", () =>
    Effect.gen(function*() {
      const b = backend(() => 1_000)
      const hedger = yield* Hedge.make({ delay: "100 millis", maxExtra: 3 })
      const exit = yield* LeakCheck.fibers(
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(hedger.run(b.call))
          yield* Effect.sleep("250 millis")
          yield* Fiber.interrupt(fiber)
          return yield* Fiber.await(fiber)
        }).pipe(VirtualTime.autojump)
      )
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      expect(b.log).toEqual([
        "start 1 @0",
        "start 2 @100",
        "start 3 @200",
        "cancelled 1 @250",
        "cancelled 2 @250",
        "cancelled 3 @250"
      ])
      expect(yield* hedger.stats).toMatchObject({ calls: 1, inFlight: 0, attempts: 0, hedges: 2 })
    }))

  it.effect("a loser whose cleanup dies makes the call die with that defect instead of hiding it", () =>
    Effect.gen(function*() {
      let n = 0
      const call = Effect.suspend(() => {
        const mine = ++n
        return mine === 1
          ? Effect.sleep(1_000).pipe(Effect.as(mine), Effect.onInterrupt(() => Effect.die("cleanup broke")))
          : Effect.sleep(10).pipe(Effect.as(mine))
      })
      const hedger = yield* Hedge.make({ delay: "50 millis" })
      const exit = yield* Effect.exit(hedger.run(call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.die("cleanup broke"))
    }))

  it.effect("the caller waits for a loser's slow cleanup", () =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      let n = 0
      const call = Effect.suspend(() => {
        const mine = ++n
        return mine === 1
          ? Effect.sleep(1_000).pipe(
            Effect.as(mine),
            Effect.onInterrupt(() => Effect.sleep(30).pipe(Effect.andThen(Deferred.succeed(done, undefined))))
          )
          : Effect.sleep(10).pipe(Effect.as(mine))
      })
      const hedger = yield* Hedge.make({ delay: "50 millis" })
      const [exit, ms] = yield* timed(hedger.run(call)).pipe(VirtualTime.autojump)
      expect(exit).toStrictEqual(Exit.succeed(2))
      expect(ms).toBe(90)
      expect(yield* Deferred.isDone(done)).toBe(true)
    }))

  it.effect("invalid options fail with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const cases: Array<[Hedge.Options, string]> = [
        [{ delay: -1 }, "delay"],
        [{ delay: Number.NaN }, "delay"],
        [{ delay: "later" as Duration.Input }, "delay"],
        [{ maxExtra: -1 }, "maxExtra"],
        [{ maxExtra: 1.5 }, "maxExtra"],
        [{ maxExtra: Infinity }, "maxExtra"],
        [{ percentile: 0 }, "percentile"],
        [{ percentile: 101 }, "percentile"],
        [{ percentile: Number.NaN }, "percentile"],
        [{ window: 0 }, "window"],
        [{ window: 2.5 }, "window"],
        [{ minSamples: 0 }, "minSamples"],
        [{ window: 5, minSamples: 6 }, "minSamples"]
      ]
      for (const [options, option] of cases) {
        const error = yield* Effect.flip(Hedge.make(options))
        expect(error).toMatchObject({ _tag: "InvalidOptionError", module: "Hedge.make", option })
      }
      yield* Hedge.make({ delay: 0, maxExtra: 0, percentile: 100, window: 1, minSamples: 1 })
    }))

  it.effect("metrics: in-flight attempts, hedges started and hedges refused are reported under the hedger's name", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.makeBudget({ ratio: 0, minRetriesPerSecond: 0.1, window: "10 seconds" })
      const hedger = yield* Hedge.make({ delay: "10 millis", maxExtra: 3, budget, name: "kv", metrics: true })
      const attrs = { primitive: "Hedge", name: "kv" }
      const inFlight = Metric.withAttributes(Metrics.inFlight, attrs)
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(hedger.run(Deferred.await(gate)))
      yield* Effect.sleep("50 millis").pipe(VirtualTime.autojump)
      // the first attempt and one hedge (the budget allows one retry in its window, then refuses)
      expect((yield* Metric.value(inFlight)).value).toBe(2)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.rejected, attrs))).count).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(fiber)
      expect((yield* Metric.value(inFlight)).value).toBe(0)
    }))

  it.effect("random interruptions of hedged calls leave no attempt, no fiber, and idle stats", () =>
    Effect.gen(function*() {
      const seen = { interrupted: 0, succeeded: 0, failed: 0, hedged: 0 }
      yield* Chaos.forEachSeed(150, (random) =>
        Effect.gen(function*() {
          const hedger = yield* Hedge.make({
            delay: 5 + random.int(40),
            maxExtra: random.int(4),
            ...(random.chance(0.5) ? { percentile: 90, minSamples: 3, window: 10 } : {})
          })
          let running = 0
          const run = Effect.gen(function*() {
            const fibers: Array<Fiber.Fiber<number, Boom>> = []
            const callers = 1 + random.int(10)
            for (let c = 0; c < callers; c++) {
              const call = Effect.suspend(() => {
                running++
                const r = random.next()
                return Effect.sleep(random.int(120)).pipe(
                  Effect.andThen(r < 0.2 ? Effect.fail(new Boom({ attempt: 0 })) : Effect.succeed(1)),
                  Effect.ensuring(Effect.sync(() => {
                    running--
                  }))
                )
              })
              fibers.push(yield* Effect.forkChild(Effect.sleep(random.int(60)).pipe(Effect.andThen(hedger.run(call)))))
            }
            yield* Effect.forEach(
              randomInterruptions(random, fibers, random.int(callers + 1), 200),
              (interruption) => Effect.forkChild(interruption)
            )
            for (const fiber of fibers) {
              const exit = yield* Fiber.await(fiber)
              if (Exit.isSuccess(exit)) seen.succeeded++
              else if (Cause.hasInterrupts(exit.cause)) seen.interrupted++
              else seen.failed++
            }
          })
          yield* LeakCheck.fibers(VirtualTime.autojump(Effect.scoped(run)))
          const stats = yield* hedger.stats
          seen.hedged += stats.hedges
          expect(running).toBe(0)
          expect(stats.inFlight).toBe(0)
          expect(stats.attempts).toBe(0)
          expect(stats.hedgesWon).toBeLessThanOrEqual(stats.hedges)
        }))
      expect(seen.interrupted).toBeGreaterThan(0)
      expect(seen.succeeded).toBeGreaterThan(0)
      expect(seen.failed).toBeGreaterThan(0)
      expect(seen.hedged).toBeGreaterThan(0)
    }))

  it.effect("isHedger tells a hedger made by make from any other value", () =>
    Effect.gen(function*() {
      const hedger = yield* Hedge.make({ delay: "10 millis" })
      expect(Hedge.isHedger(hedger)).toBe(true)
      expect(Hedge.isHedger({ ...hedger })).toBe(false)
      expect(Hedge.isHedger(undefined)).toBe(false)
    }))
})
