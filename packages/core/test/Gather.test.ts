import { ConcurrencyProbe, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Data, Effect, Exit, Fiber, pipe, Stream } from "effect"
import * as Gather from "../src/Gather.ts"
import * as internal from "../src/internal/gather.ts"
import { InvalidOptionError } from "../src/InvalidOption.ts"

class NotFound extends Data.TaggedError("NotFound")<{ readonly id: number }> {}
class Invalid extends Data.TaggedError("Invalid")<{ readonly reason: string }> {}

/** Compile-time exact type equality. */
type Equals<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false

/** A short summary of an outcome, for exact assertions. */
const summary = <I, A, E>(o: Gather.Outcome<I, A, E>): string =>
  Gather.match(o, {
    onSuccess: (s) => `${s.index}:${String(s.input)}:Success(${String(s.value)})`,
    onFailure: (f) => `${f.index}:${String(f.input)}:Failure(${String(f.error)})`,
    onDefect: (d) => `${d.index}:${String(d.input)}:Defect(${String(d.defect)})`,
    onInterrupted: (i) => `${i.index}:${String(i.input)}:Interrupted`,
    onNotRun: (n) => `${n.index}:${String(n.input)}:NotRun`,
    onTimedOut: (t) => `${t.index}:${String(t.input)}:TimedOut(${t.started ? "started" : "not started"})`
  })

