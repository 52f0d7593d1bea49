/**
 * A condition variable for fibers: Python's `asyncio.Condition` on Effect. Fibers that hold the condition's lock
 * wait for some state to change (`wait`, or `waitFor(predicate)`), releasing the lock while they wait; a fiber
 * that changed the state wakes them (`notify(n)`, `notifyAll`). A woken fiber takes the lock back before `wait`
 * returns, also when it is interrupted while waiting: the interruption propagates only once the lock is held
 * again, so the finalizers inside the caller's `withLock` see the lock held, as in asyncio.
 *
 * The lock is held by a section, not by one fiber (see `Mutex`): `wait` and `notify` work in fibers forked inside
 * the section, so `Effect.timeout`, `Effect.race`, `Deadline.within` or a forked and joined child can wrap them
 * (asyncio's `async with timeout(…): await cond.wait()` inside the lock).
 *
 * @see https://docs.python.org/3/library/asyncio-sync.html#asyncio.Condition
 * @see Effect's `Latch` for a one-shot or re-armable gate (Python's `asyncio.Event`), which needs no lock
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as internal from "./internal/condition.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"
import type { Mutex } from "./Mutex.ts"

/**
 * Options of {@link make}: a `name` and `metrics: true` to report the condition's metrics (primitive
 * `"Condition"`): waiting (fibers waiting to be notified). The lock's own metrics are the mutex's (see
 * `Mutex.makeWith`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {}

/**
 * A condition's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Fibers waiting to be notified (not counting woken fibers waiting to take the lock back). */
  readonly waiting: number
}

/**
 * A condition variable bound to a {@link Mutex}. The module functions and these methods are the same operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface Condition {
  /** The lock the condition is bound to. */
  readonly mutex: Mutex
  /** Runs `effect` holding the condition's lock; see {@link withLock}. */
  readonly withLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Releases the lock, waits to be notified, takes the lock back; see {@link wait}. */
  readonly wait: Effect.Effect<void>
  /** Waits until `predicate` holds; see {@link waitFor}. */
  readonly waitFor: {
    (predicate: () => boolean): Effect.Effect<void>
    <E, R>(predicate: Effect.Effect<boolean, E, R>): Effect.Effect<void, E, R>
  }
  /** Wakes the longest waiter, or the `n` longest; see {@link notify}. */
  readonly notify: {
    (): Effect.Effect<void>
    (n: number): Effect.Effect<void, InvalidOptionError>
  }
  /** Wakes every waiter; see {@link notifyAll}. */
  readonly notifyAll: Effect.Effect<void>
  /** The condition's statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * `wait`, `waitFor`, `notify` or `notifyAll` was called outside a section holding the condition's lock (neither the
 * fiber that took it nor a fiber forked inside its section while it is held). A defect (a programming error),
 * raised with `Effect.die`; asyncio raises `RuntimeError` in the same case.
 *
 * @category errors
 * @since 0.1.0
 */
export class LockNotHeldError extends Data.TaggedError("LockNotHeldError")<{
  /** The operation that was called. */
  readonly operation: "wait" | "waitFor" | "notify" | "notifyAll"
}> {
  override get message(): string {
    return `Condition.${this.operation}: the calling fiber does not hold the condition's lock; call it inside Condition.withLock (or Mutex.withLock on the condition's mutex)`
  }
}

