/**
 * A lock per key: work on the same key runs one fiber at a time (FIFO), work on different keys runs in parallel.
 * The Python idiom it replaces is a `defaultdict(asyncio.Lock)` keyed by user, file or account, which grows
 * forever; here a key's lock exists only while a fiber holds it or waits for it, so memory stays bounded by the
 * keys in use, and interrupting a waiter or a holder leaves no entry behind.
 *
 * @see `Mutex` (each key behaves as one) and Effect's `PartitionedSemaphore` (one shared pool of permits with
 * per-key fairness, rather than one lock per key)
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/keyedMutex.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * Options of {@link make}: a `name` and `metrics: true` to report metrics (primitive `"KeyedMutex"`): in flight
 * (keys held now), waiting (fibers waiting over all keys), acquired, and wait time per acquisition.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {}

/**
 * The statistics of a keyed mutex.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Keys with a holder or waiters: the number of locks in memory. */
  readonly size: number
  /** Fibers waiting, over all keys. */
  readonly waiting: number
}

/**
 * A keyed mutex. The module functions and these methods are the same operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeyedMutex<in K> {
  /** Runs `effect` holding the lock of `key`; see {@link withLock}. */
  readonly withLock: <A, E, R>(key: K, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Runs `effect` holding the lock of `key` only if it is free now; see {@link withLockIfAvailable}. */
  readonly withLockIfAvailable: <A, E, R>(
    key: K,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E, R>
  /** Takes the lock of `key` until the caller's Scope closes; see {@link lockScoped}. */
  readonly lockScoped: (key: K) => Effect.Effect<void, never, Scope.Scope>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * The fiber that holds the lock of a key tried to take that key's lock again (the lock is not re-entrant, so this
 * would deadlock). A defect, raised with `Effect.die`.
 *
 * @category errors
 * @since 0.1.0
 */
export class KeyedMutexReentryError extends Data.TaggedError("KeyedMutexReentryError")<{
  readonly key: unknown
}> {
  override get message(): string {
    return `KeyedMutex: the fiber that holds the lock of key ${
      String(this.key)
    } tried to lock it again; the lock is not re-entrant and this would deadlock`
  }
}

/**
 * Makes an empty keyed mutex. Keys are compared as `Map` keys (`SameValueZero`): use strings or numbers, not
 * objects built per call. With `metrics: true` (see {@link Options}) it reports to the MetricRegistry of the
 * context it is made in.
 *
 * **When to use**: serialise work per entity (per user, per account, per file path) while different entities
 * proceed in parallel, e.g. two updates of one cart must not interleave but updates of different carts may.
 *
 * **Gotchas**: two structurally equal objects are different keys; derive a string key (`${tenant}/${id}`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedMutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const locks = yield* KeyedMutex.make<string>()
 *   return yield* KeyedMutex.withLock(locks, "cart-1", Effect.succeed("updated"))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <K>(options?: Options) => Effect.Effect<KeyedMutex<K>> = internal.make

/**
 * Makes an empty keyed mutex synchronously.
 *
 * **When to use**: outside Effect code (module-level singletons); prefer {@link make} inside it.
 *
 * **Gotchas**: made outside Effect, it has no context: with `metrics: true` its metrics go to the default
 * MetricRegistry, not to one provided later to the fibers that use it.
 *
 * @example
 * ```ts
 * import { KeyedMutex } from "@async-ops/core"
 *
 * const locks = KeyedMutex.makeUnsafe<string>()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeUnsafe: <K>(options?: Options) => KeyedMutex<K> = internal.makeUnsafe

/**
 * Runs `effect` holding the lock of `key`: waits (FIFO) while another fiber holds that key, runs, and releases
 * when the effect ends, however it ends. Keys other than `key` are not affected.
 *
 * **When to use**: `async with locks[key]:` in Python, with the lock dropped when unused.
 *
 * **Gotchas**: not re-entrant per key (taking the same key again from its holder, or from a fiber forked inside
 * the section while it holds the key, such as the fiber of `Effect.timeout` or `Effect.forkChild`, dies with
 * {@link KeyedMutexReentryError}); taking two keys in different orders from two fibers can deadlock, as with any
 * two locks: take them in a fixed order.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedMutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const locks = yield* KeyedMutex.make<string>()
 *   const save = (user: string) => Effect.log(`saving ${user}`).pipe(KeyedMutex.withLock(locks, user))
 *   // alice's two saves run one after the other; bob's runs alongside them
 *   yield* Effect.all([save("alice"), save("alice"), save("bob")], { concurrency: "unbounded" })
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLock: {
  <K>(self: KeyedMutex<K>, key: K): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <K, A, E, R>(self: KeyedMutex<K>, key: K, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
} = (<K>(self: KeyedMutex<K>, key: K, ...rest: [Effect.Effect<any, any, any>?]) =>
  rest.length === 0
    ? (e: Effect.Effect<any, any, any>) => self.withLock(key, e)
    : self.withLock(key, rest[0]!)) as any

/**
 * Runs `effect` holding the lock of `key` if that key is free now and returns `Option.some` of its result;
 * returns `Option.none()` at once if another fiber holds the key.
 *
 * **When to use**: skip per-key work that another fiber is already doing (a refresh of one cache entry).
 *
 * **Gotchas**: called by the fiber that holds the key, it dies with {@link KeyedMutexReentryError}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedMutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const locks = yield* KeyedMutex.make<string>()
 *   return yield* KeyedMutex.withLockIfAvailable(locks, "report", Effect.succeed(1)) // Option.some(1)
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLockIfAvailable: {
  <K>(
    self: KeyedMutex<K>,
    key: K
  ): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  <K, A, E, R>(self: KeyedMutex<K>, key: K, effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R>
} = (<K>(self: KeyedMutex<K>, key: K, ...rest: [Effect.Effect<any, any, any>?]) =>
  rest.length === 0
    ? (e: Effect.Effect<any, any, any>) => self.withLockIfAvailable(key, e)
    : self.withLockIfAvailable(key, rest[0]!)) as any

/**
 * Takes the lock of `key` (waiting in FIFO order) and holds it until the caller's `Scope` closes.
 *
 * **When to use**: per-key exclusion across several steps of a scoped workflow.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedMutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const locks = yield* KeyedMutex.make<string>()
 *   yield* Effect.scoped(Effect.gen(function*() {
 *     yield* KeyedMutex.lockScoped(locks, "file.txt")
 *     // ... "file.txt" is ours until the scope closes
 *   }))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const lockScoped = <K>(self: KeyedMutex<K>, key: K): Effect.Effect<void, never, Scope.Scope> =>
  self.lockScoped(key)

/**
 * The statistics now: how many keys have a lock in memory (held or waited for) and how many fibers wait.
 *
 * **When to use**: metrics, and tests that memory stays bounded (`size` returns to 0 when idle).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedMutex } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const locks = yield* KeyedMutex.make<number>()
 *   yield* Effect.forEach([1, 2, 3], (n) => KeyedMutex.withLock(locks, n, Effect.void))
 *   return yield* KeyedMutex.stats(locks) // { size: 0, waiting: 0 }
 * })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = <K>(self: KeyedMutex<K>): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is a {@link KeyedMutex} made by this module.
 *
 * @category guards
 * @since 0.1.0
 */
export const isKeyedMutex: (u: unknown) => u is KeyedMutex<unknown> = internal.isKeyedMutex
