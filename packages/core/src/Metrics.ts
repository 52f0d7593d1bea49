/**
 * Uniform concurrency metrics for every async-ops primitive, as Effect `Metric`s: in flight, waiting, limit, queue
 * depth, acquisitions, rejections and wait time, labelled with the primitive's kind and the `name` given at
 * construction. They are off by default and cost one `undefined` check per operation then; turn them on with
 * `metrics: true` in a primitive's options. Exported with any Effect metrics exporter (Prometheus, OTLP from
 * `effect/observability`), or read in tests with `Metric.value`/`Metric.snapshot`.
 *
 * @see https://effect.website/docs/observability/metrics/
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"

/**
 * The options every primitive accepts to report metrics.
 *
 * @category models
 * @since 0.1.0
 */
export interface MetricsOptions {
  /** The primitive's name: the `name` attribute of its metrics (and of its errors and `stats`). */
  readonly name?: string | undefined
  /** Report metrics. Default `false` (nothing is recorded, at no cost). */
  readonly metrics?: boolean | undefined
}

/**
 * Gauge: operations holding a permit / running now. Attributes `primitive` (e.g. `"Limiter"`) and `name`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const inFlight: Metric.Gauge<number> = Metric.gauge("async_ops_in_flight", {
  description: "Operations holding a permit or running now"
})

/**
 * Gauge: callers waiting for admission now.
 *
 * @category metrics
 * @since 0.1.0
 */
export const waiting: Metric.Gauge<number> = Metric.gauge("async_ops_waiting", {
  description: "Callers waiting for admission now"
})

/**
 * Gauge: the current limit (changes with `resize` or an adaptive limit).
 *
 * @category metrics
 * @since 0.1.0
 */
export const limit: Metric.Gauge<number> = Metric.gauge("async_ops_limit", {
  description: "The current concurrency limit"
})

/**
 * Gauge: items queued (work queues and pools).
 *
 * @category metrics
 * @since 0.1.0
 */
export const queueDepth: Metric.Gauge<number> = Metric.gauge("async_ops_queue_depth", {
  description: "Items queued and not yet taken"
})

/**
 * Counter: admissions granted.
 *
 * @category metrics
 * @since 0.1.0
 */
export const acquired: Metric.Counter<number> = Metric.counter("async_ops_acquired_total", {
  description: "Admissions granted",
  incremental: true
})

/**
 * Counter: callers rejected (bulkhead full, queue wait timed out, rate limited).
 *
 * @category metrics
 * @since 0.1.0
 */
export const rejected: Metric.Counter<number> = Metric.counter("async_ops_rejected_total", {
  description: "Callers rejected without admission",
  incremental: true
})

/**
 * Histogram: how long callers waited for admission, in milliseconds.
 *
 * @category metrics
 * @since 0.1.0
 */
export const waitTime: Metric.Histogram<number> = Metric.histogram("async_ops_wait_time_ms", {
  description: "Time spent waiting for admission, in milliseconds",
  boundaries: Metric.exponentialBoundaries({ start: 0.5, factor: 2, count: 20 })
})

/**
 * The nearest-rank percentile of ascending-sorted values: the smallest value with at least `p` % of the values at
 * or below it (`p` in (0, 100]); `undefined` for no values.
 *
 * **When to use**: to summarise latency samples you hold yourself (a hedging delay, an event-loop delay window, a
 * benchmark's p99). Effect's `Metric.summary` does this for a metric over time; this is for an array in hand.
 *
 * **Gotchas**: the values must already be sorted ascending (`values.toSorted((a, b) => a - b)`; a typed array's
 * `toSorted()` sorts numerically). Nearest rank returns one of the values, never an interpolation.
 *
 * @example
 * ```ts
 * import { Metrics } from "@async-ops/core"
 *
 * const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
 * Metrics.percentile(sorted, 50) // => 5
 * Metrics.percentile(sorted, 95) // => 10
 * Metrics.percentile([], 99) // => undefined
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const percentile = (sorted: ArrayLike<number>, p: number): number | undefined =>
  sorted.length === 0
    ? undefined
    : sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]
