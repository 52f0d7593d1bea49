/**
 * A limiter with a cap per key and an optional global cap: aiohttp's `TCPConnector(limit=..., limit_per_host=...)`
 * as an admission policy for any effect, keyed by host, tenant or entity. It has the admission shape of the
 * `Limiter` module (`withPermit`, `withPermitIfAvailable`, `stats`) with a key on each call, FIFO per key and
 * across keys, O(1) per operation, and memory bounded by the keys in use (idle keys are dropped).
 *
 * @see Effect's `PartitionedSemaphore` (one shared pool with waiters grouped per key for fairness, no cap per key)
 * @see KeyedMutex (one holder per key)
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import * as internal from "./internal/keyedLimiter.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { Stats as LimiterStats } from "./Limiter.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * A keyed limiter's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats extends LimiterStats {
  /** The global cap (`Infinity` without one). */
  readonly limit: number
  /** The cap per key. */
  readonly perKey: number
  /** Keys with a holder or a waiter now: the number of key entries in memory. */
  readonly keys: number
}

/**
 * A limiter with a cap per key and an optional global cap. The module function and the methods are the same
 * operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeyedLimiter<in K> extends Pipeable {
  readonly name: string
  /** Runs `effect` holding a permit of `key` (and a global one); see {@link make}. */
  readonly withPermit: <A, E, R>(key: K, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Runs `effect` only if `key` and the global cap both have a permit free now and nobody waits ahead. */
  readonly withPermitIfAvailable: <A, E, R>(
    key: K,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E, R>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** The most operations in flight at once for one key: an integer >= 1 (aiohttp's `limit_per_host`). */
  readonly perKey: number
  /** The most in flight over all keys: an integer >= 1 (aiohttp's `limit`). Default: no global cap. */
  readonly global?: number | undefined
}

/**
 * Makes a keyed limiter: at most `perKey` operations at once for each key, and at most `global` over all keys,
 * both held by every running call. Keys are compared like `Map` keys (strings and numbers by value, objects by
 * identity).
 *
 * **Fairness**: each key has its own FIFO queue for callers held by the key's cap, and a caller joins the one
 * global FIFO queue only once its key has room. Global permits go to that queue in order. So a caller held by its
 * own key never holds up another key ("FIFO over the global queue, skipping entries whose key is saturated"), at
 * O(1) per operation. A caller keeps its key slot while it waits in the global queue.
 *
 * **When to use**: per-host connection limits (aiohttp's `TCPConnector(limit=100, limit_per_host=10)`), per-tenant
 * or per-user caps in a server, one-at-a-time work per entity with some parallelism across entities.
 *
 * **Gotchas**:
 * - A key's entry lives only while the key has a holder or a waiter, so memory is bounded by the keys in use
 *   (`stats.keys`), not by every key ever seen.
 * - For an adaptive global cap, nest the two: `hosts.withPermit(host, adaptive.withPermit(call))` with no `global`
 *   here. The fairness rule is the same (a caller enters the adaptive queue only once its key has room), and the
 *   adaptive limiter measures the call alone.
 * - Fails with `InvalidOptionError` when `perKey` or `global` is not an integer >= 1.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedLimiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const hosts = yield* KeyedLimiter.make<string>({ perKey: 2, global: 10 })
 *   const fetch = (url: URL) => hosts.withPermit(url.host, Effect.succeed(url.pathname))
 *   yield* Effect.forEach(["https://a.test/1", "https://b.test/2"], (u) => fetch(new URL(u)), {
 *     concurrency: "unbounded"
 *   })
 *   return (yield* hosts.stats).keys // 0: idle keys are dropped
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <K>(options: Options) => Effect.Effect<KeyedLimiter<K>, InvalidOptionError> = internal.make

/**
 * Whether a value is a keyed limiter made by {@link make}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isKeyedLimiter: (u: unknown) => u is KeyedLimiter<unknown> = internal.isKeyedLimiter
