/** @internal */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Metrics from "@async-ops/core/Metrics"
import * as Registry from "@async-ops/core/Registry"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { EventLoopMonitor, Options, Stats } from "../EventLoopMonitor.ts"
import { delayHistogram, EventLoopStalledError, stallCounter } from "../EventLoopMonitor.ts"

const MODULE = "EventLoopMonitor.make"

/** A finite duration > 0 in milliseconds: `fallback` when absent. */
const positiveFinite = (option: string, value: Duration.Input | undefined, fallback: number) =>
  value === undefined ? Effect.succeed(fallback) : Effect.fromResult(
    Result.map(InvalidOption.duration(MODULE, option, value, { exclusive: true, finite: true }), Duration.toMillis)
  )

class MonitorImpl implements EventLoopMonitor {
  readonly name: string
  readonly interval: number
  readonly threshold: number
  readonly checkThreshold: number
  readonly window: number
  readonly histogram: Metric.Histogram<number> | undefined
  readonly stallsMetric: Metric.Counter<number> | undefined
  /** Recent samples: `at` (ms) and `delay` (ms), oldest first, from `head` on. */
  readonly at: Array<number> = []
  readonly delays: Array<number> = []
  head = 0
  samples = 0
  stalls = 0
  current = 0
  longestStall = 0
  lastStallAt: number | undefined = undefined

  constructor(config: {
    readonly name: string
    readonly interval: number
    readonly threshold: number
    readonly checkThreshold: number
    readonly window: number
    readonly metrics: boolean
  }) {
    const { checkThreshold, interval, metrics, name, threshold, window } = config
    this.name = name
    this.interval = interval
    this.threshold = threshold
    this.checkThreshold = checkThreshold
    this.window = window
    this.histogram = metrics ? Metric.withAttributes(delayHistogram, { name }) : undefined
    this.stallsMetric = metrics ? Metric.withAttributes(stallCounter, { name }) : undefined
  }

  private prune(now: number): void {
    const from = now - this.window
    while (this.head < this.at.length && this.at[this.head]! < from) this.head++
    if (this.head > 1024 && this.head * 2 > this.at.length) {
      this.at.splice(0, this.head)
      this.delays.splice(0, this.head)
      this.head = 0
    }
  }

  /** Records one sample taken at `now` (ms) that woke `delay` ms late. */
  record(now: number, delay: number): Effect.Effect<void> {
    this.samples++
    this.current = delay
    this.at.push(now)
    this.delays.push(delay)
    this.prune(now)
    const metric = this.histogram === undefined ? Effect.void : Metric.update(this.histogram, delay)
    if (delay < this.threshold) return metric
    this.stalls++
    this.lastStallAt = now
    if (delay > this.longestStall) this.longestStall = delay
    return Effect.andThen(
      metric,
      Effect.andThen(
        this.stallsMetric === undefined ? Effect.void : Metric.update(this.stallsMetric, 1),
        Effect.logWarning(`event loop blocked for ${Math.round(delay)} ms`).pipe(
          Effect.annotateLogs({ eventLoopMonitor: this.name, delayMs: Math.round(delay), thresholdMs: this.threshold })
        )
      )
    )
  }

  readonly sampler: Effect.Effect<never> = Effect.gen({ self: this }, function*() {
    while (true) {
      const before = yield* Clock.monotonicTimeNanos
      yield* Effect.sleep(this.interval)
      const after = yield* Clock.monotonicTimeNanos
      const elapsed = Number(after - before) / 1_000_000
      const delay = Math.max(0, elapsed - this.interval)
      yield* this.record(yield* Clock.currentTimeMillis, delay)
    }
  })

  private recent(now: number): Array<number> {
    this.prune(now)
    return this.delays.slice(this.head)
  }

  readonly stats: Effect.Effect<Stats> = Effect.map(Clock.currentTimeMillis, (now) => {
    const sorted = this.recent(now).toSorted((a, b) => a - b)
    return {
      name: this.name,
      samples: this.samples,
      stalls: this.stalls,
      current: this.current,
      p50: Metrics.percentile(sorted, 50) ?? 0,
      p99: Metrics.percentile(sorted, 99) ?? 0,
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!,
      longestStall: this.longestStall,
      lastStallAt: this.lastStallAt
    }
  })

  readonly check: Effect.Effect<void, EventLoopStalledError> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const max = this.recent(now).reduce((m, d) => Math.max(m, d), 0)
    return max >= this.checkThreshold
      ? Effect.fail(
        new EventLoopStalledError({
          name: this.name,
          maxDelay: max,
          threshold: this.checkThreshold,
          window: this.window
        })
      )
      : Effect.void
  })
}

/** @internal */
export const make = (options: Options = {}): Effect.Effect<EventLoopMonitor, InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const interval = yield* positiveFinite("interval", options.interval, 20)
    const threshold = yield* positiveFinite("threshold", options.threshold, 100)
    const checkThreshold = yield* positiveFinite("checkThreshold", options.checkThreshold, threshold)
    const window = yield* positiveFinite("window", options.window, 10_000)
    const monitor = new MonitorImpl({
      name: options.name ?? "main",
      interval,
      threshold,
      checkThreshold,
      window,
      metrics: options.metrics !== false
    })
    yield* Effect.forkScoped(monitor.sampler, { startImmediately: true })
    yield* Registry.register({ kind: "EventLoopMonitor", name: monitor.name, stats: monitor.stats })
    return monitor
  })

/** @internal */
export const layer = <I>(
  tag: Context.Key<I, EventLoopMonitor>,
  options?: Options
): Layer.Layer<I, InvalidOptionError> => Layer.effect(tag, make(options))
