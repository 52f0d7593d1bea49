import { Deadline, InvalidOption } from "@async-ops/core"
import { LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Data, Deferred, Duration, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"

class Boom extends Data.TaggedError("Boom")<{ readonly n: number }> {}

const millisOf = (o: Option.Option<Duration.Duration>): number | undefined =>
  Option.getOrUndefined(Option.map(o, Duration.toMillis))

/** Runs `effect` under autojump and returns what it returned (or its error) with the virtual time it took. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* VirtualTime.autojump(effect)
    return [result, (yield* Clock.currentTimeMillis) - start] as const
  })

describe("Deadline", () => {
  it.effect("nesting: an inner deadline shorter than the outer one expires first and its error carries it", () =>
    Effect.gen(function*() {
      const [error, elapsed] = yield* timed(Effect.flip(
        Effect.never.pipe(Deadline.within("1 second"), Deadline.within("5 seconds"))
      ))
      expect(error).toBeInstanceOf(Deadline.DeadlineExceededError)
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 1_000 })
      expect((error as Deadline.DeadlineExceededError).budget).toEqual(Duration.seconds(1))
      expect(elapsed).toBe(1_000)
    }))

  it.effect("nesting: an outer deadline shorter than the inner one wins, and the error carries the outer one", () =>
    Effect.gen(function*() {
      let inside: number | undefined
      const [error, elapsed] = yield* timed(Effect.flip(
        Effect.gen(function*() {
          inside = millisOf(yield* Deadline.remaining)
          return yield* Effect.never
        }).pipe(Deadline.within("5 seconds"), Deadline.within("1 second"))
      ))
      // inside the inner 5 s deadline the budget is still the outer 1 s
      expect(inside).toBe(1_000)
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 1_000 })
      expect((error as Deadline.DeadlineExceededError).budget).toEqual(Duration.seconds(1))
      expect(elapsed).toBe(1_000)
    }))

  it.effect("nesting: an outer absolute deadline is kept by a later inner within (the error has no budget)", () =>
    Effect.gen(function*() {
      const [error, elapsed] = yield* timed(Effect.flip(
        Effect.never.pipe(Deadline.within("1 minute"), Deadline.at(2_500))
      ))
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 2_500, budget: undefined })
      expect(elapsed).toBe(2_500)
    }))

  it.effect("nesting: an outer deadline passing inside an inner scope cannot be caught between the scopes", () =>
    Effect.gen(function*() {
      let innerFinalized = false
      type Inner = Effect.Effect<never, Deadline.DeadlineExceededError | InvalidOption.InvalidOptionError>
      const recovers: ReadonlyArray<(inner: Inner) => Effect.Effect<string, InvalidOption.InvalidOptionError>> = [
        (inner) => Effect.catchTag(inner, "DeadlineExceededError", () => Effect.succeed("moved on")),
        (inner) => Effect.catch(inner, () => Effect.succeed("moved on"))
      ]
      for (const recover of recovers) {
        const [result, elapsed] = yield* timed(Effect.result(
          Effect.never.pipe(
            Effect.ensuring(Effect.sync(() => innerFinalized = true)),
            Deadline.within("10 seconds"),
            // the move_on_after recipe: it must only catch the inner scope's own expiry
            recover,
            Deadline.within("20 millis")
          )
        ))
        expect(result).toMatchObject({ _tag: "Failure", failure: { _tag: "DeadlineExceededError", deadline: 20 } })
        expect(elapsed).toBe(20)
        expect(innerFinalized).toBe(true)
        innerFinalized = false
        yield* TestClock.setTime(0)
      }
    }))

  it.effect("nesting: an inner deadline's own expiry is still caught between the scopes", () =>
    Effect.gen(function*() {
      const [result, elapsed] = yield* timed(
        Effect.never.pipe(
          Deadline.within("10 millis"),
          Effect.catchTag("DeadlineExceededError", (e) => Effect.succeed(e.deadline)),
          Effect.andThen((deadline) => Effect.as(Effect.sleep("5 millis"), deadline)),
          Deadline.within("10 seconds")
        )
      )
      expect(result).toBe(10)
      expect(elapsed).toBe(15)
    }))

  it.effect("a within in a detached fiber that inherited an earlier deadline cuts its work there, ending interrupted", () =>
    Effect.gen(function*() {
      // the detached fiber outlives the scope whose deadline it inherited: no scope of its own owns that deadline
      const fiber = yield* Effect.forkDetach(Effect.never.pipe(Deadline.within("10 seconds")), {
        startImmediately: true
      }).pipe(Deadline.within("1 second"))
      yield* TestClock.adjust("999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    }))

  it.effect("moveOnAfter: Some with the value in time, None at its own expiry after the work's finalizers ran", () =>
    Effect.gen(function*() {
      const [quick] = yield* timed(Effect.as(Effect.sleep("1 second"), "done").pipe(Deadline.moveOnAfter("2 seconds")))
      expect(quick).toEqual(Option.some("done"))
      let finalized = false
      const [slow, elapsed] = yield* timed(
        Effect.never.pipe(Effect.ensuring(Effect.sync(() => finalized = true)), Deadline.moveOnAfter("2 seconds"))
      )
      expect(slow).toEqual(Option.none())
      expect(finalized).toBe(true)
      expect(elapsed).toBe(2_000)
      // a typed failure in time passes through
      const failed = yield* Effect.flip(Effect.fail(new Boom({ n: 2 })).pipe(Deadline.moveOnAt(1_000_000)))
      expect(failed).toStrictEqual(new Boom({ n: 2 }))
    }))

  it.effect("moveOnAfter moves on only at its own deadline: an enclosing one fails the enclosing scope", () =>
    Effect.gen(function*() {
      const [result, elapsed] = yield* timed(Effect.result(
        Effect.never.pipe(Deadline.moveOnAfter("10 seconds"), Deadline.within("20 millis"))
      ))
      expect(result).toMatchObject({ _tag: "Failure", failure: { _tag: "DeadlineExceededError", deadline: 20 } })
      expect(elapsed).toBe(20)
    }))

  it.effect("moveOnAfter does not swallow the expiry of a scope nested inside it", () =>
    Effect.gen(function*() {
      const [result, elapsed] = yield* timed(Effect.result(
        Effect.never.pipe(Deadline.within("1 second"), Deadline.moveOnAfter("5 seconds"))
      ))
      expect(result).toMatchObject({ _tag: "Failure", failure: { _tag: "DeadlineExceededError", deadline: 1_000 } })
      expect(elapsed).toBe(1_000)
    }))

  it.effect("moveOnAt moves on at an absolute time; bad input fails with InvalidOptionError", () =>
    Effect.gen(function*() {
      const [result, elapsed] = yield* timed(Effect.never.pipe(Deadline.moveOnAt(2_500)))
      expect(result).toEqual(Option.none())
      expect(elapsed).toBe(2_500)
      const bad = yield* Effect.flip(Effect.void.pipe(Deadline.moveOnAt(Number.NaN)))
      expect(bad).toBeInstanceOf(InvalidOption.InvalidOptionError)
      const badDuration = yield* Effect.flip(Effect.void.pipe(Deadline.moveOnAfter(-1)))
      expect(badDuration).toMatchObject({ _tag: "InvalidOptionError", option: "duration" })
    }))

  it.effect("remaining is None outside any deadline, and current too", () =>
    Effect.gen(function*() {
      expect(yield* Deadline.remaining).toEqual(Option.none())
      expect(yield* Deadline.current).toEqual(Option.none())
      // and again after a deadline has ended
      yield* Deadline.within(Effect.void, "1 second")
      expect(yield* Deadline.remaining).toEqual(Option.none())
    }))

  it.effect("remaining inside a deadline is exact and decreases as virtual time passes", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("10 seconds")
      const [readings] = yield* timed(
        Effect.gen(function*() {
          const first = millisOf(yield* Deadline.remaining)
          yield* Effect.sleep("2 seconds")
          const second = millisOf(yield* Deadline.remaining)
          yield* Effect.sleep("2999 millis")
          const third = millisOf(yield* Deadline.remaining)
          return [first, second, third, yield* Deadline.current]
        }).pipe(Deadline.within("5 seconds"))
      )
      expect(readings).toEqual([5_000, 3_000, 1, Option.some(15_000)])
    }))

  it.effect("expiry interrupts the work and its finalizers run before within fails", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const [error, elapsed] = yield* timed(Effect.flip(
        Effect.never.pipe(
          Effect.onInterrupt(() => Effect.sync(() => events.push("interrupted"))),
          Effect.ensuring(Effect.sync(() => events.push("finalizer"))),
          Deadline.within("3 seconds"),
          Effect.tapError(() => Effect.sync(() => events.push("failed")))
        )
      ))
      expect(events).toEqual(["interrupted", "finalizer", "failed"])
      expect(error._tag).toBe("DeadlineExceededError")
      expect(elapsed).toBe(3_000)
    }))

  it.effect("the error carries the deadline (epoch ms), the budget and a clear message", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 minute")
      const [error] = yield* timed(Effect.flip(Deadline.within(Effect.never, "1.5 seconds")))
      expect(Deadline.isDeadlineExceededError(error)).toBe(true)
      expect(error).toMatchObject({ deadline: 61_500 })
      expect((error as Deadline.DeadlineExceededError).budget).toEqual(Duration.millis(1_500))
      expect(error.message).toBe(
        "Deadline exceeded: the budget of 1s 500ms ran out at 1970-01-01T00:01:01.500Z before the work finished"
      )
      const atError = new Deadline.DeadlineExceededError({ deadline: 61_500, budget: undefined })
      expect(atError.message).toBe(
        "Deadline exceeded: the deadline 1970-01-01T00:01:01.500Z passed before the work finished"
      )
    }))

  it.effect("a deadline already past fails without starting the effect", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("10 seconds")
      let started = false
      const error = yield* Effect.flip(Deadline.at(Effect.sync(() => started = true), 4_000))
      expect(started).toBe(false)
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 4_000, budget: undefined })
    }))

  it.effect("a zero budget fails without starting the effect", () =>
    Effect.gen(function*() {
      let started = false
      const error = yield* Effect.flip(Deadline.within(Effect.sync(() => started = true), 0))
      expect(started).toBe(false)
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 0 })
    }))

  it.effect("an enclosing deadline already spent stops a nested within before its effect starts", () =>
    Effect.gen(function*() {
      let started = false
      const [error] = yield* timed(Effect.flip(
        Effect.gen(function*() {
          // the outer deadline passes while this region cannot be interrupted: its next step must not start
          yield* Effect.sleep("2 seconds")
          yield* Deadline.within(Effect.sync(() => started = true), "10 seconds")
        }).pipe(Effect.uninterruptible, Deadline.within("1 second"))
      ))
      expect(started).toBe(false)
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 1_000 })
    }))

  it.effect("success before the deadline passes through unchanged, without waiting for the deadline", () =>
    Effect.gen(function*() {
      const [value, elapsed] = yield* timed(Effect.sleep("200 millis").pipe(Effect.as(42), Deadline.within("1 hour")))
      expect(value).toBe(42)
      expect(elapsed).toBe(200)
      expect(yield* Deadline.within(Effect.succeed("now"), "1 second")).toBe("now")
    }))

  it.effect("a typed failure before the deadline passes through unchanged, with its type", () =>
    Effect.gen(function*() {
      const failing: Effect.Effect<number, Boom> = Effect.sleep(10).pipe(
        Effect.andThen(Effect.fail(new Boom({ n: 7 })))
      )
      const [error] = yield* timed(Effect.flip(Deadline.within(failing, "1 second")))
      // the error channel keeps Boom next to the deadline's and the option's errors
      const typed: Boom | Deadline.DeadlineExceededError | InvalidOption.InvalidOptionError = error
      expect(typed).toEqual(new Boom({ n: 7 }))
      const exit = yield* Effect.exit(Deadline.within(Effect.fail(new Boom({ n: 1 })), "1 second"))
      expect(exit).toStrictEqual(Exit.fail(new Boom({ n: 1 })))
    }))

  it.effect("a finalizer defect during expiry is surfaced, not hidden behind a clean DeadlineExceededError", () =>
    Effect.gen(function*() {
      const cleanup = new Error("cleanup failed")
      const work = Effect.never.pipe(Effect.ensuring(Effect.die(cleanup)))
      const [exit] = yield* timed(Effect.exit(
        Deadline.within(work, "1 second").pipe(
          // a caller that handles the deadline must not swallow the defect
          Effect.catchTag("DeadlineExceededError", () => Effect.succeed("fallback"))
        )
      ))
      expect(exit._tag).toBe("Failure")
      const reasons = Exit.isFailure(exit) ? exit.cause.reasons : []
      expect(reasons.map((r) => r._tag)).toEqual(["Die", "Die"])
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe(cleanup)
      const second = reasons[1]
      expect(second !== undefined && Cause.isDieReason(second) && second.defect).toMatchObject({
        _tag: "DeadlineExceededError",
        deadline: 1_000
      })
      // Effect.timeout, by contrast, drops it (trap 19): the reason Deadline has its own interruption path
      const [timeoutExit] = yield* timed(Effect.exit(Effect.timeout(work, "1 second")))
      expect(Exit.isFailure(timeoutExit) && timeoutExit.cause.reasons.map((r) => r._tag)).toEqual(["Fail"])
    }))

  it.effect("a finalizer defect is surfaced when the caller is interrupted too", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const cleanup = new Error("cleanup failed")
      const caller = yield* Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.ensuring(Effect.die(cleanup)),
        Deadline.within("1 minute"),
        Effect.forkChild
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(caller)
      const exit = yield* Fiber.await(caller)
      expect(Exit.isFailure(exit) && exit.cause.reasons.map((r) => r._tag)).toEqual(["Interrupt", "Die"])
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe(cleanup)
    }))

  it.effect("the deadline propagates to forked fibers: a child reads the same remaining and current", () =>
    Effect.gen(function*() {
      const [readings] = yield* timed(
        Effect.gen(function*() {
          yield* Effect.sleep("1 second")
          const mine = millisOf(yield* Deadline.remaining)
          const child = yield* Effect.forkChild(Effect.all([Deadline.remaining, Deadline.current]))
          const later = yield* Effect.forkChild(Effect.sleep("2 seconds").pipe(Effect.andThen(Deadline.remaining)))
          const [childLeft, childAt] = yield* Fiber.join(child)
          return [mine, millisOf(childLeft), childAt, millisOf(yield* Fiber.join(later))]
        }).pipe(Deadline.within("5 seconds"))
      )
      expect(readings).toEqual([4_000, 4_000, Option.some(5_000), 2_000])
    }))

  it.effect("a forked child of the work is interrupted with it at the deadline", () =>
    Effect.gen(function*() {
      let childInterrupted = false
      const [error] = yield* timed(Effect.flip(
        Effect.gen(function*() {
          yield* Effect.forkChild(
            Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => childInterrupted = true)))
          )
          return yield* Effect.never
        }).pipe(Deadline.within("1 second"))
      ))
      expect(error._tag).toBe("DeadlineExceededError")
      expect(childInterrupted).toBe(true)
    }))

  it.effect("interrupting the caller interrupts the work, runs its finalizer and leaks no fiber", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      let finalized = false
      const exit = yield* LeakCheck.fibers(Effect.gen(function*() {
        const caller = yield* Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.ensuring(Effect.sync(() => finalized = true)),
          Deadline.within("1 minute"),
          Effect.forkChild
        )
        yield* Deferred.await(started)
        yield* Fiber.interrupt(caller)
        return yield* Fiber.await(caller)
      }))
      expect(finalized).toBe(true)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    }))

  it.effect("no fiber outlives a within that succeeded, failed or expired", () =>
    Effect.gen(function*() {
      // a quick effect runs in one fiber and needs no timer
      const [, quick] = yield* LeakCheck.track(Deadline.within(Effect.succeed(1), "1 second"))
      expect(quick).toEqual({ started: 1, ended: 1, alive: 0 })
      // one that suspends also runs a timer (the TestClock's sleeps start fibers of their own: not counted here)
      const [, slow] = yield* VirtualTime.autojump(LeakCheck.track(Deadline.within(Effect.sleep(10), "1 second")))
      expect(slow.alive).toBe(0)
      const [, failed] = yield* VirtualTime.autojump(
        LeakCheck.track(Effect.exit(Deadline.within(Effect.sleep(10).pipe(Effect.andThen(Effect.fail(1))), 50)))
      )
      expect(failed.alive).toBe(0)
      const [, expired] = yield* VirtualTime.autojump(LeakCheck.track(Effect.exit(Deadline.within(Effect.never, 50))))
      expect(expired.alive).toBe(0)
    }))

  it.effect("a deadline inside an uninterruptible region (a finalizer) still cuts its work short", () =>
    Effect.gen(function*() {
      const [error, elapsed] = yield* timed(Effect.flip(
        Effect.uninterruptible(Deadline.within(Effect.never, "1 second"))
      ))
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 1_000 })
      expect(elapsed).toBe(1_000)
    }))

  it.effect("Infinity sets no deadline of its own, but an enclosing one still applies", () =>
    Effect.gen(function*() {
      expect(yield* Deadline.within(Deadline.remaining, Infinity)).toEqual(Option.none())
      expect(yield* Deadline.at(Deadline.current, Infinity)).toEqual(Option.none())
      const nested = yield* Deadline.remaining.pipe(Deadline.within("Infinity"), Deadline.within("3 seconds"))
      expect(millisOf(nested)).toBe(3_000)
      const [error, elapsed] = yield* timed(Effect.flip(
        Effect.never.pipe(Deadline.within(Infinity), Deadline.within("2 seconds"))
      ))
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 2_000 })
      expect(elapsed).toBe(2_000)
    }))

  it.effect("at expires at the given absolute time", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1_000)
      const [error, elapsed] = yield* timed(Effect.flip(Deadline.at(Effect.never, 3_500)))
      expect(error).toMatchObject({ _tag: "DeadlineExceededError", deadline: 3_500, budget: undefined })
      expect(elapsed).toBe(2_500)
    }))

  it.effect("a NaN duration fails with InvalidOptionError naming Deadline.within's duration", () =>
    Effect.gen(function*() {
      let started = false
      const error = yield* Effect.flip(Deadline.within(Effect.sync(() => started = true), Number.NaN))
      expect(InvalidOption.isInvalidOptionError(error)).toBe(true)
      expect(error).toMatchObject({ _tag: "InvalidOptionError", module: "Deadline.within", option: "duration" })
      expect(error.message).toContain("Deadline.within: option duration")
      expect(started).toBe(false)
    }))

  it.effect("a negative duration fails with InvalidOptionError naming the duration", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Deadline.within(Effect.void, -1))
      expect(error).toMatchObject({
        _tag: "InvalidOptionError",
        module: "Deadline.within",
        option: "duration",
        value: -1
      })
    }))

  it.effect("a negative or unparsable duration string fails with InvalidOptionError naming the duration", () =>
    Effect.gen(function*() {
      const negative = yield* Effect.flip(Deadline.within(Effect.void, "-5 seconds"))
      expect(negative).toMatchObject({ _tag: "InvalidOptionError", option: "duration", value: "-5 seconds" })
      const garbage = yield* Effect.flip(Deadline.within(Effect.void, "soon" as Duration.Input))
      expect(garbage).toMatchObject({ _tag: "InvalidOptionError", option: "duration", value: "soon" })
    }))

  it.effect("a NaN deadline fails with InvalidOptionError naming Deadline.at's deadline", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Deadline.at(Effect.void, Number.NaN))
      expect(error).toMatchObject({ _tag: "InvalidOptionError", module: "Deadline.at", option: "deadline" })
      expect(error.message).toContain("Deadline.at: option deadline")
    }))

  it.effect("a -Infinity deadline fails with InvalidOptionError naming the deadline", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Deadline.at(Effect.void, Number.NEGATIVE_INFINITY))
      expect(error).toMatchObject({ _tag: "InvalidOptionError", module: "Deadline.at", option: "deadline" })
    }))

  it.effect("the same effect value can be run again and gets a fresh deadline each run", () =>
    Effect.gen(function*() {
      const step = Deadline.remaining.pipe(Effect.map(millisOf), Deadline.within("1 second"))
      const [readings] = yield* timed(Effect.gen(function*() {
        const first = yield* step
        yield* Effect.sleep("10 seconds")
        return [first, yield* step]
      }))
      expect(readings).toEqual([1_000, 1_000])
    }))
})
