/**
 * One switch between a per-process limit and a fleet-wide one: a service holding "the limiter" that code reaches
 * through {@link withPermit}, provided either by {@link layerLocal} (core's in-process `Limiter`) or by
 * {@link layerRedis} (a {@link DistributedLimiter} shared by every process on the same Redis). The program does not
 * change; only the Layer does. Python has no standard answer: one swaps an `asyncio.Semaphore` for a Redis-backed
 * semaphore class by hand, with different call sites.
 *
 * @see core's `Limiter` and {@link DistributedLimiter}
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Limiter from "@async-ops/core/Limiter"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Redis from "effect/persistence/Redis"
import * as DistributedLimiter from "./DistributedLimiter.ts"
import type { RedisUnavailableError } from "./RedisConnection.ts"

/**
 * The shape both layers provide: core's `Limiter` interface, where `withPermit` may also fail with
 * {@link DistributedLimiter.LimiterError} (the in-process limiter never does). Any core `Limiter` is one.
 *
 * @category models
 * @since 0.1.0
 */
export interface SharedLimiter {
  readonly name: string
  readonly withPermit: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | DistributedLimiter.LimiterError, R>
  readonly withPermitIfAvailable: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | DistributedLimiter.LimiterError, R>
  readonly stats: Effect.Effect<Limiter.Stats>
}

/**
 * The service key of the shared limiter.
 *
 * **When to use**: `yield* SharedLimiter.Service` to reach the limiter itself (its `stats`); most code calls
 * {@link withPermit}. For two independent limits in one program, declare a second key of your own with the same
 * shape (`class DbLimiter extends Context.Service<DbLimiter, SharedLimiter.SharedLimiter>()("DbLimiter") {}`) and
 * build it with `Layer.effect(DbLimiter, …)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SharedLimiter } from "@async-ops/redis"
 *
 * const inFlight = Effect.flatMap(SharedLimiter.Service, (limiter) => limiter.stats)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Service extends Context.Service<Service, SharedLimiter>()("@async-ops/redis/SharedLimiter") {}

/**
 * Runs `effect` holding a permit of the provided shared limiter (FIFO, released however it ends).
 *
 * **When to use**: around each call to the shared resource, in code that must not care whether the limit is per
 * process or fleet-wide.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SharedLimiter } from "@async-ops/redis"
 *
 * const callPartner = (n: number) => SharedLimiter.withPermit(Effect.succeed(n))
 * const program = Effect.forEach([1, 2, 3], callPartner, { concurrency: "unbounded" }).pipe(
 *   Effect.provide(SharedLimiter.layerLocal({ limit: 2 }))
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withPermit = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | DistributedLimiter.LimiterError, R | Service> =>
  Effect.flatMap(Service, (limiter) => limiter.withPermit(effect))

/**
 * Runs `effect` only if a permit is free now and nobody waits; `Option.none()` otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SharedLimiter } from "@async-ops/redis"
 *
 * const maybeRefresh = SharedLimiter.withPermitIfAvailable(Effect.succeed("refreshed"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withPermitIfAvailable = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Option.Option<A>, E | DistributedLimiter.LimiterError, R | Service> =>
  Effect.flatMap(Service, (limiter) => limiter.withPermitIfAvailable(effect))

/**
 * The shared limiter as core's in-process `Limiter.make`: the limit counts this process only.
 *
 * **When to use**: one replica, tests, local development; or as the fallback when no Redis is configured.
 *
 * @example
 * ```ts
 * import { SharedLimiter } from "@async-ops/redis"
 *
 * const Local = SharedLimiter.layerLocal({ limit: 10 })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerLocal = (options: Limiter.Options): Layer.Layer<Service, InvalidOptionError> =>
  Layer.effect(Service, Limiter.make(options))

/**
 * The shared limiter as a {@link DistributedLimiter}: the limit counts every process that uses the same Redis and
 * `name`. Needs Effect's `Redis` service (`RedisConnection.layer`).
 *
 * **When to use**: several replicas in front of a resource whose cap is global.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { RedisConnection, SharedLimiter } from "@async-ops/redis"
 *
 * const Fleet = SharedLimiter.layerRedis({ name: "partner-api", limit: 10 }).pipe(
 *   Layer.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRedis = (
  options: DistributedLimiter.Options
): Layer.Layer<Service, InvalidOptionError | RedisUnavailableError, Redis.Redis> =>
  Layer.effect(Service, DistributedLimiter.make(options))
