/**
 * The errors of the resilient HTTP client (`HttpResilience`) and of transfers (`Transfer`), kept apart from the client as
 * Effect keeps `HttpClientError` apart from `HttpClient`: one `Data.TaggedError` per reason, and the union
 * {@link HttpError} for `Effect.catchTags`.
 *
 * The tags are distinct from Effect's `HttpClientError` reasons (`TransportError`, `InvalidUrlError`,
 * `DecodeError`), whose fields differ: a `catchTag` written for one never catches the other.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Headers from "effect/http/Headers"

/**
 * The URL cannot be parsed, is not absolute, or is not `http:`/`https:`. Raised before any I/O; never retried.
 *
 * @category errors
 * @since 0.1.0
 */
export class MalformedUrlError extends Data.TaggedError("MalformedUrlError")<{
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid URL ${JSON.stringify(this.url)}: ${this.reason}`
  }
}

/**
 * The connection could not be made (refused, unknown host, unreachable); `code` is the system error code. Retried.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly method: string
  readonly url: string
  readonly host: string
  readonly code: string | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    return `Cannot connect to ${this.host} (${this.code ?? "unknown"}) for ${this.method} ${this.url}`
  }
}

/**
 * The connection broke after it was made (reset, closed before or during the response). Retried for idempotent
 * requests.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConnectionLostError extends Data.TaggedError("ConnectionLostError")<{
  readonly method: string
  readonly url: string
  readonly host: string
  readonly code: string | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    return `Connection to ${this.host} failed (${this.code ?? "unknown"}) during ${this.method} ${this.url}`
  }
}

/**
 * The phase of an exchange a {@link RequestTimeoutError} names.
 *
 * @category models
 * @since 0.1.0
 */
export type TimeoutPhase = "connect" | "headers" | "request"

/**
 * A phase of the exchange took too long: `"connect"` (undici's connect timeout, `HttpResilience.layerUndici` only),
 * `"headers"` (no response head within `headersTimeout`) or `"request"` (the whole exchange, body included, past
 * `requestTimeout`). The wait for a connection slot is not a phase: it is {@link PoolWaitTimeoutError}. Retried.
 *
 * @category errors
 * @since 0.1.0
 */
export class RequestTimeoutError extends Data.TaggedError("RequestTimeoutError")<{
  readonly phase: TimeoutPhase
  readonly timeout: Duration.Duration
  readonly method: string
  readonly url: string
}> {
  override get message(): string {
    return `${this.method} ${this.url}: ${this.phase} timeout after ${Duration.format(this.timeout)}`
  }
}

/**
 * No connection slot for the host (or overall) became free within `poolWaitTimeout`: the client is saturated, the
 * server was never contacted. Not retried (retrying would only queue again).
 *
 * @category errors
 * @since 0.1.0
 */
export class PoolWaitTimeoutError extends Data.TaggedError("PoolWaitTimeoutError")<{
  readonly host: string
  readonly timeout: Duration.Duration
  readonly method: string
  readonly url: string
}> {
  override get message(): string {
    return `No connection slot for ${this.host} within ${Duration.format(this.timeout)} (${this.method} ${this.url})`
  }
}

/**
 * The response status was >= 400. Carries `status`, `headers`, the `body` text and the parsed `Retry-After` as
 * `retryAfter` (core's `Retry.RetryAfter`). Retried when the status is in `retry.statuses`.
 *
 * @category errors
 * @since 0.1.0
 */
export class StatusError extends Data.TaggedError("StatusError")<{
  readonly method: string
  readonly url: string
  readonly status: number
  readonly headers: Headers.Headers
  readonly body: string
  readonly retryAfter: Duration.Duration | undefined
}> {
  override get message(): string {
    return `${this.method} ${this.url}: status ${this.status}`
  }
}

/**
 * The body was larger than `maxResponseBytes` (by `Content-Length` or while reading); the request was aborted and
 * its socket closed. Never retried.
 *
 * @category errors
 * @since 0.1.0
 */
export class BodyTooLargeError extends Data.TaggedError("BodyTooLargeError")<{
  readonly method: string
  readonly url: string
  readonly limit: number
  readonly received: number
}> {
  override get message(): string {
    return `${this.method} ${this.url}: body larger than ${this.limit} bytes (at least ${this.received})`
  }
}

/**
 * The body could not be decoded (`Response.json` on invalid JSON).
 *
 * @category errors
 * @since 0.1.0
 */
export class BodyDecodeError extends Data.TaggedError("BodyDecodeError")<{
  readonly url: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Cannot decode the body of ${this.url}: ${this.cause instanceof Error ? this.cause.message : this.cause}`
  }
}

/**
 * The host's circuit is open (or half-open with its probe running): the call failed fast without I/O.
 * `retryAfter` says when the circuit lets a probe through.
 *
 * @category errors
 * @since 0.1.0
 */
export class CircuitOpenError extends Data.TaggedError("CircuitOpenError")<{
  readonly host: string
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Circuit open for ${this.host}; retry after ${Duration.format(this.retryAfter)}`
  }
}

/**
 * The host's rate limit is spent (only with `rateLimit.onExceeded: "fail"`); `retryAfter` says when it refills.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimitedError extends Data.TaggedError("RateLimitedError")<{
  readonly host: string
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Rate limit reached for ${this.host}; retry after ${Duration.format(this.retryAfter)}`
  }
}

/**
 * Every way a call can fail: a union on `_tag`, for `Effect.catchTag` / `catchTags`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpResilience } from "@async-ops/http"
 *
 * const status = (client: HttpResilience.ResilientClient, url: string) =>
 *   client.get(url).pipe(
 *     Effect.map((res) => res.status),
 *     Effect.catchTags({
 *       StatusError: (e) => Effect.succeed(e.status),
 *       PoolWaitTimeoutError: () => Effect.succeed(-1)
 *     })
 *   )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type HttpError =
  | MalformedUrlError
  | ConnectError
  | ConnectionLostError
  | RequestTimeoutError
  | PoolWaitTimeoutError
  | StatusError
  | BodyTooLargeError
  | BodyDecodeError
  | CircuitOpenError
  | RateLimitedError
