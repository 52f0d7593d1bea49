/**
 * A concurrency limit shared by every process that uses the same Redis and `name`: core's `Limiter` interface
 * (`withPermit`, `withPermitIfAvailable`, `stats`) with each permit held as a lease in Redis. It is what a
 * `redis-semaphore` / `redis.lock.Lock`-based semaphore is in Node and Python, with core's semantics kept: FIFO
 * admission (across the fleet), a keyed form with a global cap checked in the same atomic step, and no permit
 * leaked however the caller ends.
 *
 * **How it works.** Admission, release and refresh are Lua scripts, so each is one atomic step in Redis and one round
 * trip: an uncontended `withPermit` costs two (admit, release). A lease expires `ttl` after it was granted or last
 * refreshed, by Redis' clock (`TIME` inside the script); while the effect runs, a fiber refreshes it every
 * `refreshInterval`. Waiters queue in Redis in arrival order; a release publishes the ids of the waiters that may
 * now be admitted, and every waiter also re-checks every `recheckInterval`, so a lost message delays it by at most
 * that, never strands it. A waiter that stops re-checking (its process died) leaves the queue after `ttl`.
 *
 * **The guarantee.** At most `limit` (or `perKey` per key, `global` overall) leases are valid in Redis at any time.
 * A holder whose lease cannot be confirmed stops: when a refresh answers that the lease is gone, or when no refresh
 * has succeeded by `ttl - margin` after the last confirmed one (with `margin = (ttl - refreshInterval) / 2`), the
 * effect is interrupted and `withPermit` fails with {@link LeaseLostError}. So a holder still running is one whose
 * lease is valid, up to how long its interruption takes (keep finalizers shorter than `margin`).
 *
 * **Clock assumptions.** Expiry is measured by Redis' clock only; the holder measures `ttl - margin` on its own
 * monotonic clock from the moment it *sent* the script that granted or refreshed the lease, which is no later than
 * the moment Redis stamped it. The guarantee holds when, over one `ttl`, the two clocks' rates differ by less than
 * `margin / ttl` (default 1/3: far beyond real drift) and Redis' clock does not jump forward (a wall clock stepped
 * by NTP on the Redis host can expire leases early). A Redis failover to a replica that had not yet received the
 * latest leases can over-admit until those leases expire: like every Redis lock, this is for efficiency and load
 * protection, not for correctness that must never be violated (use fencing tokens or a consensus store for that).
 *
 * @see core's `Limiter` (the same interface in one process) and `SharedLimiter` (switching between them by Layer)
 * @see https://redis.io/docs/latest/develop/use/patterns/distributed-locks/
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Redis from "effect/persistence/Redis"
import type { Pipeable } from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/distributedLimiter.ts"
import type { RedisUnavailableError } from "./RedisConnection.ts"

/**
 * A holder's lease could not be confirmed in time, so its work was interrupted before the lease could run out. It is
 * core's `Election.LeaseLostError` (one class, one tag, re-exported here), with `limiter` set to the limiter's name:
 * `reason` is `"expired"` when Redis answered that the lease is gone (it expired, or Redis restarted empty), and
 * `"expiring"` when no refresh succeeded by `ttl - margin` after the last confirmed one (Redis unreachable or paused).
 *
 * **When to use**: `Effect.catchTag("LeaseLostError", …)` to retry the work (it was interrupted, possibly half
 * done: make it idempotent) or to report it; the same handler also catches an election's lost lease.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedLimiter } from "@async-ops/redis"
 *
 * const retryOnLostLease = <A, E, R>(self: Effect.Effect<A, E | DistributedLimiter.LeaseLostError, R>) =>
 *   self.pipe(Effect.retry({ while: DistributedLimiter.isLeaseLostError, times: 3 }))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
import { isLeaseLostError, LeaseLostError } from "@async-ops/core/Election"
export { isLeaseLostError, LeaseLostError }

/**
 * What the distributed limiter's operations can fail with besides the effect's own errors.
 *
 * @category errors
 * @since 0.1.0
 */
