/**
 * A readers-writer lock for fibers: many readers at once, or one writer alone. Python's asyncio has none (people
 * reach for `aiorwlock`); this is the same idea on Effect, writer-preferring so that writers are not starved: once
 * a writer waits, new readers queue behind it. When a writer releases, every reader that queued meanwhile gets in
 * together before the next writer, so readers are not starved by a stream of writers either. Waiting costs O(1)
 * per waiter; interrupting a waiting or holding reader or writer leaves the lock consistent. As with `Mutex`, a
 * hold belongs to the section: fibers forked inside it (by `Effect.timeout`, `Deadline.within`, `Effect.forkChild`...)
 * count as its holder, so taking the lock again through them dies instead of deadlocking.
 *
 * @see https://github.com/aio-libs/aiorwlock
 * @see Effect's `TxReentrantLock` (a re-entrant read/write lock for `Effect.tx` transactions)
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/rwLock.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * Options of {@link makeWith} and {@link makeUnsafe}: a `name` and `metrics: true` to report the lock's metrics
 * (primitive `"RWLock"`): in flight (readers holding it plus the writer), waiting (readers plus writers waiting),
 * acquired (read and write locks taken), and wait time per acquisition.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {}

/**
 * A lock's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Readers holding the lock now. */
  readonly readers: number
  /** Whether a writer holds the lock now. */
  readonly writer: boolean
  /** Readers waiting for the lock. */
  readonly waitingReaders: number
  /** Writers waiting for the lock. */
  readonly waitingWriters: number
}

/**
 * A readers-writer lock. The module functions and these methods are the same operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface RWLock {
  /** Runs `effect` holding a read lock; see {@link withReadLock}. */
  readonly withReadLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Runs `effect` holding the write lock; see {@link withWriteLock}. */
  readonly withWriteLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Takes a read lock until the caller's Scope closes; see {@link readLockScoped}. */
  readonly readLockScoped: Effect.Effect<void, never, Scope.Scope>
  /** Takes the write lock until the caller's Scope closes; see {@link writeLockScoped}. */
  readonly writeLockScoped: Effect.Effect<void, never, Scope.Scope>
  /** The lock's statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * A fiber that holds the lock (to read or to write) tried to take it again. The lock is not re-entrant: a second
 * read lock would deadlock as soon as a writer queues between the two, and an upgrade from read to write (or a
 * read under the write lock) deadlocks at once. This is a defect, raised with `Effect.die`.
 *
 * @category errors
 * @since 0.1.0
 */
export class RWLockReentryError extends Data.TaggedError("RWLockReentryError")<{
  /** What the fiber asked for. */
  readonly requested: "read" | "write"
  /** What it already held. */
  readonly held: "read" | "write"
}> {
  override get message(): string {
    return `RWLock: a fiber holding the ${this.held} lock tried to take the ${this.requested} lock; RWLock is not re-entrant and this would deadlock`
  }
}

