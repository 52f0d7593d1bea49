/**
 * Event-loop monitoring: how late the event loop runs timers, as a metric, a warning log when it stalls, `stats`
 * (p50/p99/max over a recent window) and a check effect for readiness/health. It answers the seed's first warning
 * ("never block the event loop": `time.sleep`, `requests.get` in a coroutine) and asyncio debug mode's
 * slow-callback log (`Executing <Handle ...> took 0.250 seconds`, `loop.slow_callback_duration`), and what
 * Node's `perf_hooks.monitorEventLoopDelay` and the `blocked-at` / `event-loop-lag` packages measure.
 *
 * How it measures: a sampler fiber sleeps `interval` again and again and measures, on the monotonic `Clock`, how
 * much later than asked it woke up. A synchronous call that holds the thread for 200 ms (a `readFileSync`, a CPU
 * loop, a `pbkdf2Sync`) delays the wake-up by about 200 ms, whatever fiber or callback made it. The sampler goes
 * through `Clock`, so it is runtime-agnostic and its logic is testable with a clock of your own.
 *
 * @see `perf_hooks.monitorEventLoopDelay` (the same measure, as a native histogram; not used so that this works on
 *   any runtime and under a test clock)
 * @see https://docs.python.org/3/library/asyncio-dev.html#debug-mode
 * @since 0.1.0
 */
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as Health from "./Health.ts"
import * as internal from "./internal/eventLoopMonitor.ts"

/**
 * The event loop was blocked longer than the check threshold within the recent window: readiness should fail.
 *
 * @category errors
 * @since 0.1.0
 */
export class EventLoopStalledError extends Data.TaggedError("EventLoopStalledError")<{
  /** The monitor's name. */
  readonly name: string
  /** The longest delay seen in the window, in milliseconds. */
  readonly maxDelay: number
  /** The check threshold, in milliseconds. */
  readonly threshold: number
  /** The window, in milliseconds. */
  readonly window: number
}> {
  override get message(): string {
    return `EventLoopMonitor ${this.name}: event loop blocked for ${
      Math.round(this.maxDelay)
    } ms within the last ${this.window} ms (threshold ${this.threshold} ms)`
  }
}

/**
 * Histogram: how late the event loop ran the sampler's timer, in milliseconds (one observation per sample).
 * Attribute `name`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const delayHistogram: Metric.Histogram<number> = Metric.histogram("async_ops_event_loop_delay_ms", {
  description: "Event-loop delay: how late a timer ran, in milliseconds",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 2, count: 15 })
})

/**
 * Counter: samples whose delay reached the warning threshold (each one logged a warning). Attribute `name`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const stallCounter: Metric.Counter<number> = Metric.counter("async_ops_event_loop_stalls_total", {
  description: "Event-loop stalls at or past the warning threshold",
  incremental: true
})

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The monitor's name: the `name` attribute of its metrics and in its logs and errors. Default `"main"`. */
  readonly name?: string | undefined
  /** How often to sample: a finite duration > 0. Default 20 ms. A stall shorter than this may go unseen. */
  readonly interval?: Duration.Input | undefined
  /**
   * A sample delayed this much logs a warning (`event loop blocked for N ms`): a finite duration > 0. Default
   * 100 ms (asyncio's `slow_callback_duration`).
   */
  readonly threshold?: Duration.Input | undefined
  /** The delay at or past which {@link EventLoopMonitor.check} fails: a finite duration > 0. Default `threshold`. */
  readonly checkThreshold?: Duration.Input | undefined
  /** The recent window of `stats` and `check`: a finite duration > 0. Default 10 seconds. */
  readonly window?: Duration.Input | undefined
  /**
   * Record {@link delayHistogram} and {@link stallCounter}. Default `true` (unlike other primitives: reporting the
   * delay is what the monitor is for; one histogram update per sample).
   */
  readonly metrics?: boolean | undefined
}

/**
 * A monitor's statistics. Delays are milliseconds; percentiles and max are over the recent window.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /** Samples taken since the start. */
  readonly samples: number
  /** Samples at or past the warning threshold since the start. */
  readonly stalls: number
  /** The delay of the latest sample. */
  readonly current: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** The longest stall since the start (0 if none). */
  readonly longestStall: number
  /** When the latest stall was seen (`Clock` milliseconds), or `undefined`. */
  readonly lastStallAt: number | undefined
}

/**
 * A running event-loop monitor.
 *
 * @category models
 * @since 0.1.0
 */