export type LimiterError = LeaseLostError | RedisUnavailableError

/**
 * Options every distributed limiter takes. Durations are millis, a `Duration`, or e.g. `"10 seconds"`.
 *
 * @category models
 * @since 0.1.0
 */
export interface BaseOptions {
  /**
   * The limit's name: processes that use the same Redis, `prefix` and `name` share one limit. A non-empty string
   * without `{` or `}` (it becomes the Redis hash tag).
   */
  readonly name: string
  /** How long a lease lives without a refresh: >= 10 ms. Default 10 seconds. A dead holder's permit returns after it. */
  readonly ttl?: Duration.Input | undefined
  /** How often a holder refreshes its lease: shorter than `ttl`. Default `ttl / 3`. */
  readonly refreshInterval?: Duration.Input | undefined
  /** How long one Redis call may take before it counts as a failure: >= 1 ms. Default 2 seconds. */
  readonly commandTimeout?: Duration.Input | undefined
  /** How often a waiter re-checks without a wake-up message: shorter than `ttl`. Default min(1 s, refreshInterval). */
  readonly recheckInterval?: Duration.Input | undefined
  /** The Redis key prefix (without `{` or `}`). Default `"async-ops:limiter"`. */
  readonly prefix?: string | undefined
}

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends BaseOptions {
  /** The most leases out at once over the whole fleet: an integer >= 1. */
  readonly limit: number
}

/**
 * Options of {@link keyed}.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeyedOptions extends BaseOptions {
  /** The most leases out at once for one key, over the fleet: an integer >= 1. */
  readonly perKey: number
  /** The most leases out at once over all keys, over the fleet: an integer >= 1. Default: no global cap. */
  readonly global?: number | undefined
}

/**
 * A distributed limiter's statistics: core's `Limiter.Stats` (with `inFlight` and `waiting` over the whole fleet when
 * Redis answered, `fleet: true`; this process's own otherwise) plus this process's share.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  readonly limit: number
  /** Valid leases in the fleet (or held by this process when `fleet` is false). */
  readonly inFlight: number
  /** Waiters in the fleet (or in this process when `fleet` is false). */
  readonly waiting: number
  /** Admissions granted to this process. */
  readonly acquired: number
  /** Of which had to wait. */
  readonly waited: number
  /** `withPermitIfAvailable` calls of this process turned away. */
  readonly rejected: number
  /** Holders of this process interrupted with {@link LeaseLostError}. */
  readonly leasesLost: number
  /** This process's holders and waiters now. */
  readonly local: { readonly inFlight: number; readonly waiting: number }
  /** Whether `inFlight` and `waiting` come from Redis (the whole fleet). */
  readonly fleet: boolean
}

/**
 * A keyed distributed limiter's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeyedStats extends Stats {
  /** The global cap (`Infinity` without one). */
  readonly limit: number
  readonly perKey: number
  /** Keys with a holder or a waiter in the fleet now. */
  readonly keys: number
  /** Holders and waiters per key in the fleet now. */
  readonly byKey: Readonly<Record<string, { readonly holders: number; readonly waiters: number }>>
}

/**
 * A limit shared by a fleet. A core `Limiter` has the same shape with no extra errors, so code written against
 * this interface takes either (see `SharedLimiter`).
 *
 * @category models
 * @since 0.1.0
 */
export interface DistributedLimiter extends Pipeable {
  readonly name: string
  /** Runs `effect` holding a lease; see {@link make}. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LimiterError, R>
  /** Runs `effect` only if a lease is free now and nobody waits; `Option.none()` otherwise. */
  readonly withPermitIfAvailable: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | LimiterError, R>
  /** The statistics now (never fails: local numbers when Redis does not answer). */
  readonly stats: Effect.Effect<Stats>
}

