/** @internal */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import { InvalidOptionError } from "../InvalidOption.ts"
import * as options from "./options.ts"

/**
 * The deadline passed before the work finished: the work was interrupted and its finalizers ran.
 *
 * **When to use**: recover with `Effect.catchTag("DeadlineExceededError", …)` to fall back to a default (trio's
 * `move_on_after`); let it propagate to fail the whole operation (`fail_after`).
 *
 * **Gotchas**: in nested deadlines the error describes the deadline that expired, which is the outer one when the
 * outer one is earlier: `deadline` and `budget` are the outer call's. An inner `within` passes an outer deadline's
 * error through like any other failure of its work.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@async-ops/core"
 *
 * const program = Effect.never.pipe(
 *   Deadline.within("5 seconds"),
 *   Effect.catchTag("DeadlineExceededError", (e) => Effect.succeed(e.deadline))
 * )
 * // on a TestClock at 0: 5000
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DeadlineExceededError extends Data.TaggedError("DeadlineExceededError")<{
  /** The deadline that expired: epoch milliseconds on the `Clock`. */
  readonly deadline: number
  /** The budget that deadline was set with (`within`); `undefined` for an absolute deadline (`at`). */
  readonly budget: Duration.Duration | undefined
}> {
  override get message(): string {
    const at = Number.isFinite(this.deadline) ? new Date(this.deadline).toISOString() : String(this.deadline)
    return this.budget === undefined
      ? `Deadline exceeded: the deadline ${at} passed before the work finished`
      : `Deadline exceeded: the budget of ${Duration.format(this.budget)} ran out at ${at} before the work finished`
  }
}

/**
 * The deadline in force: an absolute time on the `Clock` (epoch milliseconds) and the budget it was set with, when
 * it was set with one (`within`), so that an expiry reports what the caller asked for.
 *
 * @internal
 */
export interface State {
  readonly deadline: number
  readonly budget: Duration.Duration | undefined
}

/**
 * The deadline of the current fiber (`undefined`: none). A `Context.Reference`, so it flows into forked fibers.
 *
 * @internal
 */
export const CurrentDeadline: Context.Reference<State | undefined> = Context.Reference<State | undefined>(
  "@async-ops/core/Deadline/CurrentDeadline",
  { defaultValue: () => undefined }
)

/** @internal */
export const current: Effect.Effect<Option.Option<number>> = Effect.withFiberSucceed((fiber) => {
  const state = fiber.getRef(CurrentDeadline)
  return state === undefined ? Option.none() : Option.some(state.deadline)
})

/** @internal */
export const remaining: Effect.Effect<Option.Option<Duration.Duration>> = Effect.withFiberSucceed((fiber) => {
  const state = fiber.getRef(CurrentDeadline)
  if (state === undefined) return Option.none()
  const left = state.deadline - fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
  return Option.some(left > 0 ? Duration.millis(left) : Duration.zero)
})

const exceeded = (state: State): DeadlineExceededError =>
  new DeadlineExceededError({ deadline: state.deadline, budget: state.budget })

/**
 * The work was interrupted at the deadline: fail with the deadline's error, unless the interrupted work's
 * finalizers died, in which case die with their defects (and the deadline error after them), so a failing
 * cleanup is never hidden behind a clean timeout (what `Effect.timeout` does, trap 19 of EFFECT4.md).
 */
const expired = <A, E>(exit: Exit.Exit<A, E>, state: State): Effect.Effect<A, E | DeadlineExceededError> => {
  // Finished on its own at the same instant (the interruption came too late): its outcome stands.
  if (exit._tag === "Success" || !Cause.hasInterrupts(exit.cause)) return exit
  const error = exceeded(state)
  const dies = exit.cause.reasons.filter(Cause.isDieReason)
  if (dies.length === 0) return Effect.fail(error)
  return Effect.failCause(Cause.fromReasons([...dies, Cause.makeDieReason(error)]))
}

/**
 * The caller was interrupted while it waited: interrupt the work and the timer, wait for the work's finalizers and
 * surface their defects (the caller's exit keeps its interruption and gains the defects).
 */