export interface EventLoopMonitor {
  readonly name: string
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
  /**
   * Succeeds when no sample in the recent window reached `checkThreshold`; fails with
   * {@link EventLoopStalledError} otherwise. Wire it into a readiness or health check.
   */
  readonly check: Effect.Effect<void, EventLoopStalledError>
}

/**
 * The monitor as a service, for {@link layer} and {@link check}.
 *
 * @category services
 * @since 0.1.0
 */
export const EventLoopMonitor: Context.Service<EventLoopMonitor, EventLoopMonitor> = Context.Service<
  EventLoopMonitor
>("@async-ops/service/EventLoopMonitor")

/**
 * Starts a monitor in the current scope; its sampler stops when the scope closes.
 *
 * **When to use**: once per process in a service, to see (metric, log) and act on (readiness) event-loop stalls,
 * the Node equivalent of running asyncio in debug mode in production. Fails with `InvalidOptionError` for an
 * `interval`, `threshold`, `checkThreshold` or `window` that is zero, negative, NaN or infinite.
 *
 * **Gotchas**: the warning says how long the loop was blocked, not by whom (asyncio names the callback; Node
 * cannot cheaply). Use `--cpu-prof` or the `node:inspector` profiler to find the culprit. Sampling every 20 ms
 * costs one timer per sample; it does not keep a process alive beyond its scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventLoopMonitor } from "@async-ops/service"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const monitor = yield* EventLoopMonitor.make({ threshold: "100 millis" })
 *   // ... the service; a stall logs "event loop blocked for N ms" at warning level
 *   const { p99, max } = yield* monitor.stats
 *   yield* monitor.check // fails with EventLoopStalledError after a recent stall
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: Options) => Effect.Effect<EventLoopMonitor, InvalidOptionError, Scope.Scope> =
  internal.make

/**
 * A layer that runs a monitor for as long as the layer is alive.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventLoopMonitor } from "@async-ops/service"
 *
 * const ready = EventLoopMonitor.check.pipe(Effect.provide(EventLoopMonitor.layer({ threshold: 200 })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<EventLoopMonitor, InvalidOptionError> =>
  internal.layer(EventLoopMonitor, options)

/**
 * The check of the monitor in context: see {@link EventLoopMonitor.check}.
 *
 * @category checks
 * @since 0.1.0
 */
export const check: Effect.Effect<void, EventLoopStalledError, EventLoopMonitor> = Effect.flatMap(
  EventLoopMonitor,
  (monitor) => monitor.check
)

/**
 * Options of {@link healthCheck}: the check's `name` (default `"event-loop"`), the probes it feeds (default
 * `["liveness"]`), its `timeout`, `cacheFor` and `critical` flag (default `false`: a stall degrades the report,
 * it does not make it unhealthy).
 *
 * @category models
 * @since 0.1.0
 */
export interface HealthCheckOptions {
  readonly name?: string | undefined
  readonly kinds?: ReadonlyArray<Health.Kind> | undefined
  readonly timeout?: Duration.Input | undefined
  readonly cacheFor?: Duration.Input | undefined
  readonly critical?: boolean | undefined
}

/**
 * {@link check} of the monitor in context as a `Health` check: degraded (with the {@link EventLoopStalledError}
 * as its error) while a sample in the monitor's recent window reached `checkThreshold`, healthy again once the
 * stall has left the window.
 *
 * **When to use**: register it with `Health.register` in a service that runs {@link layer}, so `/healthz` shows a
 * blocked event loop next to the delay metric.
 *
 * **Gotchas**: with `critical: true` a stall makes the probe unhealthy (503): a liveness probe then restarts the
 * process after its failure threshold, which heals a wedged loop but also kills one that was only slow for a
 * while. The default only degrades (200).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventLoopMonitor, Health } from "@async-ops/service"
 *
 * const program = Effect.gen(function*() {
 *   yield* Health.register(EventLoopMonitor.healthCheck())
 *   return yield* Health.report("liveness") // "degraded" after a recent stall
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(EventLoopMonitor.layer({ checkThreshold: "200 millis" })),
 *   Effect.provide(Health.layer)
 * )
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const healthCheck = (
  options?: HealthCheckOptions
): Health.Check<EventLoopStalledError, EventLoopMonitor> => ({
  name: options?.name ?? "event-loop",
  kinds: options?.kinds ?? ["liveness"],
  critical: options?.critical ?? false,
  ...(options?.timeout === undefined ? {} : { timeout: options.timeout }),
  ...(options?.cacheFor === undefined ? {} : { cacheFor: options.cacheFor }),
  run: check
})