/**
 * A keyed limit shared by a fleet: a cap per key plus an optional global cap.
 *
 * @category models
 * @since 0.1.0
 */
export interface KeyedDistributedLimiter extends Pipeable {
  readonly name: string
  /** Runs `effect` holding a lease of `key` (which also counts against the global cap). */
  readonly withPermit: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LimiterError, R>
  /** Runs `effect` only if `key` and the global cap have a lease free now and nobody waits ahead. */
  readonly withPermitIfAvailable: <A, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | LimiterError, R>
  /** The statistics now, per key over the fleet when Redis answers. */
  readonly stats: Effect.Effect<KeyedStats>
}

/**
 * Makes a limiter of at most `limit` operations at once over every process that shares the Redis and the `name`.
 * It lives as long as the current `Scope` (its pub/sub subscription and background releases end with it).
 *
 * **When to use**: a partner API, a database or a license that allows N concurrent calls in total while your
 * service runs on several replicas: a per-process `Limiter.make({ limit: 10 })` on 20 pods is 200.
 *
 * **Gotchas**:
 * - `withPermit` adds two typed failures: {@link LeaseLostError} (the work was interrupted because its lease could
 *   not be confirmed, see the module's guarantee) and `RedisUnavailableError` (Redis did not answer an admission
 *   within `commandTimeout`: the caller is not left waiting past it). A failed release is only logged (debug): the
 *   lease expires after `ttl`.
 * - A process killed while holding keeps its permits for up to `ttl` (nobody can tell a dead holder from a slow
 *   one sooner): pick `ttl` as the longest you accept losing capacity, `refreshInterval` well below it.
 * - Not re-entrant, like core's `Limiter`.
 * - Fails with `InvalidOptionError` for a bad `name`, `limit` < 1, a `refreshInterval` not shorter than `ttl`, …, and
 *   with `RedisUnavailableError` when Redis does not answer at start.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedLimiter, RedisConnection } from "@async-ops/redis"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* DistributedLimiter.make({ name: "partner-api", limit: 10, ttl: "10 seconds" })
 *   const call = (n: number) => limiter.withPermit(Effect.succeed(n))
 *   const results = yield* Effect.forEach([1, 2, 3], call, { concurrency: "unbounded" })
 *   return [results, (yield* limiter.stats).acquired] // [[1, 2, 3], 3]
 * }).pipe(Effect.scoped, Effect.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (
  options: Options
) => Effect.Effect<DistributedLimiter, InvalidOptionError | RedisUnavailableError, Redis.Redis | Scope.Scope> =
  internal.make

/**
 * Makes a keyed limiter shared by the fleet: at most `perKey` operations at once per key and at most `global` over
 * all keys, both checked in one atomic step. Per key, waiters are admitted in arrival order; a waiter whose key has
 * room joins the global queue (in its arrival order) and keeps its key slot while it waits there, as core's
 * `Limiter.keyed` does, so a saturated key never holds up another.
 *
 * **When to use**: aiohttp's `TCPConnector(limit=100, limit_per_host=10)` across replicas (HttpResilience does this
 * through `FleetHttp`), per-tenant caps in a multi-replica server.
 *
 * **Gotchas**: keys are strings (they go into Redis key names); a key's Redis entries disappear when it has no holder
 * and no waiter. The same gotchas as {@link make} apply.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DistributedLimiter, RedisConnection } from "@async-ops/redis"
 *
 * const program = Effect.gen(function*() {
 *   const hosts = yield* DistributedLimiter.keyed({ name: "hosts", perKey: 2, global: 10 })
 *   return yield* hosts.withPermit("api.example.com", Effect.succeed("fetched"))
 * }).pipe(Effect.scoped, Effect.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const keyed: (
  options: KeyedOptions
) => Effect.Effect<KeyedDistributedLimiter, InvalidOptionError | RedisUnavailableError, Redis.Redis | Scope.Scope> =
  internal.keyed
