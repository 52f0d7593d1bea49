/**
 * Fleet-wide HTTP limits: aiohttp's `TCPConnector(limit=…, limit_per_host=…)` counted over every replica that shares
 * a Redis, plus Effect's `RateLimiter` and `CircuitBreaker` on their Redis stores so that rate windows and circuit
 * state are shared too. `HttpResilience` code does not change: only the layers below it do.
 *
 * @see `HttpResilience.ConnectionAdmission` (@async-ops/http) and {@link DistributedLimiter.keyed}
 * @since 0.1.0
 */
import * as HttpResilience from "@async-ops/http/HttpResilience"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as RateLimiter from "effect/persistence/RateLimiter"
import type * as Redis from "effect/persistence/Redis"
import * as DistributedLimiter from "./DistributedLimiter.ts"
import { RedisUnavailableError } from "./RedisConnection.ts"

/**
 * Options of {@link layer}: the lease settings of the fleet-wide connection limiter (its caps come from each
 * client's `maxConnectionsPerHost` and `maxConnections`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends Omit<DistributedLimiter.BaseOptions, "name"> {
  /**
   * The Redis name prefix of the clients' limiters: a client named `n` shares its caps with every client named `n`
   * in the fleet. Default `"http"`.
   */
  readonly namespace?: string | undefined
}

/**
 * A layer that makes every `HttpResilience` client built above it take its per-host and total connection permits
 * from a {@link DistributedLimiter.keyed} in Redis (the per-host cap and the total cap checked in one atomic step).
 *
 * **When to use**: several replicas call the same partner API and its connection limits are for all of them
 * together. Put it below the client's layer (`HttpResilience.layer(…).pipe(Layer.provide(FleetHttp.layer()))`).
 *
 * **Gotchas**:
 * - A lost lease or an unreachable Redis fails the request with `ConnectionLostError` (`code` `"LeaseLostError"` or
 *   `"RedisUnavailableError"`, `cause` the original), retried for idempotent requests like any lost connection.
 * - Clients share caps by `name` (the client option): give each partner's client its own name.
 * - `layerUndici` still keeps its own per-process socket pool; the fleet caps come on top of it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 * import { FleetHttp, RedisConnection } from "@async-ops/redis"
 *
 * const Client = HttpResilience.layerUndici({ name: "partner", maxConnectionsPerHost: 10 }).pipe(
 *   Layer.provide(FleetHttp.layer({ ttl: "10 seconds" })),
 *   Layer.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<never, never, Redis.Redis> =>
  Layer.effect(
    HttpResilience.ConnectionAdmission,
    Effect.map(Effect.context<Redis.Redis>(), (context) => (client: HttpResilience.ConnectionLimiterOptions) =>
      DistributedLimiter.keyed({
        ...options,
        name: `${options?.namespace ?? "http"}:${client.name}`,
        perKey: Number.isFinite(client.perHost) ? client.perHost : 2 ** 31,
        ...(Number.isFinite(client.total) ? { global: client.total } : {})
      }).pipe(
        Effect.provideContext(context),
        // Redis answered when its connection layer was built; not answering now, while a client is built, is a defect
        Effect.catchTag("RedisUnavailableError", Effect.die),
        Effect.map((limiter): HttpResilience.ConnectionLimiter => ({
          withPermit: (host, effect) =>
            Effect.catch(limiter.withPermit(host, effect), (e) => lost(host, e)),
          withPermitIfAvailable: (host, effect) =>
            Effect.catch(limiter.withPermitIfAvailable(host, effect), (e) => lost(host, e)),
          stats: limiter.stats
        }))
      ))
  )

const lost = <E>(
  host: string,
  e: E | DistributedLimiter.LimiterError
): Effect.Effect<never, E | HttpResilience.ConnectionLimiterError> =>
  Effect.fail(
    e instanceof DistributedLimiter.LeaseLostError || e instanceof RedisUnavailableError
      ? new HttpResilience.ConnectionLimiterError({ host, reason: e._tag, cause: e })
      : e
  )

/**
 * The Redis stores of Effect's `RateLimiter` and `CircuitBreaker` (`layerStoreRedis` of each, on the `Redis` in
 * context): an `HttpResilience` client built above them keeps its `rateLimit` windows and its circuits in Redis, so
 * the fleet shares one window per host and one circuit per host.
 *
 * **When to use**: with {@link layer}, when the partner's rate limit or its failures are per caller account rather
 * than per replica.
 *
 * **Gotchas**: the stores' keys are the host (`host:port`): two clients with different `rateLimit` options against
 * one host share a window; give the stores a `prefix` per client set if that matters.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 * import { FleetHttp, RedisConnection } from "@async-ops/redis"
 *
 * const Client = HttpResilience.layerUndici({ rateLimit: { limit: 100, window: "1 second" } }).pipe(
 *   Layer.provide(Layer.merge(FleetHttp.layer(), FleetHttp.layerStores({ prefix: "partner" }))),
 *   Layer.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerStores = (
  options?: { readonly prefix?: string | undefined }
): Layer.Layer<RateLimiter.RateLimiterStore | CircuitBreaker.CircuitBreakerStore, never, Redis.Redis> =>
  Layer.merge(
    RateLimiter.layerStoreRedis({ prefix: `${options?.prefix ?? "async-ops:http"}:ratelimit:` }),
    CircuitBreaker.layerStoreRedis({ prefix: `${options?.prefix ?? "async-ops:http"}:breaker:` })
  )
