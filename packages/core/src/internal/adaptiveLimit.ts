/** @internal */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Result from "effect/Result"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { AdaptiveLimiter, AdaptiveOptions, AdaptiveStats, Outcome } from "../Limiter.ts"
import { coreStats, LimiterCore } from "./limiter.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"

/** One measured call, as the algorithms see it. @internal */
export interface Sample {
  /** How long the call held its permit, in milliseconds. */
  readonly latency: number
  /** Permits out when it was admitted (itself included). */
  readonly inFlight: number
  /** Its admission number (1, 2, ...), and how many admissions were made when it ended. */
  readonly seq: number
  readonly admitted: number
  readonly overload: boolean
}

/** A limit algorithm: a real-valued estimate moved by samples. @internal */
export interface Algorithm {
  estimate: number
  update(sample: Sample): void
}

/**
 * AIMD, after Netflix's `AIMDLimit`: additive increase on success, multiplicative decrease on overload. Two
 * refinements from TCP congestion control keep it from oscillating or collapsing under a closed loop of callers:
 * the increase is `increase / limit` per success (so `increase` per round trip of `limit` calls, not per call), and
 * one overload event decreases the limit once: an overload reported by a call admitted before the last decrease
 * is part of the same event and is not counted again.
 *
 * @internal
 */
export class Aimd implements Algorithm {
  estimate: number
  private readonly min: number
  private readonly max: number
  private readonly backoffRatio: number
  private readonly increase: number
  private readonly latencyThreshold: number
  /** Admissions made when the limit was last decreased. */
  private decreasedAt = 0

  constructor(initial: number, min: number, max: number, backoffRatio: number, increase: number, threshold: number) {
    this.estimate = initial
    this.min = min
    this.max = max
    this.backoffRatio = backoffRatio
    this.increase = increase
    this.latencyThreshold = threshold
  }

  update(sample: Sample): void {
    if (sample.overload || sample.latency > this.latencyThreshold) {
      if (sample.seq <= this.decreasedAt) return
      this.estimate = Math.max(this.min, this.estimate * this.backoffRatio)
      this.decreasedAt = sample.admitted
      return
    }
    // Netflix's guard: grow only when the limit is actually used (at least half of it in flight).
    if (sample.inFlight * 2 >= this.estimate) {
      this.estimate = Math.min(this.max, this.estimate + this.increase / this.estimate)
    }
  }
}

/**
 * Gradient2, after Netflix's `Gradient2Limit` behind its `WindowedLimit`. Samples are gathered in windows of
 * `max(windowSize, limit)` calls (about one round trip); each window gives a short-term latency (its average) and
 * feeds a long-term latency (an exponential average over `longWindow` windows, a plain average over the first 10).
 * Then `limit = limit * (1 - smoothing) + (limit * gradient + queueSize) * smoothing`, where
 * `gradient = clamp(rttTolerance * long / short, 0.5, 1)`: the limit shrinks when latency rises above the long-term
 * baseline by more than the tolerance, and grows by the queue allowance otherwise.
 *
 * Refinements over Netflix's (measured in a simulation; Netflix's version settles far above the knee when it starts
 * there, since its baseline learns the overloaded latency): a window with an overload signal uses the smallest
 * gradient (0.5); a window's latency enters the baseline capped at twice the baseline, and the baseline follows a
 * lower latency quickly (half-way per window), so a period of overload does not teach it that slow is normal.
 * Netflix's rule that decays the baseline by 5% while it is more than twice the short-term latency is kept.
 *
 * @internal
 */
export class Gradient2 implements Algorithm {
  estimate: number
  private readonly min: number
  private readonly max: number
  private readonly smoothing: number
  private readonly tolerance: number
  private readonly longFactor: number
  private readonly queueSize: number
  private readonly windowSize: number
  /** The long-term latency (baseline). */
  long = 0
  private warmup = 0
  private count = 0
  private sum = 0
  private maxInFlight = 0
  private overload = false

  constructor(
    initial: number,
    min: number,
    max: number,
    smoothing: number,
    tolerance: number,
    longWindow: number,
    queueSize: number,
    windowSize: number
  ) {
    this.estimate = initial
    this.min = min
    this.max = max
    this.smoothing = smoothing
    this.tolerance = tolerance
    this.longFactor = 2 / (longWindow + 1)
    this.queueSize = queueSize
    this.windowSize = windowSize
  }

