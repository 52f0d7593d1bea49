/**
 * A resilient HTTP client on Effect's `HttpClient`: aiohttp's `ClientSession(connector=TCPConnector(limit=100,
 * limit_per_host=10), timeout=ClientTimeout(...))` plus what aiohttp leaves to you (retries with `Retry-After`,
 * circuit breaker, rate limit, deadline propagation, a body size cap) and one typed error union.
 *
 * {@link layer} decorates the `HttpClient` in context (any transport); {@link layerUndici} owns an undici `Agent`
 * whose pool matches the connection caps and sends requests to it directly, skipping the `HttpClient` layer's
 * per-request costs (the same behaviour, about half the CPU per local request). Every call:
 *
 * 1. waits for a connection slot (a keyed `Limiter` from core: `maxConnectionsPerHost` per host, `maxConnections`
 *    overall), at most `poolWaitTimeout`: a full pool fails with `PoolWaitTimeoutError`, never with a request
 *    timeout (the confusion of aio-libs/aiohttp#5415);
 * 2. passes the per-host rate limit and circuit breaker (Effect's `RateLimiter` / `CircuitBreaker`), if configured;
 * 3. sends the request with a `user-agent` and the remaining `Deadline` budget in `x-deadline-ms`, under the
 *    `headersTimeout` (until the response head) and `requestTimeout` (the whole exchange, body included);
 * 4. reads the body, at most `maxResponseBytes` (more fails with `BodyTooLargeError` and the socket is
 *    released), and turns a status >= 400 into `StatusError`;
 * 5. retries idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, or any request with an `Idempotency-Key` header)
 *    on connection errors, timeouts and 408/429/5xx, with core's `Retry` policy: exponential backoff with jitter,
 *    at least the server's `Retry-After` (seconds or HTTP-date), never past the `Deadline`, within an optional
 *    retry budget.
 *
 * Responses are read whole (bounded by `maxResponseBytes`), so the connection is back in the pool when the call
 * returns; for streaming downloads use the transport directly. The errors are in `HttpResilienceError`.
 *
 * @see https://docs.aiohttp.org/en/stable/client_advanced.html#limiting-connection-pool-size
 * @see https://github.com/aio-libs/aiohttp/issues/5415
 * @since 0.1.0
 */
import type { Retry } from "@async-ops/core"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { MetricsOptions } from "@async-ops/core/Metrics"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as admission from "./internal/admission.ts"
import { parseRetryAfter as parseRetryAfterInternal } from "./internal/classify.ts"
import * as internal from "./internal/client.ts"
import * as ClientOptions from "./internal/clientOptions.ts"
import type * as ResponseInternal from "./internal/response.ts"
import * as UndiciExchange from "./internal/undiciExchange.ts"

// ---------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------

/**
 * A response read whole: `status`, `headers`, `body` bytes, `text` (UTF-8, decoded once), `json` (an Effect failing
 * with `HttpResilienceError.BodyDecodeError`), and `attempts` (1 plus the retries it took).
 *
 * @category models
 * @since 0.1.0
 */
export type Response = ResponseInternal.Response

/**
 * Retry options. `maxAttempts` (default 3, first attempt included; 1 turns retries off), `base` (first backoff,
 * default 100 ms), `maxDelay` (backoff cap, default 30 s; a `Retry-After` may exceed it), `jitter` (`"full"` by
 * default), `statuses` (default 408, 429, 500, 502, 503, 504), `methods` (default GET, HEAD, OPTIONS, PUT, DELETE;
 * a request with an `Idempotency-Key` header is retried whatever its method), `budget` (a core `Retry.RetryBudget`
 * shared with other callers).
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryOptions {
  readonly maxAttempts?: number | undefined
  readonly base?: Duration.Input | undefined
  readonly maxDelay?: Duration.Input | undefined
  readonly jitter?: "full" | "proportional" | "none" | undefined
  readonly statuses?: ReadonlyArray<number> | undefined
  readonly methods?: ReadonlyArray<string> | undefined
  readonly budget?: Retry.RetryBudget | undefined
}

/**
 * A circuit breaker per host (Effect's `CircuitBreaker`, memory store): it opens after `failures` consecutive
 * failed attempts (an integer >= 1, default 5; connection errors, timeouts and 5xx count, 4xx and pool waits do
 * not), fails calls with `CircuitOpenError` for `openDuration` (default 30 s), then lets one probe through.
 *
 * @category models
 * @since 0.1.0
 */
