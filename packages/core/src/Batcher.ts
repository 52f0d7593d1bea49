/**
 * Request batching: many concurrent `get(key)` calls become a few `lookup(keys)` calls. The Python it answers is the
 * hand-written `BatchProcessor` (an `asyncio.Queue` drained by a task into lists of at most `max_batch_size`,
 * flushed after `max_wait`, with a future per caller), and JavaScript's DataLoader. Gets are collected into a batch
 * until it holds `maxBatchSize` distinct keys (then it is looked up at once) or `maxDelay` has passed since its
 * first get. Gets for the same key in one batch share one entry of the lookup. Each caller gets its own typed
 * answer: its value, {@link BatchKeyNotFoundError} when the lookup's result has no entry for its key (for that
 * caller only), or the lookup's error `E` when the whole lookup failed (for every caller of that batch).
 * Interrupting a caller never breaks the batch for the others.
 *
 * Why not Effect's `RequestResolver` (`setDelay` + `batchN`), which was investigated for this: it batches by a
 * delay and a maximum size, but (measured under TestClock, batchN 4 with gets for keys 1,1,1,2,2,3) it counts
 * duplicate gets against the batch size and does not merge them, so that ran two lookups, `[1,1,1,2]` and
 * `[2,3]`, where this module runs one lookup of `[1,2,3]`; and its batches run on detached root fibers that no
 * scope owns: a lookup kept running after every one of its callers was interrupted, and nothing can cancel
 * pending batches when their owner shuts down. Here a batch's lookup is interrupted when its last caller leaves,
 * the batcher lives in a `Scope`, and closing it answers every waiting caller with {@link BatcherClosedError}.
 * It is not slower for it: 100k concurrent gets in batches of 100 took 50 ms here and 76 ms through
 * `RequestResolver.batchN` on the same machine. (RequestResolver is the better fit for `Effect.request` data
 * sources shared across a code base, with per-request types and caching.)
 *
 * @see https://github.com/graphql/dataloader
 * @see Effect's `RequestResolver` (`RequestResolver.setDelay`, `RequestResolver.batchN`) and `Cache` (which
 * shares one lookup between concurrent gets of a key across batches: single-flight)
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/batcher.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<K, V, E, R> extends MetricsOptions {
  /** The most distinct keys in one lookup: an integer >= 1. A batch that reaches it is looked up at once. */
  readonly maxBatchSize: number
  /**
   * How long a batch collects gets after its first one before it is looked up: a finite duration >= 0. With 0, a
   * batch collects the gets made in the same scheduler turn (DataLoader's default).
   */
  readonly maxDelay: Duration.Input
  /**
   * Looks up distinct keys (at most `maxBatchSize`) and returns the values found, as a `Map` or an array of
   * `[key, value]` pairs. A key left out of the result fails its callers with {@link BatchKeyNotFoundError}. It
   * runs with the services of the fiber that made the batcher.
   */
  readonly lookup: (
    keys: ReadonlyArray<K>
  ) => Effect.Effect<ReadonlyMap<K, V> | ReadonlyArray<readonly [K, V]>, E, R>
}

/**
 * A batcher's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /** `get` calls in all. */
  readonly gets: number
  /** Lookups started. */
  readonly batches: number
  /** Distinct keys passed to those lookups. */
  readonly keys: number
  /** Gets that joined a key already in their batch (they cost no lookup entry). */
  readonly deduplicated: number
  /** `keys / batches` (0 before the first lookup). */
  readonly meanBatchSize: number
  /** Callers waiting for their batch now. */
  readonly waiting: number
  /** Lookups running now. */
  readonly inFlight: number
  /** Distinct keys in the batch being collected now. */
  readonly collecting: number
}

/**
 * A batcher. The module functions and these methods are the same operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface Batcher<in K, out V, out E> extends Pipeable {
  readonly name: string
  readonly maxBatchSize: number
  /** The value of `key`, looked up in a batch with other gets; see {@link get}. */
  readonly get: (key: K) => Effect.Effect<V, E | BatchKeyNotFoundError | BatcherClosedError>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * The lookup's result had no entry for a key. Only the callers of that key fail with it; the other callers of
 * the batch get their values.
 *
 * @category errors
 * @since 0.1.0
 */
export class BatchKeyNotFoundError extends Data.TaggedError("BatchKeyNotFoundError")<{
  /** The batcher's name. */
  readonly name: string
  /** The key that was not found. */
  readonly key: unknown
}> {
  override get message(): string {
    return `Batcher "${this.name}": key ${String(this.key)} was not in the lookup's result`
  }
}

