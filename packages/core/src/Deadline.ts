/**
 * Absolute deadlines that nest: Python's `async with asyncio.timeout(5)` / `asyncio.timeout_at(when)` and trio's
 * `fail_after` / `fail_at`, with `move_on_after` / `move_on_at` as {@link moveOnAfter} / {@link moveOnAt}. The
 * deadline in force is an absolute time on the `Clock`, kept in the fiber's context, so it flows into forked fibers
 * and into the modules that spend a budget (retries, outbound HTTP) through {@link remaining}. A nested deadline can
 * only shorten it: the effective deadline is always the earliest of the enclosing ones.
 *
 * An expiry belongs to the scope that set the deadline, as in trio and asyncio: inside nested scopes it travels as
 * an interruption (which `catchTag`/`catch` do not see) until it reaches that scope, which alone turns it into its
 * result (a `DeadlineExceededError`, or `None` for `moveOnAfter`). Code between the scopes cannot swallow it.
 *
 * Where asyncio and trio disagree, and what this module follows:
 * - Cancellation that code swallows: trio's is level-triggered (every later checkpoint in the cancelled scope raises
 *   `Cancelled` again), asyncio's is edge-triggered (one `CancelledError`; code that swallows it carries on). We
 *   follow trio where Effect allows: the scope that expired interrupts its work fiber, and Effect's interruption
 *   cannot be swallowed (the work cannot carry on past it). A nested scope that meets an enclosing expiry first
 *   hands on an interruption cause, which only `catchCause`-style code could intercept (like catching `Cancelled`).
 * - Two nested scopes that both expire: asyncio raises `TimeoutError` at the outer `timeout()` (the inner one sees a
 *   cancellation that is not its own and lets it pass); trio lets the inner scope catch its `Cancelled`, but the
 *   outer one is cancelled too, so its next checkpoint raises again and the outer scope ends cancelled. The end
 *   result is the same and we give it directly: the outermost scope whose deadline passed reports it.
 * - A failing cleanup: asyncio's `timeout()` raises the cleanup's error, trio too; `Effect.timeout` drops it. We
 *   follow Python: a finalizer's defect surfaces (see {@link within}).
 *
 * Unlike `Effect.timeout`, which it otherwise resembles, an expiry never hides a failing cleanup: if a finalizer of
 * the interrupted work dies, the caller sees that defect, as Python's `asyncio.timeout` raises the cleanup's error.
 *
 * @see https://docs.python.org/3/library/asyncio-task.html#asyncio.timeout
 * @see https://trio.readthedocs.io/en/stable/reference-core.html#cancellation-and-timeouts
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as internal from "./internal/deadline.ts"
import { DeadlineExceededError } from "./internal/deadline.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"

/**
 * Errors of this module, defined next to the code that raises them (internal modules never import public ones, so
 * every public module can be imported on its own).
 *
 * @since 0.1.0
 */
export { DeadlineExceededError }