export interface CircuitBreakerOptions {
  readonly failures?: number | undefined
  readonly openDuration?: Duration.Input | undefined
}

/**
 * A rate limit per host (Effect's `RateLimiter`, fixed window, memory store): at most `limit` attempts (an integer
 * >= 1) per `window` (a finite duration > 0). Past it, `onExceeded: "delay"` (default) waits for the next window;
 * `"fail"` fails with `RateLimitedError`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RateLimitOptions {
  readonly limit: number
  readonly window: Duration.Input
  readonly onExceeded?: "delay" | "fail" | undefined
}

/**
 * Options of {@link make} and the layers. Every field is optional; invalid values fail with `InvalidOptionError`
 * naming the option. Durations accept `Infinity` for "no limit".
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** The client's name in `stats` and metrics. Default `"HttpClient"`. */
  readonly name?: string | undefined
  /** Record the connection limiter's metrics (primitive `"KeyedLimiter"`, this `name`). Default `false`. */
  readonly metrics?: boolean | undefined
  /** Connections (exchanges) in flight over all hosts: an integer >= 1 or `Infinity`. Default 100 (aiohttp's). */
  readonly maxConnections?: number | undefined
  /** Connections in flight per host (`host:port`): an integer >= 1 or `Infinity`. Default `maxConnections`. */
  readonly maxConnectionsPerHost?: number | undefined
  /** The longest wait for a connection slot (> 0). Default 30 s. */
  readonly poolWaitTimeout?: Duration.Input | undefined
  /** The longest TCP/TLS connect, {@link layerUndici} only (> 0). Default 10 s. */
  readonly connectTimeout?: Duration.Input | undefined
  /** From sending the request to the response head (> 0). Default 30 s. */
  readonly headersTimeout?: Duration.Input | undefined
  /** The whole exchange of one attempt, body included (> 0). Default 60 s. */
  readonly requestTimeout?: Duration.Input | undefined
  /** Retry policy, or `false` for none. Default: see {@link RetryOptions}. */
  readonly retry?: RetryOptions | false | undefined
  /** A circuit breaker per host. Default: none. */
  readonly circuitBreaker?: CircuitBreakerOptions | undefined
  /** A rate limit per host. Default: none. */
  readonly rateLimit?: RateLimitOptions | undefined
  /** The largest body read (bytes, an integer >= 0 or `Infinity`). Default 10 MiB. */
  readonly maxResponseBytes?: number | undefined
  /**
   * The header that carries the remaining `Deadline` budget in whole milliseconds (sent only inside a deadline), or
   * `false`. Default `"x-deadline-ms"`.
   */
  readonly deadlineHeader?: string | false | undefined
  /** The `user-agent` sent when the request has none, or `false`. Default `"async-ops-http/0.1"`. */
  readonly userAgent?: string | false | undefined
  /**
   * Keep Effect's per-request client span (and trace-context propagation headers). Default `false`: the span costs
   * about a quarter of a local request's time; set `true` when you export traces ({@link layerUndici} then sends
   * requests through Effect's `HttpClient`, which makes the span, instead of its direct exchange).
   */
  readonly tracing?: boolean | undefined
}

/**
 * The client's counters: calls made and in flight, attempts and retries, outcomes, its connection limiter now, and
 * `breakers`: the circuit of each host (the URL's `host`: `name`, or `name:port` for a non-default port) whose
 * breaker has seen a failed call, read when `stats` runs (empty without `circuitBreaker`; a host that never failed
 * is closed and not listed).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * const tripped = Effect.map(
 *   Effect.flatMap(HttpResilience.ResilientClient, (client) => client.stats),
 *   (stats) => Object.keys(stats.breakers).filter((host) => stats.breakers[host] !== "closed")
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Stats = internal.Stats

/**
 * The state of a host's circuit in {@link Stats}: `"closed"` (calls run), `"open"` (calls fail fast with
 * `CircuitOpenError`) or `"half-open"` (the open time is over: the next call is the probe, or the probe is
 * running).
 *
 * @category models
 * @since 0.1.0
 */