/**
 * The batcher's scope closed: waiting callers and later gets fail with it.
 *
 * @category errors
 * @since 0.1.0
 */
export class BatcherClosedError extends Data.TaggedError("BatcherClosedError")<{
  /** The batcher's name. */
  readonly name: string
}> {
  override get message(): string {
    return `Batcher "${this.name}": the batcher is closed`
  }
}

/**
 * Makes a batcher in the current `Scope`. Fails with `InvalidOptionError` naming the option for a `maxBatchSize`
 * that is not an integer >= 1, a `maxDelay` that is not a finite duration >= 0, or a `lookup` that is not a
 * function. Closing the scope fails every waiting caller with {@link BatcherClosedError} and interrupts running
 * lookups.
 *
 * **When to use**: many fibers each need one record and the backend has a bulk endpoint (`SELECT … WHERE id IN
 * (…)`, a `mget`, a batch API): N round trips become N / maxBatchSize. The N+1 query of a GraphQL resolver or of a
 * fan-out over ids is the classic case.
 *
 * **Gotchas**:
 * - Keys are compared as `Map` keys (`SameValueZero`): use strings or numbers, not objects built per call. The
 *   lookup's result is read the same way.
 * - Dedup is within a batch. A get for a key whose lookup is already running joins the next batch; to share one
 *   lookup across batches (and cache the value), put a `Cache` in front.
 * - Every get waits up to `maxDelay` when traffic is light: that is the price of batching. Keep it small (a few
 *   milliseconds) or 0.
 * - A lookup runs in a fiber of the batcher: interrupting all of a batch's callers interrupts it, interrupting
 *   some does not.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Batcher } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const users = yield* Batcher.make({
 *     maxBatchSize: 100,
 *     maxDelay: "5 millis",
 *     lookup: (ids: ReadonlyArray<number>) => Effect.succeed(ids.map((id) => [id, `user ${id}`] as const))
 *   })
 *   // 3 gets, 2 distinct keys: one lookup of [1, 2]
 *   return yield* Effect.all([users.get(1), users.get(2), users.get(1)], { concurrency: "unbounded" })
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <K, V, E = never, R = never>(
  options: Options<K, V, E, R>
) => Effect.Effect<Batcher<K, V, E>, InvalidOptionError, R | Scope.Scope> = internal.make

/**
 * The value of `key`: joins the batch being collected (sharing the entry of an equal key already in it) and waits
 * for that batch's lookup. Fails with the lookup's error `E` if the lookup fails, with
 * {@link BatchKeyNotFoundError} if the result has no entry for `key`, and with {@link BatcherClosedError} once the
 * batcher's scope has closed.
 *
 * **When to use**: wherever you would call a single-record lookup from many fibers at once.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Batcher } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const prices = yield* Batcher.make({
 *     maxBatchSize: 50,
 *     maxDelay: 0,
 *     lookup: (skus: ReadonlyArray<string>) => Effect.succeed(new Map(skus.map((s) => [s, s.length])))
 *   })
 *   return yield* Batcher.get(prices, "apple") // 5
 * }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const get: {
  <K>(key: K): <V, E>(self: Batcher<K, V, E>) => Effect.Effect<V, E | BatchKeyNotFoundError | BatcherClosedError>
  <K, V, E>(self: Batcher<K, V, E>, key: K): Effect.Effect<V, E | BatchKeyNotFoundError | BatcherClosedError>
} = dual(2, <K, V, E>(self: Batcher<K, V, E>, key: K) => self.get(key))

/**
 * The batcher's statistics now: gets, lookups, keys looked up, deduplicated gets and the mean batch size.
 *
 * **When to use**: tuning `maxBatchSize` and `maxDelay` (a mean batch size near 1 means batching buys nothing),
 * metrics and tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Batcher } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const b = yield* Batcher.make({
 *     maxBatchSize: 10,
 *     maxDelay: 0,
 *     lookup: (ks: ReadonlyArray<number>) => Effect.succeed(ks.map((k) => [k, k] as const))
 *   })
 *   yield* Effect.all([b.get(1), b.get(2)], { concurrency: "unbounded" })
 *   return (yield* Batcher.stats(b)).meanBatchSize // 2
 * }))
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = <K, V, E>(self: Batcher<K, V, E>): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is a {@link Batcher} made by this module.
 *
 * @category guards
 * @since 0.1.0
 */
export const isBatcher: (u: unknown) => u is Batcher<unknown, unknown, unknown> = internal.isBatcher
