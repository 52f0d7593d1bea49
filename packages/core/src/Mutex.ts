/**
 * A mutual-exclusion lock for fibers: Python's `asyncio.Lock` (`async with lock:`) on Effect. One fiber holds it
 * at a time; the others wait in FIFO order and the lock is handed straight to the longest waiter when released, so
 * a newcomer never jumps the queue. It is released whenever the holder ends (success, failure, defect or
 * interruption), an interrupted waiter leaves the queue without ever getting the lock, and waiting costs O(1) per
 * waiter however many wait. Unlike asyncio's, re-locking from the fiber that holds it is reported at once as a
 * defect ({@link MutexReentryError}) instead of deadlocking.
 *
 * Ownership follows the work, not one fiber: the holder is the fiber that took the lock and every fiber forked
 * inside its section (the lock travels in the fiber's context, which forked fibers inherit). Effect runs work in
 * other fibers in its own combinators (`Effect.timeout`, `Effect.race`, `Deadline.within`...), and with this rule
 * `Condition.wait` works inside them and re-locking through them dies instead of deadlocking. asyncio has no owner
 * at all; trio's owner is one task; here the owner is the section, which is what asyncio's `async with lock:`
 * scopes.
 *
 * @see https://docs.python.org/3/library/asyncio-sync.html#asyncio.Lock
 * @see Effect's `Semaphore` (`Semaphore.make(1)` is a lock too; this one adds FIFO hand-off, re-entry detection,
 * `stats` and linear cost in the number of waiters)
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/mutex.ts"
import { MutexReentryError } from "./internal/mutex.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * Errors of this module, defined next to the code that raises them (internal modules never import public ones, so
 * every public module can be imported on its own).
 *
 * @since 0.1.0
 */
export { MutexReentryError }

/**
 * A lock's statistics, like trio's `Lock.statistics()`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Whether a fiber holds the lock now. */
  readonly locked: boolean
  /** Fibers waiting for the lock now. */
  readonly waiting: number
  /** How many times the lock was acquired in all. */
  readonly acquired: number
  /** How many of those acquisitions had to wait. */
  readonly contended: number
}