  update(sample: Sample): void {
    this.count++
    this.sum += sample.latency
    if (sample.inFlight > this.maxInFlight) this.maxInFlight = sample.inFlight
    if (sample.overload) this.overload = true
    if (this.count < Math.max(this.windowSize, Math.floor(this.estimate))) return
    const short = this.sum / this.count
    const inFlight = this.maxInFlight
    const overload = this.overload
    this.count = 0
    this.sum = 0
    this.maxInFlight = 0
    this.overload = false
    this.apply(short, inFlight, overload)
  }

  private apply(short: number, inFlight: number, overload: boolean): void {
    if (this.warmup < 10) {
      this.warmup++
      this.long += (short - this.long) / this.warmup
    } else {
      const capped = Math.min(short, this.long * 2)
      this.long += (capped - this.long) * (capped < this.long ? 0.5 : this.longFactor)
    }
    const ratio = short > 0 ? this.long / short : 1
    if (ratio > 2) this.long *= 0.95
    // Application-limited: too little in flight to say anything about the limit.
    if (!overload && inFlight < this.estimate / 2) return
    const gradient = overload ? 0.5 : Math.max(0.5, Math.min(1, this.tolerance * ratio))
    const target = this.estimate * gradient + this.queueSize
    const next = this.estimate * (1 - this.smoothing) + target * this.smoothing
    this.estimate = Math.max(this.min, Math.min(this.max, next))
  }
}

const isOverloadError = (error: unknown): boolean =>
  Cause.isTimeoutError(error) ||
  (typeof error === "object" && error !== null && "_tag" in error && error._tag === "BulkheadRejectedError")

/** @internal */
export const defaultClassify = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (exit._tag === "Success") return "success"
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail" && isOverloadError(reason.error)) return "overload"
  }
  return "ignore"
}

class AdaptiveLimiterImpl implements AdaptiveLimiter {
  pipe() {
    return pipeArguments(this, arguments)
  }

  readonly name: string
  readonly core: LimiterCore
  private readonly algorithm: Algorithm
  private readonly algorithmName: AdaptiveOptions["algorithm"]
  private readonly classify: (exit: Exit.Exit<unknown, unknown>) => Outcome
  private readonly min: number
  private readonly max: number
  private admissions = 0
  private samples = 0
  private overloads = 0
  private ignored = 0

  constructor(options: AdaptiveOptions, core: LimiterCore, algorithm: Algorithm, min: number, max: number) {
    this.name = options.name ?? "AdaptiveLimiter"
    this.core = core
    this.algorithm = algorithm
    this.algorithmName = options.algorithm
    this.classify = options.classify ?? defaultClassify
    this.min = min
    this.max = max
  }

  // The bodies run synchronously inside the calling fiber (uninterruptibleMask), so `Fiber.getCurrent()` is it.
  readonly withPermit = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const fiber = Fiber.getCurrent()!
      if (this.core.tryTake()) return this.measure(fiber, restore, effect)
      return Effect.flatMap(this.core.wait(fiber, restore), () => this.measure(fiber, restore, effect))
    })

  readonly withPermitIfAvailable = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      if (this.core.tryTake()) return this.measure(Fiber.getCurrent()!, restore, Effect.asSome(effect))
      this.core.rejected++
      if (this.core.metrics !== undefined) this.core.metrics.addRejected()
      return Effect.succeedNone
    })

  private measure<A, E, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> {
    // Latency on the monotonic clock (virtual under TestClock), from admission to the end of the call.
    const clock = fiber.getRef(Clock.Clock)
    const start = clock.monotonicTimeNanosUnsafe()
    const inFlight = this.core.inFlight
    const seq = ++this.admissions
    // The inner finalizer moves the limit, then the outer one gives the permit back, so the release admits by the
    // new limit. A classify that throws becomes the caller's defect and the outer finalizer still releases.
    return Effect.onExitPrimitive(
      Effect.onExitPrimitive(restore(effect), (exit) => {
        this.sample(exit, Number(clock.monotonicTimeNanosUnsafe() - start) / 1_000_000, inFlight, seq)
        return undefined
      }, true),
      this.core.releaseOnExit,
      true
    )
  }

  private sample(exit: Exit.Exit<unknown, unknown>, latency: number, inFlight: number, seq: number): void {
    const outcome = this.classify(exit)
    if (outcome === "ignore") {
      this.ignored++
      return
    }
    this.samples++
    const overload = outcome === "overload"
    if (overload) this.overloads++
    this.algorithm.update({ latency, inFlight, seq, admitted: this.admissions, overload })
    this.core.setLimit(Math.max(this.min, Math.min(this.max, Math.floor(this.algorithm.estimate))))
  }

  readonly stats: Effect.Effect<AdaptiveStats> = Effect.sync(() => ({
    ...coreStats(this.name, this.core),
    algorithm: this.algorithmName,
    min: this.min,
    max: this.max,
    estimate: this.algorithm.estimate,
    samples: this.samples,
    overloads: this.overloads,
    ignored: this.ignored
  }))
}

