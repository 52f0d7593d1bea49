/**
 * Middlewares for Effect's HTTP server that a production service needs around its routes: in-flight tracking with
 * a `drain` for graceful shutdown, load shedding (503 + `Retry-After`), a request timeout, a body size limit (413),
 * errors as RFC 9457 `application/problem+json`, an access log, and the caller's deadline header read into core's
 * `Deadline`. It answers what aiohttp's `web.Application(middlewares=[...], client_max_size=...)` plus
 * hand-written `@web.middleware` functions give a Python service.
 *
 * Every middleware is a plain function from the app effect to the app effect (the shape of Effect's
 * `HttpMiddleware`), so they compose with `flow` (the last one is the outermost). They go in one of two places:
 *
 * - **around the router**, `HttpRouter.middleware(fn, { global: true })` (recommended): every middleware works
 *   here, it sees every request (404s included), its response replaces the handler's before anything is sent,
 *   and it costs nothing beyond the middleware itself. {@link problemJson}, {@link bodyLimit} and
 *   {@link deadlineHeader} must go here (at the server level Effect has already sent its own 500 when a
 *   middleware sees a failure, and the handler would not see the request and deadline they provide).
 * - **around the whole server**, `HttpRouter.serve(routes, { middleware })`: {@link InFlight.middleware},
 *   {@link LoadShedding.middleware}, {@link accessLog} and {@link timeout} also work here, and then also cover
 *   the writing of the response. Measured cost: any middleware in this slot takes Effect off its single-frame
 *   fast path, 10-15% of a trivial route's throughput.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { flow } from "effect/Function"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { ServerKit } from "@async-ops/http"
 *
 * const Routes = HttpRouter.add("GET", "/hello", HttpServerResponse.text("hi"))
 *
 * const Server = Effect.gen(function*() {
 *   const inFlight = yield* ServerKit.inFlight()
 *   const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 100, maxQueued: 100 })
 *   const timeout = yield* ServerKit.timeout({ duration: "10 seconds" })
 *   const accessLog = yield* ServerKit.accessLog()
 *   const bodyLimit = yield* ServerKit.bodyLimit({ maxBytes: 1_000_000 })
 *   const deadline = yield* ServerKit.deadlineHeader()
 *   const Kit = HttpRouter.middleware(
 *     flow(
 *       ServerKit.problemJson({ errors: { UserNotFound: 404 } }),
 *       bodyLimit,
 *       deadline,
 *       timeout,
 *       shedding.middleware,
 *       inFlight.middleware,
 *       accessLog
 *     ),
 *     { global: true }
 *   )
 *   return HttpRouter.serve(Layer.mergeAll(Routes, Kit), { disableLogger: true })
 * }).pipe(Layer.unwrap)
 * ```
 *
 * @see `HttpMiddleware` and `HttpRouter.middleware` in `effect/http` (the composition points)
 * @see https://docs.aiohttp.org/en/stable/web_advanced.html#middlewares
 * @since 0.1.0
 */
import type * as Bulkhead from "@async-ops/core/Bulkhead"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type { MetricsOptions } from "@async-ops/core/Metrics"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import type { HttpServerResponse } from "effect/http/HttpServerResponse"
import type * as LogLevel from "effect/LogLevel"
import * as internal from "./internal/server.ts"

/**
 * A server middleware: the app effect in, the app effect out, with the request read from context. The same shape
 * as Effect's `HttpMiddleware`, so it goes in `HttpRouter.serve(routes, { middleware })` or
 * `HttpRouter.middleware(fn, { global: true })`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Middleware {
  <E, R>(app: Effect.Effect<HttpServerResponse, E, R>): Effect.Effect<HttpServerResponse, E, R | HttpServerRequest>
}

/**
 * Statistics of an {@link InFlight} tracker.
 *
 * @category models
 * @since 0.1.0
 */
export interface InFlightStats {
  /** Requests being handled now. */
  readonly inFlight: number
  /** The most requests handled at once since the tracker was made. */
  readonly peak: number
  /** Requests seen since the tracker was made. */
  readonly total: number
}

/**
 * An in-flight request tracker, made by {@link inFlight}.
 *
 * @category models
 * @since 0.1.0
 */
export interface InFlight {
  /** Counts each request from its start until its response is written (or it ends otherwise). */
  readonly middleware: Middleware
  /**
   * Waits until no request is in flight, for at most `timeout` (default 20 seconds, Effect's
   * `gracefulShutdownTimeout`): `true` when the server went idle, `false` when the timeout passed first. It does
   * not stop new requests: close the listener first (closing the server's scope does), then drain.
   */
  readonly drain: (timeout?: Duration.Input) => Effect.Effect<boolean, InvalidOptionError>
  /** The counts now. */
  readonly stats: Effect.Effect<InFlightStats>
}