/**
 * Makes a free readers-writer lock.
 *
 * **When to use**: shared state that is read often and written rarely, where reads may overlap but a write must
 * run alone (a cache being rebuilt, a config reloaded in place). To name the lock and report its metrics, use
 * {@link makeWith}.
 *
 * **Gotchas**: when reads are short and cheap, a plain `Mutex` or a `Ref` is often faster; a readers-writer lock
 * pays off when reads take a while (they await I/O).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RWLock } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RWLock.make
 *   return yield* RWLock.withReadLock(lock, Effect.succeed("read"))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<RWLock> = internal.make

/**
 * Makes a free readers-writer lock with options: a `name` and `metrics: true` to report its metrics (see
 * {@link Options} and the `Metrics` module) to the MetricRegistry of the context it is made in.
 *
 * **When to use**: a lock worth watching in production (writers that wait long, readers piling up behind them).
 * Without options, {@link make} is the same lock.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Metrics, RWLock } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RWLock.makeWith({ name: "config", metrics: true })
 *   yield* RWLock.withReadLock(lock, Effect.void)
 *   const acquired = Metric.withAttributes(Metrics.acquired, { primitive: "RWLock", name: "config" })
 *   return (yield* Metric.value(acquired)).count // 1
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWith: (options: Options) => Effect.Effect<RWLock> = internal.makeWith

/**
 * Makes a free readers-writer lock synchronously.
 *
 * **When to use**: outside Effect code (module-level singletons); prefer {@link make} inside it.
 *
 * **Gotchas**: made outside Effect, it has no context: with `metrics: true` its metrics go to the default
 * MetricRegistry, not to one provided later to the fibers that use it (use {@link makeWith} for that).
 *
 * @example
 * ```ts
 * import { RWLock } from "@async-ops/core"
 *
 * const lock = RWLock.makeUnsafe()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeUnsafe: (options?: Options) => RWLock = internal.makeUnsafe

/**
 * Runs `effect` holding a read lock: other readers may hold it too, no writer does. Waits while a writer holds the
 * lock or waits for it; releases when the effect ends, however it ends.
 *
 * **When to use**: around a read that must not see a write half done.
 *
 * **Gotchas**: not re-entrant; taking the lock again from the fiber that holds it, or from a fiber forked inside
 * the section while it is held (`Effect.timeout`, `Deadline.within`, `Effect.forkChild`...), dies with
 * {@link RWLockReentryError}, a read inside a read included (it would deadlock as soon as a writer queued between).
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { RWLock } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RWLock.make
 *   const config = yield* Ref.make({ url: "a" })
 *   return yield* Ref.get(config).pipe(RWLock.withReadLock(lock)) // { url: "a" }
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withReadLock: {
  (self: RWLock): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: RWLock, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
} = ((self: RWLock, effect?: Effect.Effect<any, any, any>) =>
  effect === undefined
    ? (e: Effect.Effect<any, any, any>) => self.withReadLock(e)
    : self.withReadLock(effect)) as any

/**
 * Runs `effect` holding the write lock: no other reader or writer holds it meanwhile. Waits (FIFO among writers)
 * until every reader and writer has released; new readers queue behind a waiting writer.
 *
 * **When to use**: around a write of state that readers must see whole.
 *
 * **Gotchas**: not re-entrant, and a read lock cannot be upgraded: taking the write lock while holding a read lock
 * dies with {@link RWLockReentryError}, also from a fiber forked inside the section (`Effect.timeout`,
 * `Deadline.within`, `Effect.forkChild`...).
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { RWLock } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RWLock.make
 *   const config = yield* Ref.make({ url: "a" })
 *   yield* Ref.set(config, { url: "b" }).pipe(RWLock.withWriteLock(lock))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withWriteLock: {
  (self: RWLock): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: RWLock, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
} = ((self: RWLock, effect?: Effect.Effect<any, any, any>) =>
  effect === undefined
    ? (e: Effect.Effect<any, any, any>) => self.withWriteLock(e)
    : self.withWriteLock(effect)) as any

/**
 * Takes a read lock and holds it until the caller's `Scope` closes.
 *
 * **When to use**: a read that spans several steps of a scoped workflow.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RWLock } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RWLock.make
 *   yield* Effect.scoped(RWLock.readLockScoped(lock))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const readLockScoped = (self: RWLock): Effect.Effect<void, never, Scope.Scope> => self.readLockScoped

/**
 * Takes the write lock and holds it until the caller's `Scope` closes.
 *
 * **When to use**: a write that spans several steps of a scoped workflow.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RWLock } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RWLock.make
 *   yield* Effect.scoped(RWLock.writeLockScoped(lock))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const writeLockScoped = (self: RWLock): Effect.Effect<void, never, Scope.Scope> => self.writeLockScoped

/**
 * The lock's statistics now: readers holding it, whether a writer holds it, and how many of each wait.
 *
 * **When to use**: metrics and tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RWLock } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RWLock.make
 *   return yield* RWLock.stats(lock) // { readers: 0, writer: false, waitingReaders: 0, waitingWriters: 0 }
 * })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = (self: RWLock): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is an {@link RWLock} made by this module.
 *
 * @category guards
 * @since 0.1.0
 */
export const isRWLock: (u: unknown) => u is RWLock = internal.isRWLock
