/**
 * The instruments a primitive updates when it was made with `metrics: true`. Made once at construction with the
 * constructor's context (where the MetricRegistry lives), then updated synchronously from any code path, including
 * fiber observers, with no Effect allocation. A primitive without metrics holds `undefined` and pays one check.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Metrics from "../Metrics.ts"

/** @internal */
export class Instruments {
  private readonly context: Context.Context<never>
  private readonly inFlight: Metric.Gauge<number>
  private readonly waiting: Metric.Gauge<number>
  private readonly limit: Metric.Gauge<number>
  private readonly queueDepth: Metric.Gauge<number>
  private readonly acquired: Metric.Counter<number>
  private readonly rejected: Metric.Counter<number>
  private readonly waitTime: Metric.Histogram<number>

  constructor(kind: string, name: string, context: Context.Context<never>) {
    const attributes = { primitive: kind, name }
    this.context = context
    this.inFlight = Metric.withAttributes(Metrics.inFlight, attributes)
    this.waiting = Metric.withAttributes(Metrics.waiting, attributes)
    this.limit = Metric.withAttributes(Metrics.limit, attributes)
    this.queueDepth = Metric.withAttributes(Metrics.queueDepth, attributes)
    this.acquired = Metric.withAttributes(Metrics.acquired, attributes)
    this.rejected = Metric.withAttributes(Metrics.rejected, attributes)
    this.waitTime = Metric.withAttributes(Metrics.waitTime, attributes)
  }

  setInFlight(n: number): void {
    this.inFlight.updateUnsafe(n, this.context)
  }
  setWaiting(n: number): void {
    this.waiting.updateUnsafe(n, this.context)
  }
  setLimit(n: number): void {
    this.limit.updateUnsafe(n, this.context)
  }
  setQueueDepth(n: number): void {
    this.queueDepth.updateUnsafe(n, this.context)
  }
  addAcquired(n = 1): void {
    this.acquired.updateUnsafe(n, this.context)
  }
  addRejected(n = 1): void {
    this.rejected.updateUnsafe(n, this.context)
  }
  recordWait(millis: number): void {
    this.waitTime.updateUnsafe(millis, this.context)
  }
}

/**
 * Instruments for a primitive of `kind`, or `undefined` when metrics are off. Needs the constructor's context.
 *
 * @internal
 */
export const make = (
  kind: string,
  options: Metrics.MetricsOptions | undefined
): Effect.Effect<Instruments | undefined> =>
  options?.metrics === true
    ? Effect.map(Effect.context<never>(), (context) => new Instruments(kind, options.name ?? kind, context))
    : Effect.succeed(undefined)

/**
 * The same, for synchronous constructors (`makeUnsafe`): metrics go to the default registry.
 *
 * @internal
 */
export const makeUnsafe = (
  kind: string,
  options: Metrics.MetricsOptions | undefined,
  context: Context.Context<never>
): Instruments | undefined =>
  options?.metrics === true ? new Instruments(kind, options.name ?? kind, context) : undefined