/** @internal */
export const isAdaptiveLimiter = (u: unknown): u is AdaptiveLimiter => u instanceof AdaptiveLimiterImpl

const MODULE = "Limiter.adaptive"

const ALGORITHMS = ["aimd", "gradient2"] as const

/** @internal */
export const make = (options: AdaptiveOptions): Effect.Effect<AdaptiveLimiter, InvalidOptionError> =>
  Effect.suspend(() => {
    const min = options.min ?? 1
    const max = options.max ?? 200
    const initial = options.initial ?? Math.max(min, Math.min(max, 20))
    const checks: Array<InvalidOption.Check<unknown>> = [
      InvalidOption.oneOf(MODULE, "algorithm", (options as { readonly algorithm: unknown }).algorithm, ALGORITHMS),
      InvalidOption.int(MODULE, "max", max, { min: 1 }),
      InvalidOption.int(MODULE, "min", min, { min: 1, max }),
      InvalidOption.int(MODULE, "initial", initial, { min, max })
    ]
    let algorithm: Algorithm | undefined
    if (options.algorithm === "aimd") {
      const backoffRatio = options.backoffRatio ?? 0.9
      const increase = options.increase ?? 1
      const threshold = options.latencyThreshold === undefined
        ? Result.succeed(Duration.infinity)
        : InvalidOption.duration(MODULE, "latencyThreshold", options.latencyThreshold)
      checks.push(
        InvalidOption.number(MODULE, "backoffRatio", backoffRatio, { min: 0, max: 1 }),
        InvalidOption.number(MODULE, "increase", increase, { min: 0, exclusiveMin: true }),
        threshold
      )
      algorithm = new Aimd(
        initial,
        min,
        max,
        backoffRatio,
        increase,
        Result.isSuccess(threshold) ? Duration.toMillis(threshold.success) : Number.POSITIVE_INFINITY
      )
    } else if (options.algorithm === "gradient2") {
      const smoothing = options.smoothing ?? 0.2
      const rttTolerance = options.rttTolerance ?? 1.5
      const longWindow = options.longWindow ?? 600
      const queueSize = options.queueSize ?? 2
      const windowSize = options.windowSize ?? 10
      checks.push(
        InvalidOption.number(MODULE, "smoothing", smoothing, { min: 0, max: 1 }),
        InvalidOption.number(MODULE, "rttTolerance", rttTolerance, { min: 1 }),
        InvalidOption.int(MODULE, "longWindow", longWindow, { min: 1 }),
        InvalidOption.number(MODULE, "queueSize", queueSize, { min: 0 }),
        InvalidOption.int(MODULE, "windowSize", windowSize, { min: 1 })
      )
      algorithm = new Gradient2(initial, min, max, smoothing, rttTolerance, longWindow, queueSize, windowSize)
    }
    const checked = Result.all(checks)
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    return Effect.map(
      Instruments.make("AdaptiveLimiter", options),
      (metrics) => new AdaptiveLimiterImpl(options, new LimiterCore(initial, metrics), algorithm!, min, max)
    ).pipe(Registry.track("AdaptiveLimiter", options))
  })
