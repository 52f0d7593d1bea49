/**
 * A Prometheus `/metrics` route for an Effect HTTP server: every Effect `Metric` in the registry (so every
 * async-ops primitive created with `metrics: true`: `async_ops_in_flight{primitive,name}`, `async_ops_waiting`,
 * `async_ops_limit`, `async_ops_queue_depth`, `async_ops_acquired_total`, `async_ops_rejected_total`,
 * `async_ops_wait_time_ms`) in the text exposition format, plus the standard process metrics a scrape expects
 * (`process_resident_memory_bytes`, `process_cpu_*_seconds_total`, `process_start_time_seconds`,
 * `nodejs_heap_size_*_bytes`), sampled at scrape time.
 *
 * It is Python's `prometheus_client.make_asgi_app()` / `aioprometheus` route; the formatting is Effect's own
 * `PrometheusMetrics` (`effect/observability`), which this module adds the process metrics and option checks to.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { Prometheus } from "@async-ops/service"
 *
 * const Routes = Layer.mergeAll(
 *   HttpRouter.add("GET", "/", HttpServerResponse.text("hi")),
 *   Prometheus.layer() // GET /metrics
 * )
 * ```
 *
 * @see `PrometheusMetrics.format` and `PrometheusMetrics.layerHttp` in `effect/observability`
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import type * as Effect from "effect/Effect"
import type * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/prometheus.ts"

/**
 * Options of {@link layer}, {@link handler} and {@link format}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The route's path (default `"/metrics"`; must start with `/`). Only for {@link layer}. */
  readonly path?: string | undefined
  /** A prefix for every metric name, joined with `_` (default none; `[a-zA-Z_][a-zA-Z0-9_]*`). */
  readonly prefix?: string | undefined
  /** Sample and include the process metrics at each scrape (default `true`). */
  readonly processMetrics?: boolean | undefined
}

/**
 * The content type of the text exposition format, `text/plain; version=0.0.4; charset=utf-8`.
 *
 * @example
 * ```ts
 * import { Prometheus } from "@async-ops/service"
 *
 * Prometheus.contentType // => "text/plain; version=0.0.4; charset=utf-8"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const contentType: string = internal.CONTENT_TYPE

/**
 * Formats every metric in the registry (and, by default, the process metrics) in the Prometheus text format.
 *
 * **When to use**: to push metrics yourself, write them to a file, or assert on them in a test.
 *
 * **Gotchas**: a metric appears once it has been updated at least once; a primitive made with `metrics: false`
 * (the default) reports nothing. Bad options fail with `InvalidOptionError` (module `Prometheus.format`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Limiter } from "@async-ops/core"
 * import { Prometheus } from "@async-ops/service"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.make({ limit: 4, name: "db", metrics: true })
 *   return yield* limiter.withPermit(Prometheus.format())
 *   // ... async_ops_in_flight{primitive="Limiter",name="db"} 1 ...
 * })
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const format: (options?: Options) => Effect.Effect<string, InvalidOptionError> = internal.format

/**
 * Makes the `/metrics` handler: an effect answering 200 with the metrics in the text format.
 *
 * **When to use**: to mount it yourself (another path, behind an auth middleware, on an admin server):
 * `HttpRouter.add("GET", "/admin/metrics", handler)`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { Prometheus } from "@async-ops/service"
 *
 * const Route = Layer.unwrap(
 *   Effect.map(Prometheus.handler(), (handler) => HttpRouter.add("GET", "/internal/metrics", handler))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const handler: (
  options?: Options
) => Effect.Effect<Effect.Effect<HttpServerResponse.HttpServerResponse>, InvalidOptionError> = internal.handler

/**
 * A route layer: `GET /metrics` (or `options.path`) answered by {@link handler}.
 *
 * **When to use**: merged with the application's routes in `HttpRouter.serve`.
 *
 * **Gotchas**: the route is public wherever the server listens; expose it on an internal port or behind a
 * middleware if the numbers are sensitive. Bad options fail the layer with `InvalidOptionError`.
 *
 * @example
 * ```ts
 * import { Prometheus } from "@async-ops/service"
 *
 * const Metrics = Prometheus.layer({ prefix: "shop" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: (options?: Options) => Layer.Layer<never, InvalidOptionError, HttpRouter.HttpRouter> =
  internal.layer