/**
 * Whether a value is a {@link DeadlineExceededError}.
 *
 * **When to use**: to classify an unknown error or a defect (a `Cause` reason) without `instanceof`, e.g. in a
 * retry predicate that must not retry once the deadline is spent.
 *
 * @example
 * ```ts
 * import { Deadline } from "@async-ops/core"
 *
 * Deadline.isDeadlineExceededError(new Deadline.DeadlineExceededError({ deadline: 0, budget: undefined })) // true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isDeadlineExceededError = (u: unknown): u is DeadlineExceededError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "DeadlineExceededError"

/**
 * Runs an effect with a deadline `duration` from now (on the `Clock`): `async with asyncio.timeout(duration)`. If
 * the deadline passes first, the effect is interrupted, its finalizers run, and `within` fails with
 * {@link DeadlineExceededError}. Its own success or failure before the deadline passes through unchanged.
 *
 * Nesting: the effective deadline is the earlier of the enclosing one and `now + duration`, whichever is nested in
 * which; {@link remaining} inside reads it. `Infinity` sets no deadline of its own (an enclosing one still applies).
 * The error comes only from the scope whose deadline passed: when an enclosing deadline is earlier, this scope's
 * work is interrupted at it and the interruption goes on to the enclosing scope, which fails with the error, so a
 * `catchTag("DeadlineExceededError", …)` between the two cannot swallow it (asyncio and trio do the same).
 *
 * **When to use**: to bound an operation's total time, so that everything under it (retries, requests, forked
 * fibers) shares one budget, rather than a timeout per step that adds up.
 *
 * **Gotchas**:
 * - A zero `duration` (or an enclosing deadline already past) fails at once, without starting the effect.
 * - If the interrupted work's finalizers die, `within` dies with their defects followed by the
 *   `DeadlineExceededError` (as a defect), instead of failing cleanly: a broken cleanup is a bug to see, not a
 *   timeout to catch. `Effect.timeout` would drop it.
 * - The work runs in a child fiber, interruptible even inside `Effect.uninterruptible` (as with `Effect.timeout`).
 *   A fiber forked with `forkDetach` inherits the deadline's value for {@link remaining}, but only a `within`/`at`
 *   inside it enforces it, and since the deadline is not its own, that scope ends interrupted, not with the error.
 * - To move on at the deadline, use {@link moveOnAfter} rather than catching the error: a `catchTag` also catches
 *   the unhandled expiry of a deadline nested inside the effect.
 * - A NaN or negative `duration` fails with `InvalidOptionError` (option `duration`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@async-ops/core"
 *
 * const slow = Effect.sleep("10 seconds").pipe(Effect.as("fresh"))
 *
 * const program = slow.pipe(
 *   Deadline.within("1 second"),
 *   Effect.catchTag("DeadlineExceededError", () => Effect.succeed("cached"))
 * )
 * // "cached", after 1 second
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const within: {
  (
    duration: Duration.Input
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.Input
  ): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
} = internal.within

/**
 * Runs an effect with a deadline `duration` from now and moves on if it passes: `Some(value)` when the effect
 * finishes in time, `None` when this scope's own deadline passed first (the effect was interrupted and its
 * finalizers ran). Trio's `move_on_after`; asyncio has no direct equivalent (`timeout()` plus `except
 * TimeoutError`, which is what this does safely).
 *
 * **When to use**: to bound optional work (a cache refresh, a best-effort enrichment) and carry on without it.
 * Prefer it to `within(…)` followed by `Effect.catchTag("DeadlineExceededError", …)`: that recipe also catches the
 * expiry of a deadline *inside* the effect that nobody handled, while `moveOnAfter` only moves on at its own.
 *
 * **Gotchas**:
 * - Only its own deadline gives `None`. When an enclosing deadline is earlier and passes, the enclosing scope
 *   fails (or moves on), not this one; an unhandled `DeadlineExceededError` of a scope nested inside passes
 *   through as a failure.
 * - As with {@link within}: a zero `duration` gives `None` without starting the effect, a finalizer's defect during
 *   the expiry is surfaced (a die), and a NaN or negative `duration` fails with `InvalidOptionError`.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Deadline } from "@async-ops/core"
 *
 * const enrich = Effect.sleep("10 seconds").pipe(Effect.as({ avatar: "big.png" }))
 *
 * const program = enrich.pipe(
 *   Deadline.moveOnAfter("1 second"),
 *   Effect.map(Option.getOrElse(() => ({ avatar: "default.png" })))
 * )
 * // { avatar: "default.png" }, after 1 second
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const moveOnAfter: {
  (
    duration: Duration.Input
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.Input
  ): Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
} = internal.moveOnAfter

/**
 * Runs an effect with an absolute deadline (epoch milliseconds on the `Clock`) and moves on if it passes: trio's
 * `move_on_at`. Otherwise the same as {@link moveOnAfter}.
 *
 * **When to use**: optional work that must end by a point in time you were given (a request's own deadline).
 *
 * **Gotchas**: `Infinity` sets no deadline of its own; NaN and `-Infinity` fail with `InvalidOptionError` (option
 * `deadline`); a time in the past gives `None` without starting the effect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@async-ops/core"
 *
 * const program = Effect.never.pipe(Deadline.moveOnAt(2_500))
 * // on a TestClock at 0: None, at 2500
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const moveOnAt: {
  (
    deadline: number
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    deadline: number
  ): Effect.Effect<Option.Option<A>, E | InvalidOptionError, R>
} = internal.moveOnAt

/**
 * Runs an effect with an absolute deadline, in epoch milliseconds on the `Clock` (what `Clock.currentTimeMillis`
 * returns): `async with asyncio.timeout_at(when)`, trio's `fail_at`. Otherwise the same as {@link within}.
 *
 * **When to use**: when the deadline comes from outside as a point in time (a request header, a job's due time), or
 * to give several sequential steps one shared end time.
 *
 * **Gotchas**:
 * - The time is read from the `Clock` in context: under `TestClock` it starts at 0, not at today's date.
 * - A deadline in the past fails at once with `DeadlineExceededError`, without starting the effect.
 * - `Infinity` sets no deadline of its own; NaN and `-Infinity` fail with `InvalidOptionError` (option `deadline`).
 * - The error's `budget` is `undefined`: an absolute deadline has none.
 *
 * @example
 * ```ts
 * import { Clock, Effect } from "effect"
 * import { Deadline } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const end = (yield* Clock.currentTimeMillis) + 2_000
 *   yield* Effect.sleep("500 millis").pipe(Deadline.at(end))
 *   // the second step gets what is left of the shared 2 seconds: 1.5 seconds
 *   return yield* Deadline.remaining.pipe(Deadline.at(end))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const at: {
  (
    deadline: number
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    deadline: number
  ): Effect.Effect<A, E | DeadlineExceededError | InvalidOptionError, R>
} = internal.at

/**
 * The time left before the deadline in force: `None` outside any deadline, otherwise the time to the effective
 * (earliest) deadline, never negative (zero once it has passed).
 *
 * **When to use**: to size what you do next to the budget that is left: a per-attempt timeout for a retry, a
 * timeout header for an outbound request, or to skip work that cannot finish in time.
 *
 * **Gotchas**: it is a reading, not a reservation: by the time you use it some of it is spent. A fiber forked
 * inside a deadline reads the same deadline.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   yield* Effect.sleep("1 second")
 *   return yield* Deadline.remaining
 * }).pipe(Deadline.within("5 seconds"))
 * // Some(4 seconds)
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const remaining: Effect.Effect<Option.Option<Duration.Duration>> = internal.remaining

/**
 * The deadline in force as an absolute time, in epoch milliseconds on the `Clock`: `None` outside any deadline.
 *
 * **When to use**: to pass the deadline on as a point in time (a `Deadline` header for another service, a job
 * record), where a duration would go stale in transit.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline } from "@async-ops/core"
 *
 * const program = Deadline.current.pipe(Deadline.within("90 seconds"))
 * // on a TestClock at 0: Some(90000)
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const current: Effect.Effect<Option.Option<number>> = internal.current