/**
 * Options of {@link inFlight}. With `metrics: true` it updates the `async_ops_in_flight` gauge and the
 * `async_ops_acquired_total` counter (one per request) with `primitive: "ServerInFlight"`.
 *
 * @category models
 * @since 0.1.0
 */
export interface InFlightOptions extends MetricsOptions {}

/**
 * Makes an in-flight request tracker: a middleware that counts requests, a `drain` that waits for them to finish
 * (bounded by a timeout), and `stats` (in flight, peak, total).
 *
 * **When to use**: always, around the whole server; graceful shutdown drains it, and `stats` feeds readiness
 * checks and dashboards.
 *
 * **Gotchas**: around the router, a request counts until its handler has produced the response; in
 * `HttpRouter.serve`'s `middleware` (slower, see the module comment) until the response is written. Effect's
 * graceful shutdown also waits for in-flight requests (up to `gracefulShutdownTimeout`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServerKit } from "@async-ops/http"
 *
 * const program = Effect.gen(function*() {
 *   const tracker = yield* ServerKit.inFlight()
 *   // HttpRouter.serve(routes, { middleware: tracker.middleware }) ... then on shutdown:
 *   const idle = yield* tracker.drain("5 seconds") // => true (nothing was in flight)
 *   return idle
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const inFlight: (options?: InFlightOptions) => Effect.Effect<InFlight> = internal.inFlight

/**
 * Options of {@link loadShedding}.
 *
 * @category models
 * @since 0.1.0
 */
export interface LoadSheddingOptions extends MetricsOptions {
  /** Requests handled at once (an integer >= 1). */
  readonly maxConcurrent: number
  /** Requests that may wait, FIFO, for a slot (an integer >= 0); past that, a request gets 503 at once. */
  readonly maxQueued: number
  /** How long a queued request may wait before it gets a 503 (default: no limit). */
  readonly queueTimeout?: Duration.Input | undefined
  /** The `Retry-After` sent with a 503, rounded up to whole seconds (default 1 second). */
  readonly retryAfter?: Duration.Input | undefined
}

/**
 * A load-shedding middleware and the bulkhead it runs on, made by {@link loadShedding}.
 *
 * @category models
 * @since 0.1.0
 */
export interface LoadShedding {
  /** Admits, queues or sheds each request. */
  readonly middleware: Middleware
  /** The core bulkhead under it (admissions and rejections are counted there). */
  readonly bulkhead: Bulkhead.Bulkhead
  /** The bulkhead's statistics: in flight, queued, acquired, rejections by reason. */
  readonly stats: Effect.Effect<Bulkhead.Stats>
}

/**
 * Makes a load-shedding middleware on core's `Bulkhead`: at most `maxConcurrent` requests run, at most `maxQueued`
 * wait FIFO, and any other request is answered at once with **503** `application/problem+json` and
 * `Retry-After`. A queued request that waits longer than `queueTimeout` gets the same 503.
 *
 * **When to use**: in front of every handler that can saturate, so that overload turns into fast, retryable 503s
 * instead of a growing pile of slow requests that all time out.
 *
 * **Gotchas**:
 * - Around the router a slot is held while the handler runs; in `HttpRouter.serve`'s `middleware` until the
 *   response is written.
 * - Everything under it runs interruptibly (the handler always does): a queued request whose client goes away
 *   leaves the queue at once, although Effect runs the middleware chain uninterruptibly.
 * - Order matters: with the timeout outside it (after it in `flow`), the timeout also bounds the wait in the
 *   queue; inside it, only the handler.
 * - Bad options fail with `InvalidOptionError` (module `ServerKit.loadShedding`): `maxConcurrent`, `maxQueued`,
 *   `queueTimeout`, `retryAfter`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServerKit } from "@async-ops/http"
 *
 * const program = Effect.gen(function*() {
 *   const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 64, maxQueued: 128, retryAfter: "2 seconds" })
 *   return shedding.middleware // HttpRouter.serve(routes, { middleware: shedding.middleware })
 * })
 * ```
 *
 * @see `Bulkhead.make` in `@async-ops/core`
 * @category constructors
 * @since 0.1.0
 */
export const loadShedding: (options: LoadSheddingOptions) => Effect.Effect<LoadShedding, InvalidOptionError> =
  internal.loadShedding

/**
 * Options of {@link timeout}.
 *
 * @category models
 * @since 0.1.0
 */
