/**
 * One Redis connection for the whole process, checked at start: Effect's own `Redis` service (`send`, `eval`,
 * `subscribe`, `reserve`) over node-redis through `@effect/platform-node/NodeRedis`, with the two failures a
 * deployment meets first turned into typed errors: a malformed URL, and a Redis that does not answer when the layer
 * starts (bounded by `connectTimeout`, never a hang). It is what redis-py's `Redis.from_url(...)` followed by a
 * `ping()` is in Python.
 *
 * Every `@async-ops/redis` module, and Effect's `RateLimiter`, `CircuitBreaker` and `PersistedQueue` Redis stores,
 * take the `Redis` service this layer provides, so one connection serves them all.
 *
 * @see `effect/persistence/Redis` and `@effect/platform-node/NodeRedis`, which this configures
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Layer from "effect/Layer"
import type * as Redis from "effect/persistence/Redis"
import * as internal from "./internal/redisConnection.ts"

/**
 * Options of {@link layer}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…` for TLS. */
  readonly url: string
  /**
   * How long the first connection (and its `PING`) may take before the layer fails with
   * {@link RedisUnavailableError}: a duration > 0. Default 5 seconds.
   */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * The most connections `Redis.reserve` keeps for blocking commands (Effect's pool): an integer >= 1. Default 10.
   */
  readonly maxReservedConnections?: number | undefined
}

/**
 * Redis did not answer: the connection could not be opened or was lost, or a command did not complete within its
 * timeout (a paused or partitioned server).
 *
 * **When to use**: `Effect.catchTag("RedisUnavailableError", …)` to fall back (serve from a local limit, shed the
 * request) or to retry with backoff.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisConnection } from "@async-ops/redis"
 *
 * const fallback = <A, E, R>(self: Effect.Effect<A, E | RedisConnection.RedisUnavailableError, R>) =>
 *   self.pipe(Effect.catchTag("RedisUnavailableError", (e) => Effect.die(e)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RedisUnavailableError extends Data.TaggedError("RedisUnavailableError")<{
  /** What was being done, e.g. `"connect"`, `"acquire"`, `"refresh"`. */
  readonly operation: string
  /** The underlying failure: a `RedisError`, a `TimeoutError`, … */
  readonly cause: unknown
}> {
  override get message(): string {
    return `Redis unavailable during ${this.operation}: ${describe(this.cause)}`
  }
}

/** The first non-empty message down a chain of causes (Effect's `RedisError` has none of its own). */
const describe = (cause: unknown, depth = 0): string => {
  if (cause instanceof Error) {
    if (cause.message !== "" || depth > 4) return cause.message
    return describe((cause as { cause?: unknown }).cause, depth + 1)
  }
  try {
    return String(cause)
  } catch {
    return Object.prototype.toString.call(cause)
  }
}

/**
 * A layer with Effect's `Redis` service (and `NodeRedis`, the node-redis client) connected to `url`, checked with a
 * `PING` before the layer is built, and closed with the layer's scope.
 *
 * **When to use**: once per process, under every `@async-ops/redis` layer and Effect's Redis stores
 * (`RateLimiter.layerStoreRedis`, `CircuitBreaker.layerStoreRedis`, `PersistedQueue.layerStoreRedis`).
 *
 * **Gotchas**:
 * - Fails with `InvalidOptionError` for a URL that does not parse or is not `redis:`/`rediss:`, and with
 *   {@link RedisUnavailableError} when Redis does not answer within `connectTimeout`.
 * - Commands sent while the connection is down fail at once instead of queueing until it returns (node-redis'
 *   `disableOfflineQueue`): a lease script replayed minutes later would grant a permit nobody waits for. The client
 *   still reconnects by itself once it has been ready.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Redis from "effect/persistence/Redis"
 * import { RedisConnection } from "@async-ops/redis"
 *
 * const program = Effect.gen(function*() {
 *   const redis = yield* Redis.Redis
 *   return yield* redis.send<string>("PING") // "PONG"
 * }).pipe(Effect.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: (
  options: Options
) => Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, InvalidOptionError | RedisUnavailableError> = internal.layer