const cancel = (work: Fiber.Fiber<unknown, unknown>, timer: Fiber.Fiber<void>): Effect.Effect<void> =>
  Effect.withFiber((self) => {
    timer.interruptUnsafe(self.id)
    work.interruptUnsafe(self.id)
    return Effect.flatMap(Fiber.await(work), (exit) => {
      if (exit._tag === "Success") return Effect.void
      const dies = exit.cause.reasons.filter(Cause.isDieReason)
      return dies.length === 0 ? Effect.void : Effect.failCause(Cause.fromReasons(dies))
    })
  })

/**
 * Runs `self` under the earlier of the enclosing deadline and `own` (`undefined`: no deadline of its own).
 */
const enforce = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  parent: Fiber.Fiber<unknown, unknown>,
  clock: Clock.Clock,
  now: number,
  own: State | undefined
): Effect.Effect<A, E | DeadlineExceededError, R> => {
  const enclosing = parent.getRef(CurrentDeadline)
  const state = own === undefined || (enclosing !== undefined && enclosing.deadline <= own.deadline) ? enclosing : own
  if (state === undefined) return self
  const left = state.deadline - now
  // Already past, or no budget at all: fail before the work starts.
  if (!(left > 0)) return Effect.fail(exceeded(state))
  const work = state === enclosing ? self : Effect.provideService(self, CurrentDeadline, state)
  // The work and the timer run in fibers of their own, forked detached and started at once as in Effect's own race
  // (no entry in the parent's child set to maintain): every path below ends both of them, the caller's
  // interruption included, so neither outlives the call.
  return Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.forkDetach(work, { startImmediately: true }), (fiber) => {
      // Done without suspending (a quick effect): no timer needed.
      const done = fiber.pollUnsafe()
      if (done !== undefined) return done
      let fired = false
      const alarm = Effect.andThen(
        clock.sleep(Duration.millis(left)),
        Effect.sync(() => {
          fired = true
          fiber.interruptUnsafe(parent.id)
        })
      )
      return Effect.flatMap(Effect.forkDetach(alarm, { startImmediately: true }), (timer) =>
        Effect.onInterrupt(
          // An interruption that arrived while masked is taken on entry, before the callback registers: the
          // cleanup hangs on `onInterrupt` (outside `restore`) so it runs in that case too.
          restore(Effect.callback<A, E | DeadlineExceededError>((resume) => {
            fiber.addObserver((exit) => {
              if (fired) return resume(expired(exit, state))
              timer.interruptUnsafe(parent.id)
              resume(exit)
            })
          })),
          () => cancel(fiber, timer)
        ))
    })
  )
}

const invalidDeadline = (value: unknown): InvalidOptionError =>
  new InvalidOptionError({
    module: "Deadline.at",
    option: "deadline",
    expected: "an epoch time in milliseconds (a finite number, or Infinity for no deadline)",
    value
  })

/** @internal */
export const within: {
  (
    duration: Duration.Input
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.Input
  ): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
} = dual(2, <A, E, R>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Input
): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R> => {
  const decoded = options.decodeDuration(duration)
  if (decoded === undefined) {
    return Effect.flatMap(options.duration("Deadline.within", "duration", duration), (budget) => run(self, budget))
  }
  return run(self, decoded)
})

const run = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  budget: Duration.Duration | undefined
): Effect.Effect<A, E | DeadlineExceededError, R> =>
  Effect.withFiber((parent) => {
    const clock = parent.getRef(Clock.Clock)
    const now = clock.currentTimeMillisUnsafe()
    const millis = budget === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(budget)
    const own = millis === Number.POSITIVE_INFINITY ? undefined : { deadline: now + millis, budget }
    return enforce(self, parent, clock, now, own)
  })

/** @internal */
export const at: {
  (
    deadline: number
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    deadline: number
  ): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
} = dual(2, <A, E, R>(
  self: Effect.Effect<A, E, R>,
  deadline: number
): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R> => {
  if (typeof deadline !== "number" || Number.isNaN(deadline) || deadline === Number.NEGATIVE_INFINITY) {
    return Effect.fail(invalidDeadline(deadline))
  }
  const own = deadline === Number.POSITIVE_INFINITY ? undefined : { deadline, budget: undefined }
  return Effect.withFiber((parent) => {
    const clock = parent.getRef(Clock.Clock)
    return enforce(self, parent, clock, clock.currentTimeMillisUnsafe(), own)
  })
})