export interface TimeoutOptions {
  /** The most a request may take (> 0). */
  readonly duration: Duration.Input
  /**
   * The status of the answer when it passes (default **503**, as Go's `http.TimeoutHandler` and Effect's own
   * shutdown answer: the server gave up, the client may retry). 504 is the alternative for a gateway.
   */
  readonly status?: 503 | 504 | undefined
}

/**
 * Makes a request timeout middleware: a request still running after `duration` is interrupted (its finalizers run,
 * its resources are released) and answered with a 503 (or 504, see {@link TimeoutOptions}) `application/problem+json`.
 *
 * **When to use**: on every server, so a stuck handler or dependency cannot hold a connection and a load-shedding
 * slot forever.
 *
 * **Gotchas**:
 * - The app runs interruptibly, in a fiber of its own started at once (Effect runs the server's middleware chain
 *   uninterruptibly). A request that finishes before that fiber first yields arms no timer; the others share one
 *   timer per middleware (armed only while some request is running past its first yield).
 * - A request interrupted while its app runs (the client went away, shutdown) interrupts the app and waits for
 *   its finalizers before the middlewares outside this one see the interruption.
 * - The answer is sent after the interrupted handler's finalizers have run; a defect they throw is dropped.
 * - Bad options fail with `InvalidOptionError` (module `ServerKit.timeout`): `duration`, `status`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ServerKit } from "@async-ops/http"
 *
 * const program = ServerKit.timeout({ duration: "30 seconds" })
 * // HttpRouter.serve(routes, { middleware: yield* program })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const timeout: (options: TimeoutOptions) => Effect.Effect<Middleware, InvalidOptionError> = internal.timeout

/**
 * Options of {@link bodyLimit}.
 *
 * @category models
 * @since 0.1.0
 */
export interface BodyLimitOptions {
  /** The largest request body accepted, in bytes (an integer >= 0). */
  readonly maxBytes: number
}

/**
 * Makes a body size limit middleware: a request whose `Content-Length` is over `maxBytes` is answered **413**
 * `application/problem+json` at once, without reading the body or running the handler; a body without
 * `Content-Length` (chunked) that grows past `maxBytes` while the handler reads it (`json`, `text`,
 * `arrayBuffer`, `urlParamsBody`, multipart or `stream`) fails the read and is answered 413 too.
 *
 * **When to use**: on every route that reads a body: aiohttp's `client_max_size`.
 *
 * **Gotchas**:
 * - Put it around the router (`HttpRouter.middleware(fn, { global: true })`): it provides a request whose body
 *   is counted, and its 413 must replace the handler's response.
 * - A handler that catches the read's failure itself decides its answer.
 * - Bad `maxBytes` fails with `InvalidOptionError` (module `ServerKit.bodyLimit`).
 *
 * @example
 * ```ts
 * import { ServerKit } from "@async-ops/http"
 *
 * const program = ServerKit.bodyLimit({ maxBytes: 1024 * 1024 })
 * ```
 *
 * @see `HttpIncomingMessage.MaxBodySize` in `effect/http` (which it sets)
 * @category constructors
 * @since 0.1.0
 */
export const bodyLimit: (options: BodyLimitOptions) => Effect.Effect<Middleware, InvalidOptionError> =
  internal.bodyLimit

/**
 * How a typed error is rendered by {@link problemJson}.
 *
 * @category models
 * @since 0.1.0
 */
export interface ProblemSpec {
  /** The HTTP status. */
  readonly status: number
  /** The problem's `title` (default: the status's reason phrase). */
  readonly title?: string | undefined
  /** The problem's `type` URI (default `about:blank`). */
  readonly type?: string | undefined
  /** The problem's `detail` (default: the error's `message`, when it has one). */
  readonly detail?: ((error: unknown) => string) | undefined
}

/**
 * Options of {@link problemJson}.
 *
 * @category models
 * @since 0.1.0
 */
export interface ProblemJsonOptions {
  /** Typed errors by `_tag`: a status, or a full {@link ProblemSpec}. Any other failure is a 500. */
  readonly errors?: Readonly<Record<string, number | ProblemSpec>> | undefined
  /**
   * Put a defect's (or an unmapped error's) message in `detail` (default `false`: a 500 says only "Internal Server
   * Error", so internals do not leak). Defects are logged at Error level either way.
   */
  readonly exposeDefects?: boolean | undefined
}