export type BreakerState = internal.BreakerState

/**
 * The resilient client: `execute` a request, or `get`/`head`/`post`/`put`/`patch`/`del` a URL (with Effect's
 * `HttpClientRequest` options: headers, urlParams, body), and `stats`. Every call fails with
 * `HttpResilienceError.HttpError`.
 *
 * @category models
 * @since 0.1.0
 */
export type ResilientClient = internal.ResilientClient

/**
 * The service key of the resilient client provided by {@link layer} and {@link layerUndici} (Effect's convention:
 * the key and its shape share the concept's name, as `HttpClient.HttpClient`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* HttpResilience.ResilientClient
 *   const res = yield* client.get("http://127.0.0.1:8080/health")
 *   return res.text
 * }).pipe(Effect.provide(HttpResilience.layerUndici({ maxConnectionsPerHost: 10 })))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const ResilientClient: Context.Service<ResilientClient, ResilientClient> = internal.ResilientClient

// ---------------------------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------------------------

/**
 * Makes a resilient client over the `HttpClient` in context, for the lifetime of the current `Scope` (the breaker
 * and rate limiter stores live in it).
 *
 * **When to use**: when you hold the transport yourself or want several clients with different policies over one
 * transport. Otherwise provide {@link layerUndici}.
 *
 * **Gotchas**:
 * - The connection caps bound exchanges this client runs; the transport's own pool should allow at least as many
 *   connections per host ({@link layerUndici} sets undici's `connections` to `maxConnectionsPerHost`).
 * - A `Deadline` around the call bounds everything (pool wait, attempts, backoff): when it expires the caller sees
 *   core's `DeadlineExceededError`, and retries stop early when the next backoff would not fit.
 * - Responses are buffered whole; `maxResponseBytes` bounds memory per call.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const client = yield* HttpResilience.make({ maxConnectionsPerHost: 4, retry: { maxAttempts: 5 } })
 *   return (yield* client.get("http://127.0.0.1:8080/items")).status
 * })).pipe(Effect.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (
  options?: Options
) => Effect.Effect<ResilientClient, InvalidOptionError, HttpClient.HttpClient | Scope.Scope> = internal.make

/**
 * A layer of {@link ResilientClient} over the `HttpClient` in context.
 *
 * **When to use**: with a transport layer of your choice (`FetchHttpClient.layer`, `NodeHttpClient.layerNodeHttp`).
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "effect/http"
 * import { Layer } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * const Live = HttpResilience.layer({ maxConnections: 20 }).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: Options
): Layer.Layer<ResilientClient, InvalidOptionError, HttpClient.HttpClient> =>
  Layer.effect(ResilientClient, internal.make(options))

/**
 * A layer of {@link ResilientClient} on its own undici `Agent` (Effect's `NodeHttpClient.makeDispatcherOptions`),
 * with `connections` per origin set to `maxConnectionsPerHost` and the connect timeout to `connectTimeout`.
 * Releasing the layer destroys the agent and closes its sockets. Requests go to the agent directly (one
 * `dispatch` per attempt, the body collected under `maxResponseBytes`, timeouts on the client's shared timers,
 * interruption aborts the request) rather than through Effect's `HttpClient`: the same errors, retries, limits and
 * `Response`, for about half the CPU per request on a local server (bench W4).
 *
 * **When to use**: the default on Node: the fastest transport, and the only one with a connect-phase timeout.
 *
 * **Gotchas**:
 * - With `tracing: true`, or for a `FormData` or stream body, or an `upgrade` request, the request goes through
 *   Effect's `HttpClient` on the same agent (so the client span and the `traceparent`/`b3` headers are as with
 *   {@link layer}); otherwise no span is made and no trace header is sent, as with {@link layer} and tracing off.
 * - The direct exchange reads none of Effect's `HttpClient` context references (`NodeHttpClient.UndiciOptions`,
 *   `HttpClient.TracerDisabledWhen`, ...); to use them, provide {@link layer} over `NodeHttpClient.layerUndici`.
 * - A body whose `content-length` is over `maxResponseBytes` is refused when the head arrives (the `HttpClient`
 *   path reads one chunk first); the error, and the socket closed, are the same.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * const Live = HttpResilience.layerUndici({ maxConnections: 100, maxConnectionsPerHost: 10, requestTimeout: "5 seconds" })
 * const program = Effect.flatMap(HttpResilience.ResilientClient, (c) => c.get("http://127.0.0.1:8080/")).pipe(
 *   Effect.provide(Live)
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerUndici = (options?: Options): Layer.Layer<ResilientClient, InvalidOptionError> =>
  Layer.effect(
    ResilientClient,
    Effect.gen(function*() {
      const resolved = yield* ClientOptions.validate(options)
      const dispatcher = yield* NodeHttpClient.makeDispatcherOptions(ClientOptions.undiciOptions(resolved))
      const transport = yield* Effect.provideService(NodeHttpClient.makeUndici, NodeHttpClient.Dispatcher, dispatcher)
      return yield* internal.build(resolved, transport, UndiciExchange.make(dispatcher))
    })
  )

/**
 * Parses a `Retry-After` header value: whole seconds (`"120"`) or an HTTP-date, relative to `now` (epoch ms).
 * `undefined` when absent or malformed.
 *
 * @example
 * ```ts
 * import { HttpResilience } from "@async-ops/http"
 *
 * HttpResilience.parseRetryAfter("2", 0) // => Duration.seconds(2)
 * HttpResilience.parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 1000) // => Duration.seconds(4)
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const parseRetryAfter: (value: string | undefined, now: number) => Duration.Duration | undefined =
  parseRetryAfterInternal

/**
 * A connection permit that could not be held: the admission (a fleet-wide one, from `@async-ops/redis`'s
 * `FleetHttp.layer`) lost its lease or could not reach its store. The client reports it to its caller as a
 * `ConnectionLostError` whose `code` is `reason` and whose `cause` is the original error.
 *
 * @example
 * ```ts
 * import { HttpResilience } from "@async-ops/http"
 *
 * const error = new HttpResilience.ConnectionLimiterError({ host: "api.example.com", reason: "LeaseLostError", cause: null })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const ConnectionLimiterError: typeof admission.ConnectionLimiterError = admission.ConnectionLimiterError

/**
 * An instance of {@link ConnectionLimiterError}.
 *
 * @category errors
 * @since 0.1.0
 */
