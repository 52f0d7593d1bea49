import { Deadline, Metrics, Retry } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Data, Duration, Effect, Exit, Fiber, Metric, Random, Schedule } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { randomInterruptions } from "./support.ts"

class Flaky extends Data.TaggedError("Flaky")<{ readonly attempt: number }> {}
class NotFound extends Data.TaggedError("NotFound")<{ readonly attempt: number }> {}
class TooManyRequests extends Data.TaggedError("TooManyRequests")<{
  readonly attempt: number
  readonly retryAfter: Duration.Duration
}> {}

/**
 * An operation that records the virtual time of each attempt and fails with what `fail(attempt)` returns (or
 * succeeds with the attempt number when it returns undefined).
 */
const recorder = <E>(fail: (attempt: number) => E | undefined) => {
  const times: Array<number> = []
  const effect = Effect.gen(function*() {
    times.push(yield* Clock.currentTimeMillis)
    const error = fail(times.length)
    if (error !== undefined) return yield* Effect.fail(error)
    return times.length
  })
  return { times, effect }
}

const noJitter = { jitter: "none" } as const

describe("Retry", () => {
  it.effect("backoff 100, 200, 400 capped at 300: attempts at t = 0, 100, 300, 600, then the last error", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) => new Flaky({ attempt }))
      const error = yield* VirtualTime.autojump(
        op.effect.pipe(
          Retry.retry({ ...noJitter, base: "100 millis", maxDelay: "300 millis", maxAttempts: 4 }),
          Effect.flip
        )
      )
      expect(op.times).toEqual([0, 100, 300, 600])
      // typed: the last attempt's own error, not a wrapper
      expect(error).toEqual(new Flaky({ attempt: 4 }))
      expect(yield* Clock.currentTimeMillis).toBe(600)
    }))

  it.effect("a call that recovers returns its value after the retries it needed", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) => attempt < 3 ? new Flaky({ attempt }) : undefined)
      const value = yield* VirtualTime.autojump(op.effect.pipe(Retry.retry({ ...noJitter, maxAttempts: 5 })))
      expect(value).toBe(3)
      expect(op.times).toEqual([0, 100, 300])
    }))

  it.effect("maxAttempts counts the first attempt: 1 means no retry, the default is 3", () =>
    Effect.gen(function*() {
      const once = recorder((attempt) => new Flaky({ attempt }))
      yield* VirtualTime.autojump(Effect.flip(once.effect.pipe(Retry.retry({ maxAttempts: 1 }))))
      expect(once.times).toEqual([0])
      const byDefault = recorder((attempt) => new Flaky({ attempt }))
      yield* VirtualTime.autojump(Effect.flip(byDefault.effect.pipe(Retry.retry({ ...noJitter }))))
      expect(byDefault.times.length).toBe(3)
    }))

  it.effect("a Retry-After of 2 s is honoured: no attempt before t = 2000, then backoff resumes", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) =>
        attempt === 1
          ? new TooManyRequests({ attempt, retryAfter: Duration.seconds(2) })
          : attempt < 3
          ? new Flaky({ attempt })
          : undefined
      )
      const value = yield* VirtualTime.autojump(op.effect.pipe(Retry.retry({ ...noJitter, maxAttempts: 5 })))
      expect(value).toBe(3)
      // 2000 (the hint beats the 100 ms backoff), then 200 ms (the second backoff step)
      expect(op.times).toEqual([0, 2_000, 2_200])
    }))

  it.effect("retryAfter: false ignores the hint", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) =>
        attempt === 1 ? new TooManyRequests({ attempt, retryAfter: Duration.seconds(2) }) : undefined
      )
      yield* VirtualTime.autojump(op.effect.pipe(Retry.retry({ ...noJitter, retryAfter: false })))
      expect(op.times).toEqual([0, 100])
    }))

  it.effect("retryAfterOf reads the hint on the error or in its reason (Effect's RateLimiter and CircuitBreaker)", () =>
    Effect.sync(() => {
      expect(Retry.retryAfterOf(new TooManyRequests({ attempt: 1, retryAfter: Duration.seconds(3) })))
        .toEqual(Duration.seconds(3))
      const limited = new RateLimiter.RateLimiterError({
        reason: new RateLimiter.RateLimitExceeded({
          retryAfter: Duration.millis(1_500),
          key: "k",
          limit: 1,
          remaining: 0
        })
      })
      expect(Retry.retryAfterOf(limited)).toEqual(Duration.millis(1_500))
      const open = new CircuitBreaker.CircuitBreakerError({
        reason: new CircuitBreaker.CircuitOpen({ key: "k", retryAfter: Duration.seconds(30) })
      })
      expect(Retry.retryAfterOf(open)).toEqual(Duration.seconds(30))
      expect(Retry.retryAfterOf({ retryAfter: 250 })).toEqual(Duration.millis(250))
      expect(Retry.retryAfterOf({ retryAfter: -1 })).toBeUndefined()
      expect(Retry.retryAfterOf({ retryAfter: "soon" })).toBeUndefined()
      expect(Retry.retryAfterOf(new Error("x"))).toBeUndefined()
      expect(Retry.retryAfterOf("boom")).toBeUndefined()
      expect(Retry.retryAfterOf(null)).toBeUndefined()
    }))

  it.effect("an error the predicate calls non-retryable fails at once, without retrying", () =>
    Effect.gen(function*() {
      const op = recorder((attempt): Flaky | NotFound =>
        attempt === 1 ? new Flaky({ attempt }) : new NotFound({ attempt })
      )
      const error = yield* VirtualTime.autojump(
        op.effect.pipe(Retry.retry({ ...noJitter, maxAttempts: 5, retryOn: (e) => e._tag === "Flaky" }), Effect.flip)
      )
      expect(op.times).toEqual([0, 100])
      expect(error).toEqual(new NotFound({ attempt: 2 }))
    }))

  it.effect("a defect is never retried", () =>
    Effect.gen(function*() {
      let attempts = 0
      const exit = yield* VirtualTime.autojump(
        Effect.exit(
          Effect.suspend(() => {
            attempts++
            return Effect.die("bug")
          }).pipe(Retry.retry({ maxAttempts: 5 }))
        )
      )
      expect(attempts).toBe(1)
      expect(exit).toStrictEqual(Exit.die("bug"))
    }))

  it.effect("the deadline stops retries early with the last error, before the deadline passes", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) => new Flaky({ attempt }))
      const error = yield* VirtualTime.autojump(
        op.effect.pipe(
          Retry.retry({ ...noJitter, base: "100 millis", maxDelay: "10 seconds", maxAttempts: Infinity }),
          Deadline.within("1 second"),
          Effect.flip
        )
      )
      // delays 100, 200, 400 fit; the next (800 ms at t = 700) would end past t = 1000: give up now
      expect(op.times).toEqual([0, 100, 300, 700])
      expect(error).toEqual(new Flaky({ attempt: 4 }))
      expect(yield* Clock.currentTimeMillis).toBe(700)
    }))

  it.effect("a Retry-After longer than the deadline's remaining budget ends the call at once", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) => new TooManyRequests({ attempt, retryAfter: Duration.seconds(5) }))
      const error = yield* VirtualTime.autojump(
        op.effect.pipe(Retry.retry({ maxAttempts: 5 }), Deadline.within("2 seconds"), Effect.flip)
      )
      expect(op.times).toEqual([0])
      expect(error._tag).toBe("TooManyRequests")
      expect(yield* Clock.currentTimeMillis).toBe(0)
    }))

  it.effect("deadline: false sleeps into the deadline, which then fails the call with DeadlineExceededError", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) => new Flaky({ attempt }))
      const error = yield* VirtualTime.autojump(
        op.effect.pipe(
          Retry.retry({ ...noJitter, maxAttempts: Infinity, deadline: false }),
          Deadline.within("1 second"),
          Effect.flip
        )
      )
      expect(error._tag).toBe("DeadlineExceededError")
      expect(op.times).toEqual([0, 100, 300, 700])
      expect(yield* Clock.currentTimeMillis).toBe(1_000)
    }))

  it.effect("full jitter draws each delay from [0, capped delay) with Effect's Random: reproducible with a seed", () =>
    Effect.gen(function*() {
      const run = (seed: string) =>
        Effect.gen(function*() {
          const start = yield* Clock.currentTimeMillis
          const op = recorder((attempt) => new Flaky({ attempt }))
          yield* VirtualTime.autojump(Effect.flip(op.effect.pipe(
            Retry.retry({ base: "100 millis", maxDelay: "300 millis", maxAttempts: 6 }),
            Random.withSeed(seed)
          )))
          return op.times.map((t) => t - start)
        })
      const a = yield* run("seed-1")
      const b = yield* run("seed-1")
      const c = yield* run("seed-2")
      expect(a).toEqual(b)
      expect(a).not.toEqual(c)
      const delays = a.slice(1).map((t, i) => t - a[i]!)
      const caps = [100, 200, 300, 300, 300]
      delays.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThan(caps[i]!)
      })
    }))

  it.effect("proportional jitter scales each delay by 0.8 to 1.2 and never exceeds maxDelay", () =>
    Effect.gen(function*() {
      for (let seed = 0; seed < 20; seed++) {
        const op = recorder((attempt) => new Flaky({ attempt }))
        const start = yield* Clock.currentTimeMillis
        yield* VirtualTime.autojump(Effect.flip(op.effect.pipe(
          Retry.retry({ jitter: "proportional", base: "100 millis", maxDelay: "300 millis", maxAttempts: 5 }),
          Random.withSeed(seed)
        )))
        const times = op.times.map((t) => t - start)
        const delays = times.slice(1).map((t, i) => t - times[i]!)
        const nominal = [100, 200, 400, 800]
        delays.forEach((d, i) => {
          expect(d).toBeGreaterThanOrEqual(Math.min(nominal[i]! * 0.8, 300) - 1e-9)
          expect(d).toBeLessThanOrEqual(Math.min(nominal[i]! * 1.2, 300) + 1e-9)
        })
      }
    }))

  it.effect("used data-last, a policy is a decorator applied to many effects", () =>
    Effect.gen(function*() {
      const withRetry = Retry.retry<Flaky>({ ...noJitter, maxAttempts: 2 })
      const a = recorder((attempt) => attempt < 2 ? new Flaky({ attempt }) : undefined)
      const b = recorder((attempt) => new Flaky({ attempt }))
      expect(yield* VirtualTime.autojump(withRetry(a.effect))).toBe(2)
      expect(yield* VirtualTime.autojump(Effect.flip(withRetry(b.effect)))).toEqual(new Flaky({ attempt: 2 }))
    }))

  it.effect("Retry.schedule is a Schedule for Effect.retry, with the same behaviour", () =>
    Effect.gen(function*() {
      const policy = Retry.schedule<Flaky>({ ...noJitter, base: "100 millis", maxDelay: "300 millis", maxAttempts: 4 })
      const op = recorder((attempt) => new Flaky({ attempt }))
      const error = yield* VirtualTime.autojump(Effect.flip(Effect.retry(op.effect, policy)))
      expect(op.times).toEqual([0, 100, 300, 600])
      expect(error).toEqual(new Flaky({ attempt: 4 }))
    }))

  it.effect("the combinators add one feature each to a schedule of your own", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.makeBudget({ ratio: 0, minRetriesPerSecond: 0.1, window: "10 seconds" })
      const policy = Schedule.spaced("1 second").pipe(
        Schedule.upTo({ times: 10 }),
        Retry.withRetryAfter,
        Retry.whileDeadline,
        Retry.withBudget(budget)
      )
      // Retry-After 3 s beats the 1 s spacing; the budget (1 retry in the window) then stops the second retry
      const op = recorder((attempt) => new TooManyRequests({ attempt, retryAfter: Duration.seconds(3) }))
      const error = yield* VirtualTime.autojump(Effect.flip(Effect.retry(op.effect, policy)))
      expect(op.times).toEqual([0, 3_000])
      expect(error.attempt).toBe(2)
      expect(yield* budget.stats).toMatchObject({ calls: 1, retries: 1, rejected: 1 })
      // whileDeadline alone: spaced 1 s under a 2.5 s deadline gives attempts at 0, 1000, 2000
      const op2 = recorder((attempt) => new Flaky({ attempt }))
      yield* VirtualTime.autojump(Effect.flip(
        Effect.retry(op2.effect, Schedule.spaced("1 second").pipe(Retry.whileDeadline)).pipe(
          Deadline.within("2500 millis")
        )
      ))
      expect(op2.times).toEqual([3_000, 4_000, 5_000])
    }))

  it.effect("a retry storm: with a budget, total attempts stay within calls × (1 + ratio) + floor × window", () =>
    Effect.gen(function*() {
      const calls = 100
      const maxAttempts = 5
      const storm = (budget: Retry.RetryBudget | undefined) =>
        Effect.gen(function*() {
          let attempts = 0
          const down = Effect.suspend(() => {
            attempts++
            return Effect.fail(new Flaky({ attempt: attempts }))
          })
          const policy = budget === undefined
            ? { ...noJitter, maxAttempts }
            : { ...noJitter, maxAttempts, budget }
          yield* VirtualTime.autojump(
            Effect.forEach(
              Array.from({ length: calls }, (_, i) => i),
              () => Effect.ignore(down.pipe(Retry.retry(policy))),
              { concurrency: "unbounded", discard: true }
            )
          )
          return attempts
        })
      // a dependency that fails for everyone: without a budget every call makes maxAttempts attempts
      expect(yield* storm(undefined)).toBe(calls * maxAttempts)
      // with a budget of 10% plus a floor of 2 retries per second over a 10 s window
      const budget = yield* Retry.makeBudget({ ratio: 0.1, minRetriesPerSecond: 2, window: "10 seconds" })
      const attempts = yield* storm(budget)
      const bound = calls * (1 + 0.1) + 2 * 10
      expect(attempts).toBeLessThanOrEqual(bound)
      expect(attempts).toBe(130) // the whole budget is spent: 10 from the ratio, 20 from the floor
      const stats = yield* budget.stats
      expect(stats).toMatchObject({ name: "RetryBudget", calls: 100, retries: 30, available: 0 })
      expect(stats.rejected).toBeGreaterThan(0)
    }))

  it.effect("the budget refills as deposits and withdrawals leave the sliding window", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.makeBudget({ ratio: 0.5, minRetriesPerSecond: 0, window: "1 second" })
      expect((yield* budget.stats).available).toBe(0)
      yield* budget.deposit
      yield* budget.deposit
      expect((yield* budget.stats).available).toBe(1)
      expect(yield* budget.tryWithdraw).toBe(true)
      expect(yield* budget.tryWithdraw).toBe(false)
      yield* budget.deposit
      expect(yield* budget.tryWithdraw).toBe(false) // 1.5 deposited, 1 spent
      yield* Effect.sleep("1 second").pipe(VirtualTime.autojump)
      // everything expired: the net balance is empty again
      expect((yield* budget.stats).available).toBe(0)
      yield* budget.deposit
      yield* budget.deposit
      expect(yield* budget.tryWithdraw).toBe(true)
      expect(yield* budget.stats).toEqual({ name: "RetryBudget", calls: 5, retries: 2, rejected: 2, available: 0 })
    }))

  it.effect("the floor allows minRetriesPerSecond × window seconds of retries with no traffic at all", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.makeBudget({ ratio: 0, minRetriesPerSecond: 3, window: "2 seconds" })
      expect((yield* budget.stats).available).toBe(6)
      let granted = 0
      for (let i = 0; i < 10; i++) if (yield* budget.tryWithdraw) granted++
      expect(granted).toBe(6)
      // the withdrawals expire with the window: the floor is back
      yield* Effect.sleep("2 seconds").pipe(VirtualTime.autojump)
      expect((yield* budget.stats).available).toBe(6)
    }))

  it.effect("budgets are independent objects", () =>
    Effect.gen(function*() {
      const a = yield* Retry.makeBudget({ ratio: 0, minRetriesPerSecond: 0.1, window: "10 seconds", name: "a" })
      const b = yield* Retry.makeBudget({ ratio: 0, minRetriesPerSecond: 0.1, window: "10 seconds", name: "b" })
      expect(yield* a.tryWithdraw).toBe(true)
      expect(yield* a.tryWithdraw).toBe(false)
      expect(yield* b.tryWithdraw).toBe(true)
      expect((yield* a.stats).name).toBe("a")
    }))

  it.effect("invalid Retry options fail with InvalidOptionError naming the option, before the first attempt", () =>
    Effect.gen(function*() {
      const cases: Array<[Retry.Options<unknown>, string]> = [
        [{ base: Number.NaN }, "base"],
        [{ base: -1 }, "base"],
        [{ base: "soon" as Duration.Input }, "base"],
        [{ base: Infinity }, "base"],
        [{ maxDelay: -5 }, "maxDelay"],
        [{ maxDelay: Number.NaN }, "maxDelay"],
        [{ factor: 0.5 }, "factor"],
        [{ factor: Number.NaN }, "factor"],
        [{ factor: Infinity }, "factor"],
        [{ maxAttempts: 0 }, "maxAttempts"],
        [{ maxAttempts: 1.5 }, "maxAttempts"],
        [{ maxAttempts: Number.NaN }, "maxAttempts"],
        [{ maxAttempts: -Infinity }, "maxAttempts"],
        [{ jitter: "random" as "full" }, "jitter"]
      ]
      for (const [options, option] of cases) {
        let ran = false
        const error = yield* Effect.flip(
          Effect.sync(() => {
            ran = true
          }).pipe(Retry.retry(options))
        )
        expect(error._tag).toBe("InvalidOptionError")
        expect((error as { option?: string }).option).toBe(option)
        expect(ran).toBe(false)
        // the Schedule form fails with the same error when first stepped
        const viaSchedule = yield* Effect.flip(Effect.retry(Effect.fail("x"), Retry.schedule(options)))
        expect(viaSchedule).toMatchObject({ _tag: "InvalidOptionError", module: "Retry", option })
      }
    }))

  it.effect("invalid budget options fail with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const cases: Array<[Retry.BudgetOptions, string]> = [
        [{ ratio: -0.1 }, "ratio"],
        [{ ratio: 1.5 }, "ratio"],
        [{ ratio: Number.NaN }, "ratio"],
        [{ minRetriesPerSecond: -1 }, "minRetriesPerSecond"],
        [{ minRetriesPerSecond: Infinity }, "minRetriesPerSecond"],
        [{ minRetriesPerSecond: Number.NaN }, "minRetriesPerSecond"],
        [{ window: 0 }, "window"],
        [{ window: -1 }, "window"],
        [{ window: Number.NaN }, "window"],
        [{ window: Infinity }, "window"]
      ]
      for (const [options, option] of cases) {
        const error = yield* Effect.flip(Retry.makeBudget(options))
        expect(error).toMatchObject({ _tag: "InvalidOptionError", module: "Retry.makeBudget", option })
      }
      // the edges are valid
      yield* Retry.makeBudget({ ratio: 0, minRetriesPerSecond: 0 })
      yield* Retry.makeBudget({ ratio: 1, window: "1 millis" })
    }))

  it.effect("metrics: a budget reports retries granted and refused, and the retries available as its limit", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.makeBudget({
        ratio: 0,
        minRetriesPerSecond: 0.2,
        window: "10 seconds",
        name: "payments",
        metrics: true
      })
      const attrs = { primitive: "RetryBudget", name: "payments" }
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(2)
      yield* budget.tryWithdraw
      yield* budget.tryWithdraw
      yield* budget.tryWithdraw
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count).toBe(2)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.rejected, attrs))).count).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(0)
    }))

  it.effect("metrics: a policy reports its retries, give-ups and backoff waits; none when off", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "Retry", name: "fetch" }
      const op = recorder((attempt) => new Flaky({ attempt }))
      yield* VirtualTime.autojump(Effect.flip(op.effect.pipe(
        Retry.retry({ ...noJitter, maxAttempts: 3, name: "fetch", metrics: true })
      )))
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count).toBe(2)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.rejected, attrs))).count).toBe(1)
      const waits = yield* Metric.value(Metric.withAttributes(Metrics.waitTime, attrs))
      expect(waits.count).toBe(2)
      expect(waits.sum).toBe(300)
      const off = { primitive: "Retry", name: "quiet" }
      yield* VirtualTime.autojump(Effect.flip(op.effect.pipe(Retry.retry({ ...noJitter, name: "quiet" }))))
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, off))).count).toBe(0)
    }))

  it.effect("interrupting a call while it waits to retry ends it at once and leaks no fiber", () =>
    Effect.gen(function*() {
      const op = recorder((attempt) => new Flaky({ attempt }))
      const exit = yield* LeakCheck.fibers(
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(op.effect.pipe(Retry.retry({ ...noJitter, maxAttempts: 5 })))
          yield* Effect.sleep("150 millis")
          yield* Fiber.interrupt(fiber)
          return yield* Fiber.await(fiber)
        }).pipe(VirtualTime.autojump)
      )
      expect(Exit.isFailure(exit) && exit.cause.reasons.every((r) => r._tag === "Interrupt")).toBe(true)
      expect(op.times).toEqual([0, 100])
    }))

  it.effect("random interruptions of callers sharing a budget leave no fiber and the budget idle after its window", () =>
    Effect.gen(function*() {
      const seen = { interrupted: 0, succeeded: 0, failed: 0 }
      yield* Chaos.forEachSeed(100, (random) =>
        Effect.gen(function*() {
          const budget = yield* Retry.makeBudget({ ratio: 0.2, minRetriesPerSecond: 1, window: "1 second" })
          let started = 0
          let attempts = 0
          const callers = 1 + random.int(12)
          const run = Effect.gen(function*() {
            const fibers: Array<Fiber.Fiber<number, unknown>> = []
            for (let c = 0; c < callers; c++) {
              const failures = random.int(6)
              const work = Effect.suspend(() => {
                attempts++
                return Effect.sleep(random.int(30)).pipe(
                  Effect.andThen(
                    attempts % 7 < failures ? Effect.fail(new Flaky({ attempt: attempts })) : Effect.succeed(1)
                  )
                )
              })
              const call = Effect.sleep(random.int(50)).pipe(
                Effect.andThen(Effect.sync(() => {
                  started++
                })),
                Effect.andThen(
                  work.pipe(Retry.retry({ base: 10 + random.int(30), maxAttempts: 1 + random.int(5), budget }))
                )
              )
              fibers.push(yield* Effect.forkChild(call))
            }
            yield* Effect.forEach(
              randomInterruptions(random, fibers, random.int(callers + 1), 300),
              (interruption) => Effect.forkChild(interruption)
            )
            for (const fiber of fibers) {
              const exit = yield* Fiber.await(fiber)
              if (Exit.isSuccess(exit)) seen.succeeded++
              else if (exit.cause.reasons.some((r) => r._tag === "Interrupt")) seen.interrupted++
              else seen.failed++
            }
            yield* Effect.sleep(500)
          })
          // the retry jitter draws from Effect's Random: seed it too, so a failing seed replays exactly
          yield* LeakCheck.fibers(VirtualTime.autojump(Effect.scoped(run))).pipe(Random.withSeed(random.seed))
          const stats = yield* budget.stats
          // every call that started deposited once; every attempt past the first of a call was a granted retry
          expect(stats.calls).toBe(started)
          expect(attempts).toBeGreaterThanOrEqual(started)
          expect(attempts).toBeLessThanOrEqual(started + stats.retries)
          // once the window has passed with no traffic, only the floor is left
          yield* Effect.sleep("1 second").pipe(VirtualTime.autojump)
          expect((yield* budget.stats).available).toBe(1)
        }))
      expect(seen.interrupted).toBeGreaterThan(0)
      expect(seen.succeeded).toBeGreaterThan(0)
      expect(seen.failed).toBeGreaterThan(0)
    }))
})