/** Runs `effect` under autojump and returns its value with the virtual time it took. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const value = yield* VirtualTime.autojump(effect)
    return { value, elapsed: (yield* Clock.currentTimeMillis) - start }
  })

describe("Gather", () => {
  it.effect("returns one outcome per input, in input order, each with its input and index", () =>
    Effect.gen(function*() {
      const delays: Record<string, number> = { a: 30, b: 10, c: 40, d: 20 }
      const finished: Array<string> = []
      const { value: settled } = yield* timed(
        Gather.settle(["a", "b", "c", "d"], (name) =>
          Effect.sleep(delays[name]!).pipe(
            Effect.tap(() => Effect.sync(() => finished.push(name))),
            Effect.andThen(name === "c" ? Effect.fail(`no ${name}`) : Effect.succeed(name.toUpperCase()))
          ))
      )
      expect(finished).toEqual(["b", "d", "a", "c"]) // completion order differs from input order
      expect(settled.outcomes.map(summary)).toEqual([
        "0:a:Success(A)",
        "1:b:Success(B)",
        "2:c:Failure(no c)",
        "3:d:Success(D)"
      ])
      expect(settled.successes.map((s) => `${s.index}:${s.input}:${s.value}`)).toEqual(["0:a:A", "1:b:B", "3:d:D"])
      expect(settled.failures.map((f) => [f.index, f.input, f.error])).toEqual([[2, "c", "no c"]])
      expect(settled.counts).toEqual({
        total: 4,
        success: 3,
        failure: 1,
        defect: 0,
        interrupted: 0,
        notRun: 0,
        timedOut: 0
      })
    }))

  it.effect("keeps typed failures typed", () =>
    Effect.gen(function*() {
      const lookup = (id: number) =>
        id === 1
          ? Effect.fail(new NotFound({ id }))
          : id === 2
          ? Effect.fail(new Invalid({ reason: "negative" }))
          : Effect.succeed(`user ${id}`)
      const settled = yield* Gather.settle([0, 1, 2], lookup)
      const [first, second] = settled.failures
      // Compile-time: `error` is exactly NotFound | Invalid (not unknown); the value is exactly string.
      const errorIsTyped: Equals<NonNullable<typeof first>["error"], NotFound | Invalid> = true
      const valueIsTyped: Equals<(typeof settled.successes)[number]["value"], string> = true
      expect([errorIsTyped, valueIsTyped]).toEqual([true, true])
      expect(first?.error).toBeInstanceOf(NotFound)
      expect(second?.error).toBeInstanceOf(Invalid)
      const described = settled.failures.map((f) =>
        f.error._tag === "NotFound" ? `missing ${f.error.id}` : f.error.reason
      )
      expect(described).toEqual(["missing 1", "negative"])
    }))

  it.effect("a defect fails the whole settle by default, after interrupting the others", () =>
    Effect.gen(function*() {
      const boom = new Error("boom")
      const cleaned: Array<number> = []
      const exit = yield* VirtualTime.autojump(
        Effect.exit(Gather.settle([0, 1, 2], (i) =>
          i === 0
            ? Effect.sleep(10).pipe(Effect.andThen(Effect.die(boom)))
            : Effect.sleep(1000).pipe(Effect.onInterrupt(() => Effect.sync(() => cleaned.push(i))))))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(Cause.hasDies(exit.cause)).toBe(true)
        expect(Cause.squash(exit.cause)).toBe(boom)
      }
      expect(cleaned).toEqual([1, 2])
      expect(yield* Clock.currentTimeMillis).toBe(10)
    }))

  it.effect("a defect raised by a finalizer of an item interrupted by the batch is not swallowed", () =>
    Effect.gen(function*() {
      const exit = yield* VirtualTime.autojump(
        Effect.exit(Gather.settle([0, 1], (i) =>
          i === 0
            ? Effect.sleep(10).pipe(Effect.andThen(Effect.fail("first")))
            : Effect.sleep(1000).pipe(Effect.onInterrupt(() => Effect.die("cleanup failed"))), { maxFailures: 1 }))
      )
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe("cleanup failed")
    }))

  it.effect("with catchDefects a defect (also a throwing f) becomes that item's Defect outcome", () =>
    Effect.gen(function*() {
      const settled = yield* VirtualTime.autojump(
        Gather.settle([0, 1, 2], (i) => {
          if (i === 2) throw "thrown"
          return i === 0 ? Effect.sleep(10).pipe(Effect.andThen(Effect.die("died"))) : Effect.succeed(i)
        }, { catchDefects: true })
      )
      expect(settled.outcomes.map(summary)).toEqual(["0:0:Defect(died)", "1:1:Success(1)", "2:2:Defect(thrown)"])
      expect(settled.outcomes.filter(Gather.isDefect).map((d) => d.defect)).toEqual(["died", "thrown"])
    }))

  it.effect("respects concurrency: the peak equals the limit and every item runs", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      const delays = [50, 10, 30, 20, 40, 10, 60, 5, 25, 15]
      const settled = yield* VirtualTime.autojump(
        Gather.settle(delays, (ms, i) => probe.track(Effect.as(Effect.sleep(ms), i)), { concurrency: 3 })
      )
      expect(yield* probe.stats).toEqual({ current: 0, peak: 3, started: 10, ended: 10 })
      expect(settled.successes.map((s) => s.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      // Items start in input order.
      expect((yield* probe.timeline).map((s) => s.label)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
    }))

  it.effect("unbounded (the default) starts every item at once", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      const { elapsed } = yield* timed(Gather.settle([30, 10, 20, 40], (ms) => probe.track(Effect.sleep(ms))))
      expect((yield* probe.stats).peak).toBe(4)
      expect(elapsed).toBe(40)
    }))

  it.effect("maxFailures: k stops after k failures, interrupts in-flight items and marks unstarted ones NotRun", () =>
    Effect.gen(function*() {
      const started: Array<number> = []
      const finalized: Array<number> = []
      const { value: settled, elapsed } = yield* timed(
        Gather.settle([0, 1, 2, 3, 4, 5, 6], (i) =>
          Effect.gen(function*() {
            started.push(i)
            if (i <= 1) {
              yield* Effect.sleep(10 * (i + 1)) // item 0 fails at 10, item 1 at 20
              return yield* Effect.fail(`e${i}`)
            }
            yield* Effect.sleep(100)
            return i
          }).pipe(Effect.onInterrupt(() => Effect.sync(() => finalized.push(i)))), { concurrency: 3, maxFailures: 2 })
      )
      // t=0: 0, 1, 2 start; t=10: 0 fails, 3 starts; t=20: 1 fails -> stop.
      expect(started).toEqual([0, 1, 2, 3])
      expect(elapsed).toBe(20)
      expect(finalized).toEqual([2, 3])
      expect(settled.outcomes.map(summary)).toEqual([
        "0:0:Failure(e0)",
        "1:1:Failure(e1)",
        "2:2:Interrupted",
        "3:3:Interrupted",
        "4:4:NotRun",
        "5:5:NotRun",
        "6:6:NotRun"
      ])
      expect(settled.counts).toMatchObject({ failure: 2, interrupted: 2, notRun: 3 })
    }))

  it.effect("timeout keeps finished outcomes, marks the rest TimedOut and ends at the budget", () =>
    Effect.gen(function*() {
      const finalized: Array<number> = []
      const delays = [10, 50, 200, 300, 5]
      const { value: settled, elapsed } = yield* timed(
        Gather.settle(delays, (ms, i) =>
          Effect.sleep(ms).pipe(
            Effect.andThen(i === 1 ? Effect.fail("late") : Effect.succeed(ms)),
            Effect.onInterrupt(() => Effect.sync(() => finalized.push(i)))
          ), { concurrency: 2, timeout: "100 millis" })
      )
      // t=0: 0, 1 start; t=10: 2 starts; t=50: 3 starts; t=100: budget spent, 4 never started.
      expect(elapsed).toBe(100)
      expect(settled.outcomes.map(summary)).toEqual([
        "0:10:Success(10)",
        "1:50:Failure(late)",
        "2:200:TimedOut(started)",
        "3:300:TimedOut(started)",
        "4:5:TimedOut(not started)"
      ])
      expect(finalized).toEqual([2, 3])
    }))

  it.effect("a batch that finishes within its timeout returns at once and leaves no timer behind", () =>
    Effect.gen(function*() {
      const { value: settled, elapsed } = yield* timed(
        LeakCheck.fibers(Gather.settle([10, 20], (ms) => Effect.as(Effect.sleep(ms), ms), { timeout: "1 hour" }))
      )
      expect(elapsed).toBe(20)
      expect(settled.successes.map((s) => s.value)).toEqual([10, 20])
    }))

  it.effect("a timeout of 0 runs nothing", () =>
    Effect.gen(function*() {
      let calls = 0
      const settled = yield* Gather.settle([1, 2], (n) => Effect.sync(() => calls++).pipe(Effect.as(n)), { timeout: 0 })
      expect(calls).toBe(0)
      expect(settled.outcomes.map(summary)).toEqual(["0:1:TimedOut(not started)", "1:2:TimedOut(not started)"])
    }))

  it.effect("asCompleted emits every outcome, in completion order", () =>
    Effect.gen(function*() {
      const outcomes = yield* VirtualTime.autojump(
        Gather.asCompleted([30, 10, 40, 20], (ms) => ms === 40 ? Effect.fail("slow") : Effect.as(Effect.sleep(ms), ms))
          .pipe(Stream.runCollect)
      )
      expect(outcomes.map(summary)).toEqual([
        "2:40:Failure(slow)",
        "1:10:Success(10)",
        "3:20:Success(20)",
        "0:30:Success(30)"
      ])
    }))

  it.effect("asCompleted after maxFailures emits the skipped inputs last, in input order", () =>
    Effect.gen(function*() {
      const outcomes = yield* VirtualTime.autojump(
        Gather.asCompleted(
          [0, 1, 2, 3],
          (i) => Effect.sleep(10).pipe(Effect.andThen(i === 1 ? Effect.fail("bad") : Effect.succeed(i))),
          { concurrency: 1, maxFailures: 1 }
        ).pipe(Stream.runCollect)
      )
      expect(outcomes.map(summary)).toEqual(["0:0:Success(0)", "1:1:Failure(bad)", "2:2:NotRun", "3:3:NotRun"])
    }))

  it.effect("ending an asCompleted stream early interrupts the items still running", () =>
    Effect.gen(function*() {
      const finalized: Array<number> = []
      const first = yield* LeakCheck.fibers(VirtualTime.autojump(
        Gather.asCompleted([10, 1000, 2000], (ms, i) =>
          Effect.sleep(ms).pipe(
            Effect.as(i),
            Effect.onInterrupt(() => Effect.sync(() => finalized.push(i)))
          )).pipe(Stream.take(1), Stream.runCollect)
      ))
      expect(first.map(summary)).toEqual(["0:10:Success(0)"])
      expect(finalized).toEqual([1, 2])
    }))

  it.effect("empty input returns at once with empty outcomes", () =>
    Effect.gen(function*() {
      // No autojump: the test clock never moves, so anything that waited would hang.
      const settled = yield* Gather.settle([], () => Effect.never, { timeout: "1 hour", concurrency: 2 })
      expect(settled).toEqual({
        outcomes: [],
        successes: [],
        failures: [],
        counts: { total: 0, success: 0, failure: 0, defect: 0, interrupted: 0, notRun: 0, timedOut: 0 }
      })
      expect(yield* Stream.runCollect(Gather.asCompleted([], () => Effect.never))).toEqual([])
    }))

  it.effect("interrupting settle interrupts every in-flight item, runs their finalizers and leaks no fiber", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      const finalized: Array<number> = []
      const exit = yield* LeakCheck.fibers(Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(
          Gather.settle(
            [0, 1, 2, 3, 4],
            (i) => probe.track(Effect.never).pipe(Effect.onInterrupt(() => Effect.sync(() => finalized.push(i)))),
            {
              concurrency: 3
            }
          )
        )
        yield* probe.awaitCurrent(3)
        yield* Fiber.interrupt(fiber)
        return yield* Fiber.await(fiber)
      }))
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      expect(finalized.toSorted()).toEqual([0, 1, 2])
      expect(yield* probe.stats).toEqual({ current: 0, peak: 3, started: 3, ended: 3 })
    }))

  it.effect("each item runs in a fiber of its own: what it forks ends with it", () =>
    Effect.gen(function*() {
      const ended: Array<number> = []
      yield* VirtualTime.autojump(
        Gather.settle([0, 1], (i) =>
          Effect.forkChild(Effect.never.pipe(Effect.onInterrupt(() =>
            Effect.sync(() => ended.push(i))
          ))).pipe(
            Effect.andThen(Effect.sleep(10)),
            // By the time the next item has slept, the previous item's child has been interrupted.
            Effect.andThen(Effect.sync(() => [...ended]))
          ), { concurrency: 1 })
      ).pipe(Effect.map((s) =>
        expect(s.successes.map((x) => x.value)).toEqual([[], [0]])
      ))
      expect(ended).toEqual([0, 1])
    }))

  it.effect("an item that interrupts itself is Interrupted", () =>
    Effect.gen(function*() {
      const settled = yield* Gather.settle([0, 1], (i) => i === 0 ? Effect.interrupt : Effect.succeed(i))
      expect(settled.outcomes.map(summary)).toEqual(["0:0:Interrupted", "1:1:Success(1)"])
    }))

  it.effect("works data-last in a pipe", () =>
    Effect.gen(function*() {
      const settled = yield* pipe(
        [1, 2, 3],
        Gather.settle((n: number) => n === 2 ? Effect.fail("two") : Effect.succeed(n * 10), { concurrency: 2 })
      )
      expect(settled.outcomes.map(summary)).toEqual(["0:1:Success(10)", "1:2:Failure(two)", "2:3:Success(30)"])
    }))

  it.effect.each(
    [
      { option: "concurrency", options: { concurrency: 0 } },
      { option: "concurrency", options: { concurrency: -1 } },
      { option: "concurrency", options: { concurrency: Number.NaN } },
      { option: "concurrency", options: { concurrency: 1.5 } },
      { option: "maxFailures", options: { maxFailures: 0 } },
      { option: "maxFailures", options: { maxFailures: 2.5 } },
      { option: "timeout", options: { timeout: -1 } },
      { option: "timeout", options: { timeout: Number.NaN } },
      { option: "timeout", options: { timeout: "soon" as never } }
    ] satisfies Array<{ option: string; options: Gather.Options }>
  )(
    "an invalid $option ($options) fails with InvalidOptionError naming it, before anything runs",
    ({ option, options }) =>
      Effect.gen(function*() {
        let calls = 0
        const f = (n: number) => Effect.sync(() => calls++).pipe(Effect.as(n))
        const error = yield* Effect.flip(Gather.settle([1, 2], f, options))
        expect(error).toBeInstanceOf(InvalidOptionError)
        expect(error.module).toBe("Gather.settle")
        expect(error.option).toBe(option)
        const streamError = yield* Effect.flip(Stream.runCollect(Gather.asCompleted([1, 2], f, options)))
        expect(streamError.option).toBe(option)
        expect(streamError.module).toBe("Gather.asCompleted")
        expect(calls).toBe(0)
      })
  )

  it.effect("settles 100,000 items at concurrency 100", () =>
    Effect.gen(function*() {
      let current = 0
      let peak = 0
      const settled = yield* Gather.settle(
        Array.from({ length: 100_000 }, (_, i) => i),
        (i) =>
          Effect.suspend(() => {
            current++
            if (current > peak) peak = current
            return Effect.ensuring(Effect.as(Effect.yieldNow, i), Effect.sync(() => current--))
          }),
        { concurrency: 100 }
      )
      expect(settled.counts.success).toBe(100_000)
      expect(settled.outcomes[99_999]?.index).toBe(99_999)
      expect(peak).toBe(100)
    }))

  it.effect("asCompleted holds no outcome once it has emitted it, whatever the outcome", () =>
    Effect.gen(function*() {
      // A structural check on the engine (deterministic, unlike watching the garbage collector): how many outcome
      // records it still references, read each time the stream hands one over.
      const probe: internal.BatchProbe = { retained: 0, decided: 0 }
      const n = 20_000
      const seen: Array<number> = []
      let emitted = 0
      yield* internal.asCompleted(
        Array.from({ length: n }, (_, i) => i),
        (i): Effect.Effect<unknown, string> =>
          i % 5 === 0
            ? Effect.fail(`bad ${i}`)
            : i % 5 === 1
            ? Effect.sync(() => "x".repeat(64) + i)
            : Effect.as(Effect.yieldNow, { body: new Uint8Array(256), i }),
        { concurrency: 100, maxFailures: n / 5 },
        probe
      ).pipe(Stream.runForEach(() =>
        Effect.sync(() => {
          emitted++
          seen.push(probe.retained)
        })
      ))
      expect(emitted).toBe(n)
      expect(probe.decided).toBe(n)
      expect(Math.max(...seen)).toBe(0)
      expect(probe.retained).toBe(0)
    }))

  it.effect("asCompleted holds no outcome after a stop either (the unfinished ones are made and emitted one by one)", () =>
    Effect.gen(function*() {
      const probe: internal.BatchProbe = { retained: 0, decided: 0 }
      const outcomes = yield* VirtualTime.autojump(
        internal.asCompleted(
          [0, 1, 2, 3, 4],
          (i) => Effect.sleep(10 * (i + 1)).pipe(Effect.andThen(i === 1 ? Effect.fail("bad") : Effect.succeed(i))),
          { concurrency: 3, maxFailures: 1 },
          probe
        ).pipe(Stream.runCollect)
      )
      expect(outcomes.map(summary)).toEqual([
        "0:0:Success(0)",
        "1:1:Failure(bad)",
        "2:2:Interrupted",
        "3:3:Interrupted",
        "4:4:NotRun"
      ])
      expect(probe).toEqual({ retained: 0, decided: 5 })
    }))

  it.effect("settle's successes and failures views are built when first read, and stay the same arrays", () =>
    Effect.gen(function*() {
      const settled = yield* Gather.settle([1, 2, 3, 4], (n) => n % 2 === 0 ? Effect.fail(n) : Effect.succeed(n))
      expect(settled.counts).toMatchObject({ total: 4, success: 2, failure: 2 })
      expect(settled.successes).toBe(settled.successes)
      expect(settled.failures.map((f) => f.error)).toEqual([2, 4])
      expect({ ...settled }.successes.map((s) => s.value)).toEqual([1, 3])
    }))

  it.effect("asCompleted holds back new items while the consumer is behind (back-pressure bounded by concurrency)", () =>
    Effect.gen(function*() {
      const probe: internal.BatchProbe = { retained: 0, decided: 0 }
      const concurrency = 10
      let taken = 0
      let started = 0
      const ahead: Array<number> = []
      yield* internal.asCompleted(
        Array.from({ length: 2_000 }, (_, i) => i),
        (i) =>
          Effect.suspend(() => {
            started++
            return i % 2 === 0 ? Effect.succeed(i) : Effect.as(Effect.yieldNow, i)
          }),
        { concurrency },
        probe
      ).pipe(Stream.runForEach(() =>
        Effect.gen(function*() {
          taken++
          // Items started and not yet taken by this consumer: running ones plus outcomes waiting in the stream.
          ahead.push(started - taken)
          yield* Effect.yieldNow // a slow consumer
        })
      ))
      expect(taken).toBe(2_000)
      // The stream hands outcomes over in chunks: the chunk being consumed (at most `concurrency`) comes on top.
      expect(Math.max(...ahead)).toBeLessThanOrEqual(2 * concurrency)
      expect(Math.max(...ahead)).toBeGreaterThan(0)
    }))
})
