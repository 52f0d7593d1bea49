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
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import { decodeDuration } from "./options.ts"

/**
 * The deadline passed before the work finished: the work was interrupted and its finalizers ran.
 *
 * **When to use**: let it propagate to fail the whole operation (trio's `fail_after`); to fall back to a default
 * at the deadline (`move_on_after`), use `Deadline.moveOnAfter`, which catches only its own expiry.
 *
 * **Gotchas**: only the scope whose deadline passed fails with it: in nested deadlines where the outer one is
 * earlier, the inner scope is interrupted and the outer `within` fails, with the outer call's `deadline` and
 * `budget`; a `catchTag` between the two scopes does not see it. An inner scope's own error that nobody caught
 * passes through the outer scopes like any other failure. To move on at a deadline, prefer `Deadline.moveOnAfter`.
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
 * it was set with one (`within`), so that an expiry reports what the caller asked for. One object per scope that
 * set its own deadline: the scopes nested inside it that do not shorten it share it, and `expired` marks that it
 * passed, whichever of them saw it first, so that only the scope that set it turns the expiry into its result.
 *
 * @internal
 */
export interface State {
  readonly deadline: number
  readonly budget: Duration.Duration | undefined
  expired: boolean
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

/** What a scope returns when its own deadline passed: `within` fails, `moveOnAfter` returns `None`. */
type OnExpiry<B, E> = (state: State) => Effect.Effect<B, E>

const failExpired: OnExpiry<never, DeadlineExceededError> = (state) => Effect.fail(exceeded(state))
const noneExpired: OnExpiry<Option.Option<never>, never> = () => Effect.succeedNone

/**
 * The work was interrupted at this scope's own deadline: return the scope's expiry result, unless the interrupted
 * work's finalizers died, in which case die with their defects (and the deadline error after them), so a failing
 * cleanup is never hidden behind a clean timeout (what `Effect.timeout` does, trap 19 of EFFECT4.md).
 */
const expired = <A, E, B, E2>(
  exit: Exit.Exit<A, E>,
  state: State,
  onExpiry: OnExpiry<B, E2>
): Effect.Effect<A | B, E | E2> => {
  // Finished on its own at the same instant (the interruption came too late): its outcome stands.
  if (exit._tag === "Success" || !Cause.hasInterrupts(exit.cause)) return exit
  const dies = exit.cause.reasons.filter(Cause.isDieReason)
  if (dies.length === 0) return onExpiry(state)
  return Effect.failCause(Cause.fromReasons([...dies, Cause.makeDieReason(exceeded(state))]))
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
 *
 * The expiry belongs to the scope that set the deadline in force (trio's and asyncio's rule). When it is this
 * scope's own, the work is interrupted and the scope returns `onExpiry`. When it is an enclosing scope's (the
 * enclosing deadline is earlier), this scope still cuts its work at that time (so a fiber that inherited the
 * deadline without being under the enclosing scope is cut too), but it returns the work's interruption untouched:
 * code between the two scopes cannot catch it with `catchTag`/`catch` (an interruption is not a failure), and the
 * enclosing scope, seeing its work interrupted after its deadline passed, turns it into its own result.
 */
const enforce = <A, E, R, B, E2>(
  self: Effect.Effect<A, E, R>,
  parent: Fiber.Fiber<unknown, unknown>,
  clock: Clock.Clock,
  now: number,
  own: State | undefined,
  onExpiry: OnExpiry<B, E2>
): Effect.Effect<A | B, E | E2, R> => {
  const enclosing = parent.getRef(CurrentDeadline)
  const mine = own !== undefined && (enclosing === undefined || own.deadline < enclosing.deadline)
  const state = mine ? own : enclosing
  if (state === undefined) return self
  const left = state.deadline - now
  // Already past, or no budget at all: end before the work starts.
  if (!(left > 0)) {
    if (mine) return onExpiry(state)
    state.expired = true
    return Effect.failCause(Cause.interrupt(parent.id))
  }
  const work = mine ? Effect.provideService(self, CurrentDeadline, state) : self
  // The work and the timer run in fibers of their own, forked detached and started at once as in Effect's own race
  // (no entry in the parent's child set to maintain): every path below ends both of them, the caller's
  // interruption included, so neither outlives the call.
  return Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.forkDetach(work, { startImmediately: true }), (fiber) => {
      // Done without suspending (a quick effect): no timer needed.
      const done = fiber.pollUnsafe()
      if (done !== undefined) return mine && state.expired ? expired(done, state, onExpiry) : done
      let fired = false
      const alarm = Effect.andThen(
        clock.sleep(Duration.millis(left)),
        Effect.sync(() => {
          fired = true
          state.expired = true
          fiber.interruptUnsafe(parent.id)
        })
      )
      return Effect.flatMap(Effect.forkDetach(alarm, { startImmediately: true }), (timer) =>
        Effect.onInterrupt(
          // An interruption that arrived while masked is taken on entry, before the callback registers: the
          // cleanup hangs on `onInterrupt` (outside `restore`) so it runs in that case too.
          restore(Effect.callback<A | B, E | E2>((resume) => {
            fiber.addObserver((exit) => {
              if (!fired) timer.interruptUnsafe(parent.id)
              // Interrupted after this scope's deadline passed (at its own timer, or at the timer of a scope
              // nested in it that shares the deadline): this scope's expiry. Otherwise the outcome stands, an
              // enclosing scope's expiry (an interruption) included.
              resume(mine && state.expired ? expired(exit, state, onExpiry) : exit)
            })
          })),
          () => cancel(fiber, timer)
        ))
    })
  )
}

