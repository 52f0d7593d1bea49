/**
 * Leader election on Redis leases: `@async-ops/core`'s `Election` across a fleet, so a `Periodic` or `Supervisor`
 * task marked `singleton` runs in exactly one replica and moves to another within the lease TTL when that one
 * dies. It is what redis-py's `Lock` with `extend()` in a background thread, or Kubernetes' Lease-based leader
 * election, gives Python and Go services, with the holder's work interrupted before its lease can run out.
 *
 * A lease is one Redis key (`prefix + key`) holding a random token, set with `SET NX PX ttl` by an atomic script,
 * refreshed by a script that extends it only while it still holds the holder's token, and deleted the same way on
 * release. Standbys try again every `retryInterval`.
 *
 * @see `Election` in `@async-ops/core` (the interface and the in-process default this replaces)
 * @since 0.1.0
 */
import type * as Election from "@async-ops/core/Election"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Redis from "effect/persistence/Redis"
import * as internal from "./internal/redisElection.ts"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The prefix of the lease keys in Redis. Default `"async-ops:election:"`. */
  readonly prefix?: string | undefined
  /**
   * How long a lease lives without a refresh (Redis expires it then): a duration >= 10 ms. It bounds the
   * takeover: a dead holder's lease is gone at most `ttl` after its last refresh. Default 10 seconds.
   */
  readonly ttl?: Duration.Input | undefined
  /** How often the holder refreshes its lease: a duration >= 1 ms, shorter than `ttl`. Default `ttl / 3`. */
  readonly refreshInterval?: Duration.Input | undefined
  /**
   * How often a process that does not lead tries to take the lease (and how soon a failed refresh is tried
   * again): a duration >= 1 ms. Default `refreshInterval`.
   */
  readonly retryInterval?: Duration.Input | undefined
}

/**
 * An `Election` on Redis leases.
 *
 * **When to use**: through {@link layer}, under a program whose `Periodic`/`Supervisor` tasks have a `singleton`
 * key, or around a job with `Election.withLeadership`.
 *
 * **Guarantee** (and its clock assumptions): a holder's job runs only while its lease is valid. After each
 * successful refresh (or the acquisition) sent at local time `s`, the holder counts its lease valid until
 * `s + ttl` on its own clock; Redis expires it at `ttl` after it *executed* the command, which is later than `s`.
 * The holder interrupts its job, and waits for it to end, at `s + ttl - guard` at the latest, where
 * `guard = min(refreshInterval, (ttl - refreshInterval) / 2)`, if no refresh succeeded by then, and at once when a
 * refresh finds another token. So at most one job with a valid lease runs per key, provided the holder's clock
 * does not run slower than Redis' by more than `guard` over one `ttl`, the job's finalizers take less than
 * `guard`, and the process is not frozen (a SIGSTOP, a long GC pause) for longer than `guard`: a frozen process
 * cannot stop its own work. Takeover: a dead holder's lease expires at most `ttl` after its last refresh, and a
 * standby takes it within `retryInterval` after that.
 *
 * **Gotchas**:
 * - Redis unreachable: standbys keep trying (each attempt bounded), the holder stops its job when its lease can no
 *   longer be trusted (`LeaseLostError`, caught and turned into a new campaign by `Election.runSingleton` and the
 *   `singleton` options).
 * - One Redis: with replication, a failover can lose a lease that was just written (Redis' own caveat for locks).
 * - Fails with `InvalidOptionError` for a `ttl` below 10 ms, a `refreshInterval` not shorter than `ttl`, or a
 *   non-positive `retryInterval`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisElection } from "@async-ops/redis"
 *
 * const program = Effect.gen(function*() {
 *   const election = yield* RedisElection.make({ ttl: "10 seconds" })
 *   yield* election.withLeadership("nightly-report", Effect.log("only one replica writes it"))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (
  options?: Options
) => Effect.Effect<Election.Election, InvalidOptionError, Redis.Redis> = internal.make

/**
 * Provides `Election.Election` (from `@async-ops/core`) on Redis leases: the one Layer that turns every
 * `singleton` Periodic and Supervisor task, and every `Election.withLeadership`, from one-per-process into
 * one-per-fleet.
 *
 * **When to use**: in each replica, over `RedisConnection.layer`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Periodic } from "@async-ops/service"
 * import { RedisConnection, RedisElection } from "@async-ops/redis"
 *
 * const Fleet = RedisElection.layer({ ttl: "10 seconds" }).pipe(
 *   Layer.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * const program = Periodic.run(Effect.log("send the digest"), { every: "1 hour", singleton: "digest" }).pipe(
 *   Effect.provide(Fleet)
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: (options?: Options) => Layer.Layer<never, InvalidOptionError, Redis.Redis> = internal.layer