/**
 * Makes a middleware that answers every failure of the handler with an RFC 9457 `application/problem+json` body
 * `{ type, title, status, detail }`: typed errors are mapped by `_tag` (`errors`), Effect's own request errors keep
 * their status (400 bad body, 413 too large, 404 no route), anything else is a 500, and a defect is a 500 whose
 * message is not sent unless `exposeDefects` (it is logged). An interruption is left to the server (client gone,
 * shutdown).
 *
 * **When to use**: on every JSON API, so clients get one machine-readable error shape.
 *
 * **Gotchas**:
 * - Put it around the router (`HttpRouter.middleware(fn, { global: true })`). In `HttpRouter.serve`'s
 *   `middleware` it would see the failure only after Effect has already sent its own 500.
 * - Its type keeps the app's error channel, although at run time every failure but an interruption is answered:
 *   `HttpRouter.middleware` rejects a middleware whose type removes errors it was not configured to handle.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "effect/http"
 * import { ServerKit } from "@async-ops/http"
 *
 * const Problems = HttpRouter.middleware(
 *   ServerKit.problemJson({ errors: { UserNotFound: 404, Conflict: { status: 409, title: "Already exists" } } }),
 *   { global: true }
 * )
 * ```
 *
 * @see https://www.rfc-editor.org/rfc/rfc9457
 * @category constructors
 * @since 0.1.0
 */
export const problemJson: (options?: ProblemJsonOptions) => Middleware = internal.problemJson

/**
 * Options of {@link accessLog}.
 *
 * @category models
 * @since 0.1.0
 */
export interface AccessLogOptions {
  /** The log level of each line (default `"Info"`). */
  readonly level?: LogLevel.Severity | undefined
}

/**
 * Makes an access log middleware: one log line per request through Effect's `Logger`, with the message
 * `"GET /path 200 1.25ms"` and the annotations `http.method`, `http.path` (no query string), `http.status` and
 * `http.duration_ms`. A failed request logs the status the server answers.
 *
 * **When to use**: as the outermost middleware (last in `flow`), with `disableLogger: true` on `HttpRouter.serve`
 * to turn Effect's own response log off, so shed and timed-out requests are logged with their status.
 *
 * **Gotchas**:
 * - Around the router the duration ends when the handler has produced the response; in `HttpRouter.serve`'s
 *   `middleware` (slower, see the module comment) when the response is written.
 * - When `level` is below the minimum log level (`References.MinimumLogLevel`) it does nothing at all.
 * - The duration is read from the `Clock` (a `TestClock` gives 0). Bad `level` fails with `InvalidOptionError`
 *   (module `ServerKit.accessLog`).
 *
 * @example
 * ```ts
 * import { ServerKit } from "@async-ops/http"
 *
 * const program = ServerKit.accessLog({ level: "Debug" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const accessLog: (options?: AccessLogOptions) => Effect.Effect<Middleware, InvalidOptionError> =
  internal.accessLog

/**
 * Options of {@link deadlineHeader}.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadlineHeaderOptions {
  /** The request header to read (default `"x-deadline-ms"`). */
  readonly header?: string | undefined
  /**
   * `"relative"` (default): the header is the caller's remaining budget in milliseconds, immune to clock skew.
   * `"absolute"`: the header is the deadline in epoch milliseconds.
   */
  readonly format?: "relative" | "absolute" | undefined
  /** The longest deadline honoured (> 0; default: none), so a caller cannot ask for an unbounded one. */
  readonly max?: Duration.Input | undefined
}

/**
 * Makes a middleware that reads the caller's deadline from a request header into core's `Deadline`, so the
 * handler and every outbound call under it see it through `Deadline.remaining`. When it passes, the handler is
 * interrupted (its finalizers run) and the request is answered **504** `application/problem+json`; a deadline
 * already passed on arrival is answered 504 without running the handler.
 *
 * **When to use**: in services called by others with a budget (gRPC's `grpc-timeout`, Envoy's
 * `x-envoy-expected-rq-timeout-ms`), so work the caller has given up on stops.
 *
 * **Gotchas**:
 * - A missing, empty, non-numeric or (relative) negative header sets no deadline.
 * - Put it around the router (`HttpRouter.middleware(fn, { global: true })`) so the handler's context gets it.
 * - Bad options fail with `InvalidOptionError` (module `ServerKit.deadlineHeader`): `header`, `format`, `max`.
 *
 * @example
 * ```ts
 * import { ServerKit } from "@async-ops/http"
 *
 * const program = ServerKit.deadlineHeader({ header: "x-deadline-ms", max: "30 seconds" })
 * ```
 *
 * @see `Deadline.at` in `@async-ops/core`
 * @category constructors
 * @since 0.1.0
 */
export const deadlineHeader: (options?: DeadlineHeaderOptions) => Effect.Effect<Middleware, InvalidOptionError> =
  internal.deadlineHeader