const isDeadline = (u: unknown): u is number =>
  typeof u === "number" && !Number.isNaN(u) && u !== Number.NEGATIVE_INFINITY

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
): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R> =>
  after(self, duration, "Deadline.within", failExpired))

/** @internal */
export const moveOnAfter: {
  (
    duration: Duration.Input
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.Input
  ): Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
} = dual(2, <A, E, R>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Input
): Effect.Effect<Option.Option<A>, E | InvalidOptionError, R> =>
  after(Effect.asSome(self), duration, "Deadline.moveOnAfter", noneExpired))

const after = <A, E, R, B, E2>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Input,
  module: string,
  onExpiry: OnExpiry<B, E2>
): Effect.Effect<A | B, E | E2 | InvalidOptionError, R> => {
  // The error-free decoder first: this runs on every call.
  const decoded = decodeDuration(duration)
  if (decoded === undefined) {
    return Effect.flatMap(
      Effect.fromResult(InvalidOption.duration(module, "duration", duration)),
      (budget) => run(self, budget, onExpiry)
    )
  }
  return run(self, decoded, onExpiry)
}

const run = <A, E, R, B, E2>(
  self: Effect.Effect<A, E, R>,
  budget: Duration.Duration | undefined,
  onExpiry: OnExpiry<B, E2>
): Effect.Effect<A | B, E | E2, R> =>
  Effect.withFiber((parent) => {
    const clock = parent.getRef(Clock.Clock)
    const now = clock.currentTimeMillisUnsafe()
    const millis = budget === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(budget)
    const own = millis === Number.POSITIVE_INFINITY ? undefined : { deadline: now + millis, budget, expired: false }
    return enforce(self, parent, clock, now, own, onExpiry)
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
): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R> =>
  until(self, deadline, "Deadline.at", failExpired))

/** @internal */
export const moveOnAt: {
  (
    deadline: number
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    deadline: number
  ): Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
} = dual(2, <A, E, R>(
  self: Effect.Effect<A, E, R>,
  deadline: number
): Effect.Effect<Option.Option<A>, E | InvalidOptionError, R> =>
  until(Effect.asSome(self), deadline, "Deadline.moveOnAt", noneExpired))

const until = <A, E, R, B, E2>(
  self: Effect.Effect<A, E, R>,
  deadline: number,
  module: string,
  onExpiry: OnExpiry<B, E2>
): Effect.Effect<A | B, E | E2 | InvalidOptionError, R> => {
  if (!isDeadline(deadline)) {
    const expected = "an epoch time in milliseconds (a finite number, or Infinity for no deadline)"
    return Effect.flatMap(
      Effect.fromResult(InvalidOption.check(module, "deadline", deadline, isDeadline, expected)),
      (deadline) => until(self, deadline, module, onExpiry)
    )
  }
  const own = deadline === Number.POSITIVE_INFINITY ? undefined : { deadline, budget: undefined, expired: false }
  return Effect.withFiber((parent) => {
    const clock = parent.getRef(Clock.Clock)
    return enforce(self, parent, clock, clock.currentTimeMillisUnsafe(), own, onExpiry)
  })
}