export type ConnectionLimiterError = admission.ConnectionLimiterError

/**
 * Where the client takes its connection permits: per host (`maxConnectionsPerHost`) and in total
 * (`maxConnections`). Core's `KeyedLimiter` is one.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectionLimiter extends admission.ConnectionLimiter {}

/**
 * What a {@link ConnectionAdmission} is given to make a client's {@link ConnectionLimiter}.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectionLimiterOptions extends admission.ConnectionLimiterOptions {}

/**
 * The reference the client consults, when it is built, to make its connection limiter. Its default is core's
 * in-process `Limiter.keyed` (the caps count this process only).
 *
 * **When to use**: you do not set it by hand: `@async-ops/redis`'s `FleetHttp.layer` provides a fleet-wide one
 * (the caps then count every process sharing the Redis). Provide it below the client's layer.
 *
 * **Gotchas**: it is read when the client is built (`make`, `layer`, `layerUndici`), not at each request.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * // the default, spelled out
 * const Local = Layer.succeed(HttpResilience.ConnectionAdmission, HttpResilience.localConnectionLimiter)
 * ```
 *
 * @category references
 * @since 0.1.0
 */
export const ConnectionAdmission: Context.Reference<
  (options: ConnectionLimiterOptions) => Effect.Effect<ConnectionLimiter, InvalidOptionError, Scope.Scope>
> = admission.ConnectionAdmission

/**
 * The default connection limiter: core's in-process `Limiter.keyed`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * const stats = Effect.scoped(Effect.flatMap(
 *   HttpResilience.localConnectionLimiter({ name: "api", perHost: 4, total: 16, metrics: false }),
 *   (limiter) => limiter.stats
 * ))
 * const limiter = HttpResilience.localConnectionLimiter({ name: "api", perHost: 4, total: 16, metrics: false })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const localConnectionLimiter: (
  options: ConnectionLimiterOptions
) => Effect.Effect<ConnectionLimiter, InvalidOptionError, Scope.Scope> = admission.local