/**
 * Makes a condition bound to `mutex`, or to a new mutex when none is given. With `metrics: true` (see
 * {@link Options}) it reports to the MetricRegistry of the context it is made in.
 *
 * **When to use**: fibers must wait, under a lock, for shared state to reach some condition (a buffer not empty,
 * a resource ready), and the fibers changing that state tell them. Pass an existing mutex when several conditions
 * guard the same state (Python's `Condition(lock)`): "not empty" and "not full" over one buffer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition, Mutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const mutex = yield* Mutex.make
 *   const notEmpty = yield* Condition.make(mutex)
 *   const notFull = yield* Condition.make(mutex)
 *   return notEmpty.mutex === notFull.mutex // true
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  (options?: Options): Effect.Effect<Condition>
  (mutex: Mutex, options?: Options): Effect.Effect<Condition>
} = internal.make

/**
 * Makes a condition synchronously, bound to `mutex` or to a new mutex.
 *
 * **When to use**: outside Effect code; prefer {@link make} inside it.
 *
 * **Gotchas**: throws a `TypeError` if `mutex` was not made by `Mutex.make`/`Mutex.makeUnsafe`. Made outside
 * Effect, it has no context: with `metrics: true` its metrics go to the default MetricRegistry.
 *
 * @example
 * ```ts
 * import { Condition } from "@async-ops/core"
 *
 * const ready = Condition.makeUnsafe()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeUnsafe: {
  (options?: Options): Condition
  (mutex: Mutex, options?: Options): Condition
} = internal.makeUnsafe

/**
 * Runs `effect` holding the condition's lock (the same as `Mutex.withLock` on `condition.mutex`).
 *
 * **When to use**: `async with condition:` in Python; `wait`, `waitFor` and `notify` go inside.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const condition = yield* Condition.make()
 *   yield* Condition.notifyAll(condition).pipe(Condition.withLock(condition))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLock: {
  (self: Condition): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Condition, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
} = ((self: Condition, effect?: Effect.Effect<any, any, any>) =>
  effect === undefined
    ? (e: Effect.Effect<any, any, any>) => self.withLock(e)
    : self.withLock(effect)) as any

/**
 * Releases the lock, waits until notified, then takes the lock back (waiting in the lock's FIFO queue) before
 * returning. Must be called inside a section holding the lock; otherwise dies with {@link LockNotHeldError}.
 *
 * **When to use**: rarely directly: prefer {@link waitFor}, which loops on the predicate for you. Use `wait` when
 * the loop needs to do more than re-check a predicate.
 *
 * **Gotchas**:
 * - Interrupted while waiting, the fiber still takes the lock back (uninterruptibly) before the interruption
 *   propagates, so an interrupted waiter may wait for the lock first. A notification it received passes to the
 *   next waiter when `wait` does not return normally: interrupted before it woke, or while taking the lock back
 *   (asyncio 3.13 does the same for any exception leaving `wait`; it may wake another waiter spuriously, this
 *   passes a notification on only when one was received).
 * - To bound the wait, wrap `wait` itself inside the lock: `Condition.withLock(c, Deadline.within(Condition.wait(c),
 *   "1 second"))` (or `Effect.timeout`); whichever way it ends, the lock is held again when it returns.
 * - A woken waiter is not guaranteed the state it waited for (another fiber may take the lock first and change
 *   it): re-check after `wait`, which is what `waitFor` does.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { Condition } from "@async-ops/core"
 *
 * const awaitItem = (condition: Condition.Condition, items: Ref.Ref<Array<string>>) =>
 *   Condition.withLock(condition, Effect.gen(function*() {
 *     while ((yield* Ref.get(items)).length === 0) yield* Condition.wait(condition)
 *     return (yield* Ref.get(items))[0]
 *   }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const wait = (self: Condition): Effect.Effect<void> => self.wait

/**
 * Waits until `predicate` holds: checks it, and while it is false, `wait`s and checks again. The lock is held
 * whenever the predicate runs and when `waitFor` returns. Must be called inside a section holding the lock; otherwise
 * dies with {@link LockNotHeldError}.
 *
 * **When to use**: Python's `await condition.wait_for(predicate)`; the usual way to wait on a condition.
 *
 * **Gotchas**: the predicate is an `Effect<boolean>` (read a `Ref`) or a plain function (read a variable); it
 * must not wait itself, since the lock is held while it runs.
 *
 * @example
 * ```ts
 * import { Effect, Fiber, Ref } from "effect"
 * import { Condition } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const condition = yield* Condition.make()
 *   const ready = yield* Ref.make(false)
 *   const waiter = yield* Condition.waitFor(condition, Ref.get(ready)).pipe(
 *     Condition.withLock(condition),
 *     Effect.forkChild
 *   )
 *   yield* Ref.set(ready, true).pipe(Effect.andThen(Condition.notifyAll(condition)), Condition.withLock(condition))
 *   yield* Fiber.join(waiter) // returns once ready is true
 *   // data-last: the same wait as a function of the condition
 *   const untilReady = Condition.waitFor(Ref.get(ready))
 *   yield* Condition.withLock(condition, untilReady(condition)) // holds already: returns at once
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const waitFor: {
  (predicate: () => boolean): (self: Condition) => Effect.Effect<void>
  <E, R>(predicate: Effect.Effect<boolean, E, R>): (self: Condition) => Effect.Effect<void, E, R>
  (self: Condition, predicate: () => boolean): Effect.Effect<void>
  <E, R>(self: Condition, predicate: Effect.Effect<boolean, E, R>): Effect.Effect<void, E, R>
} = dual(
  (args) => internal.isCondition(args[0]),
  (self: Condition, predicate: any) => self.waitFor(predicate)
) as any

/**
 * Wakes the longest-waiting fiber, or the `n` longest in the order they started waiting (fewer if fewer wait).
 * Each woken fiber then takes the lock back in FIFO order once the notifier releases it. Must be called inside a
 * section holding the lock; otherwise dies with {@link LockNotHeldError}. An `n` that is not an integer >= 1 fails
 * with `InvalidOptionError`.
 *
 * **When to use**: after changing the state so that one (or `n`) waiters can proceed, e.g. one item was added.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const condition = yield* Condition.make()
 *   yield* Condition.withLock(condition, Condition.notify(condition, 2)) // nobody waits: a no-op
 *   // data-last: a function of the condition, e.g. to notify several conditions alike
 *   const notifyOne = Condition.notify(1)
 *   yield* Condition.withLock(condition, notifyOne(condition))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const notify: {
  (n: number): (self: Condition) => Effect.Effect<void, InvalidOptionError>
  (self: Condition): Effect.Effect<void>
  (self: Condition, n: number): Effect.Effect<void, InvalidOptionError>
} = ((first: Condition | number, n?: number) =>
  internal.isCondition(first)
    ? (n === undefined ? first.notify() : first.notify(n))
    : (self: Condition) => self.notify(first)) as any

/**
 * Wakes every waiting fiber; they take the lock back one at a time, in the order they started waiting. Must be
 * called inside a section holding the lock; otherwise dies with {@link LockNotHeldError}.
 *
 * **When to use**: after a change every waiter must see (a shared resource became ready, shutdown started).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const condition = yield* Condition.make()
 *   yield* Condition.notifyAll(condition).pipe(Condition.withLock(condition))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const notifyAll = (self: Condition): Effect.Effect<void> => self.notifyAll

/**
 * The condition's statistics now: how many fibers wait to be notified.
 *
 * **When to use**: metrics and tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const condition = yield* Condition.make()
 *   return yield* Condition.stats(condition) // { waiting: 0 }
 * })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = (self: Condition): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is a {@link Condition} made by this module.
 *
 * @category guards
 * @since 0.1.0
 */
export const isCondition: (u: unknown) => u is Condition = internal.isCondition