/**
 * A mutex. The module functions ({@link withLock}, ...) and these methods are the same operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface Mutex {
  /** Runs `effect` holding the lock; see {@link withLock}. */
  readonly withLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Runs `effect` holding the lock only if it is free now; see {@link withLockIfAvailable}. */
  readonly withLockIfAvailable: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  /** Takes the lock until the caller's Scope closes; see {@link lockScoped}. */
  readonly lockScoped: Effect.Effect<void, never, Scope.Scope>
  /** The lock's statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * Options of {@link makeWith} and {@link makeUnsafe}: a `name` and `metrics: true` to report the lock's metrics
 * (primitive `"Mutex"`): in flight (1 while held, else 0), waiting, acquired, and wait time per acquisition.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {}

/**
 * Makes a free mutex.
 *
 * **When to use**: to make a section of effectful code run one fiber at a time (a read-modify-write of shared
 * state that spans an effect, one writer to a file or connection). For a plain value, `Ref.update` or
 * `SynchronizedRef.updateEffect` need no lock. To name the lock and report its metrics, use {@link makeWith}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Mutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const mutex = yield* Mutex.make
 *   return yield* Mutex.withLock(mutex, Effect.succeed(1)) // 1
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<Mutex> = internal.make

/**
 * Makes a free mutex with options: a `name` and `metrics: true` to report its metrics (see {@link Options} and
 * the `Metrics` module) to the MetricRegistry of the context it is made in.
 *
 * **When to use**: a lock worth watching in production (a lock that always has waiters is a bottleneck). Without
 * options, {@link make} is the same lock.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Metrics, Mutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const mutex = yield* Mutex.makeWith({ name: "ledger", metrics: true })
 *   yield* Mutex.withLock(mutex, Effect.void)
 *   const acquired = Metric.withAttributes(Metrics.acquired, { primitive: "Mutex", name: "ledger" })
 *   return (yield* Metric.value(acquired)).count // 1
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWith: (options: Options) => Effect.Effect<Mutex> = internal.makeWith

/**
 * Makes a free mutex synchronously, outside Effect (module-level singletons, tests).
 *
 * **When to use**: where an Effect constructor is awkward; prefer {@link make} inside Effect code.
 *
 * **Gotchas**: made outside Effect, it has no context: with `metrics: true` its metrics go to the default
 * MetricRegistry, not to one provided later to the fibers that use it (use {@link makeWith} for that).
 *
 * @example
 * ```ts
 * import { Mutex } from "@async-ops/core"
 *
 * const mutex = Mutex.makeUnsafe()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeUnsafe: (options?: Options) => Mutex = internal.makeUnsafe

/**
 * Runs `effect` holding the lock: waits (FIFO) until the lock is free, runs the effect, and releases the lock when
 * the effect ends, however it ends. Interrupting a waiting fiber removes it from the queue; it never gets the lock.
 *
 * **When to use**: `async with lock:` in Python.
 *
 * **Gotchas**:
 * - Not re-entrant: calling `withLock` (or any lock operation) again from the fiber that holds the lock, or from a
 *   fiber forked inside its section while it is held (the fiber of `Effect.timeout`, `Effect.race`,
 *   `Deadline.within`, `Effect.forkChild`...), dies with {@link MutexReentryError} instead of deadlocking.
 * - So a fiber forked inside the section that must take the lock itself, while the section may still hold it, dies
 *   too: fork such workers outside the section (a fiber forked inside that first runs after the section ended
 *   owns nothing and waits its turn like any other).
 * - The lock belongs to the section: `Condition.wait`/`notify` work in the fiber that took it and in fibers forked
 *   inside the section, not elsewhere.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { Mutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const mutex = yield* Mutex.make
 *   const balance = yield* Ref.make(100)
 *   const withdraw = (n: number) =>
 *     Effect.gen(function*() {
 *       const b = yield* Ref.get(balance)
 *       yield* Effect.yieldNow // another fiber could run here
 *       if (b >= n) yield* Ref.set(balance, b - n)
 *     }).pipe(Mutex.withLock(mutex))
 *   yield* Effect.all([withdraw(80), withdraw(80)], { concurrency: "unbounded" })
 *   return yield* Ref.get(balance) // 20: the second withdrawal saw 20 and was refused
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLock: {
  (self: Mutex): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Mutex, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
} = ((self: Mutex, effect?: Effect.Effect<any, any, any>) =>
  effect === undefined
    ? (e: Effect.Effect<any, any, any>) => self.withLock(e)
    : self.withLock(effect)) as any

/**
 * Runs `effect` holding the lock if the lock is free now, and returns `Option.some` of its result; returns
 * `Option.none()` at once, without running the effect, if another fiber holds it.
 *
 * **When to use**: Python's `if not lock.locked(): async with lock: ...`, without the race: skip work that another
 * fiber is already doing (a refresh, a flush).
 *
 * **Gotchas**: called by the fiber that holds the lock, it dies with {@link MutexReentryError} rather than
 * returning `none`: that is a bug in the caller, not contention.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Mutex } from "@async-ops/core"
 *
 * const refresh = (mutex: Mutex.Mutex) =>
 *   Mutex.withLockIfAvailable(mutex, Effect.succeed("refreshed")).pipe(
 *     Effect.map(Option.getOrElse(() => "someone else is refreshing"))
 *   )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLockIfAvailable: {
  (self: Mutex): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  <A, E, R>(self: Mutex, effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R>
} = ((self: Mutex, effect?: Effect.Effect<any, any, any>) =>
  effect === undefined
    ? (e: Effect.Effect<any, any, any>) => self.withLockIfAvailable(e)
    : self.withLockIfAvailable(effect)) as any

/**
 * Takes the lock (waiting in FIFO order) and holds it until the caller's `Scope` closes.
 *
 * **When to use**: when the section does not fit in one effect, e.g. a lock held for the life of a Layer or
 * across several steps of a scoped workflow. Python's `await lock.acquire()` paired with a `finally: release()`.
 *
 * **Gotchas**: the lock is held by the fiber that took it, for re-entry checks and `Condition.wait`, even if the
 * scope is closed by another fiber.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Mutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const mutex = yield* Mutex.make
 *   yield* Effect.scoped(Effect.gen(function*() {
 *     yield* Mutex.lockScoped(mutex)
 *     // ... the lock is held until this scope closes
 *   }))
 *   return (yield* Mutex.stats(mutex)).locked // false
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const lockScoped = (self: Mutex): Effect.Effect<void, never, Scope.Scope> => self.lockScoped

/**
 * The lock's statistics now: whether it is held, how many fibers wait, and acquisition counters.
 *
 * **When to use**: metrics and tests (a lock that is always contended is a bottleneck).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Mutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const mutex = yield* Mutex.make
 *   yield* Mutex.withLock(mutex, Effect.void)
 *   return yield* Mutex.stats(mutex) // { locked: false, waiting: 0, acquired: 1, contended: 0 }
 * })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = (self: Mutex): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is a {@link Mutex} made by this module.
 *
 * @category guards
 * @since 0.1.0
 */
export const isMutex: (u: unknown) => u is Mutex = internal.isMutex
