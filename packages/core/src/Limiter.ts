/**
 * Admission control: at most N operations at once, one interface over several policies. It answers Python's
 * `asyncio.Semaphore` used as a concurrency cap (`async with sem:`), aiohttp's `TCPConnector(limit=…,
 * limit_per_host=…)`, and Netflix's concurrency-limits (a limit that adapts to observed latency).
 *
 * - {@link make}: a fixed limit, resizable at run time.
 * - {@link keyed}: a cap per key (host, tenant, user) plus an optional global cap, both held at once; keys with no
 *   holder and no waiter are dropped, so memory stays bounded by the keys in use.
 * - {@link adaptive}: a limit that follows latency and overload signals within `[min, max]` (AIMD or Gradient2).
 *
 * Every policy admits callers in FIFO order (a newcomer never overtakes a waiter), releases the permit however the
 * operation ends, and removes an interrupted waiter without a trace, at O(1) per acquire, release and interruption
 * whatever the number of waiters. That last point is why this module exists next to Effect's `Semaphore`: with
 * every task parked on one `Semaphore` (the seed's Pattern 2 ported literally), effect 4.1.0 took 466 s for
 * 100,000 waiters. 4.1.5 reworked the release: its cost per task stays flat up to about 40,000 waiters, then grows
 * (100,000 waiters on 100 permits: 6.2 s of CPU against a `Limiter`'s 1.9 s in the same run; bench W2's scaling
 * table).
 *
 * @see Effect's `Semaphore` (the same admission idea; use it for weighted permits, `withPermits(n)`)
 * @see https://github.com/Netflix/concurrency-limits
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import * as adaptiveInternal from "./internal/adaptiveLimit.ts"
import * as internal from "./internal/limiter.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import * as KeyedLimiterModule from "./KeyedLimiter.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * A limiter's statistics, like trio's `CapacityLimiter.statistics()`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** The name given at construction (the `name` attribute of its metrics). */
  readonly name: string
  /** The current limit: the most permits out at once. */
  readonly limit: number
  /** Permits out now (callers running). Can exceed `limit` for a while after the limit was lowered. */
  readonly inFlight: number
  /** Callers waiting for a permit now. */
  readonly waiting: number
  /** Admissions granted in all. */
  readonly acquired: number
  /** How many of those had to wait. */
  readonly waited: number
  /** `withPermitIfAvailable` calls turned away. */
  readonly rejected: number
}

/**
 * The admission interface every limiter policy shares. The module functions ({@link withPermit}, ...) and these
 * methods are the same operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface Limiter extends Pipeable {
  readonly name: string
  /** Runs `effect` holding a permit; see {@link withPermit}. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Runs `effect` only if a permit is free now; see {@link withPermitIfAvailable}. */
  readonly withPermitIfAvailable: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * A limiter with a fixed, resizable limit.
 *
 * @category models
 * @since 0.1.0
 */
export interface FixedLimiter extends Limiter {
  /** Changes the limit; see {@link resize}. */
  readonly resize: (limit: number) => Effect.Effect<void, InvalidOptionError>
}

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** The most operations in flight at once: an integer >= 1. */
  readonly limit: number
}

/**
 * Makes a limiter with a fixed limit (changeable later with {@link resize}).
 *
 * **When to use**: to bound how many operations run at once against a resource (connections, a CPU-heavy step, a
 * rate-limited API): Python's `sem = asyncio.Semaphore(10)` with `async with sem:` around each call. Fails with
 * `InvalidOptionError` when `limit` is not an integer >= 1.
 *
 * **Gotchas**: a limiter bounds how many run, not how many wait: with `Effect.forEach(items, f, { concurrency:
 * "unbounded" })` every item is a fiber parked on the limiter (cheap here, O(1) each, but memory grows with the
 * input). To bound the waiting too, use `Effect.forEach` with a `concurrency`, a bounded queue, or a `Bulkhead`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Limiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.make({ limit: 2 })
 *   yield* Effect.forEach([1, 2, 3, 4], (n) => limiter.withPermit(Effect.sleep(n * 10)), {
 *     concurrency: "unbounded"
 *   })
 *   return yield* limiter.stats // { limit: 2, inFlight: 0, waiting: 0, acquired: 4, waited: 2, ... }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options: Options) => Effect.Effect<FixedLimiter, InvalidOptionError> = internal.make

/**
 * Runs `effect` holding a permit: waits (FIFO) until one is free, runs the effect, and gives the permit back
 * however the effect ends. An interrupted waiter leaves the queue and never runs.
 *
 * **When to use**: `async with sem:` in Python, around each call to a shared resource.
 *
 * **Gotchas**: not re-entrant: a fiber that holds a permit and calls `withPermit` on the same limiter again takes
 * a second permit (with limit 1, that deadlocks).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Limiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.make({ limit: 1 })
 *   return yield* Effect.succeed("ok").pipe(Limiter.withPermit(limiter)) // "ok"
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withPermit: {
  (self: Limiter): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Limiter, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
} =
  ((self: Limiter, effect?: Effect.Effect<any, any, any>) =>
    effect === undefined ? (e: Effect.Effect<any, any, any>) => self.withPermit(e) : self.withPermit(effect)) as any

/**
 * Runs `effect` holding a permit if one is free now and nobody waits, and returns `Option.some` of its result;
 * returns `Option.none()` at once otherwise, without running it (counted in `stats.rejected`).
 *
 * **When to use**: load shedding and optional work: skip a cache refresh or answer 503 rather than queue.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Limiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.make({ limit: 1 })
 *   const result = yield* Limiter.withPermitIfAvailable(limiter, Effect.succeed(1))
 *   return Option.getOrElse(result, () => 0) // 1
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withPermitIfAvailable: {
  (self: Limiter): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R>
  <A, E, R>(self: Limiter, effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R>
} = ((self: Limiter, effect?: Effect.Effect<any, any, any>) =>
  effect === undefined
    ? (e: Effect.Effect<any, any, any>) => self.withPermitIfAvailable(e)
    : self.withPermitIfAvailable(effect)) as any

/**
 * Changes the limit of a fixed limiter. A larger limit admits waiters at once; a smaller one lets the holders
 * finish and admits nobody until fewer than the new limit are in flight. Fails with `InvalidOptionError` when
 * `limit` is not an integer >= 1.
 *
 * **When to use**: a limit from live configuration, or one you tune by hand from metrics. For a limit that tunes
 * itself, see {@link adaptive}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Limiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.make({ limit: 10 })
 *   yield* Limiter.resize(limiter, 20)
 *   return (yield* limiter.stats).limit // 20
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const resize: {
  (limit: number): (self: FixedLimiter) => Effect.Effect<void, InvalidOptionError>
  (self: FixedLimiter, limit: number): Effect.Effect<void, InvalidOptionError>
} = dual(2, (self: FixedLimiter, limit: number): Effect.Effect<void, InvalidOptionError> => self.resize(limit))

/**
 * A limiter's statistics now.
 *
 * **When to use**: dashboards, tests, and deciding to shed load (a long `waiting` means the limit is the
 * bottleneck).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Limiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.make({ limit: 3, name: "db" })
 *   return yield* Limiter.stats(limiter) // { name: "db", limit: 3, inFlight: 0, waiting: 0, ... }
 * })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = <S extends Stats>(self: { readonly stats: Effect.Effect<S> }): Effect.Effect<S> => self.stats

/**
 * Whether a value is a limiter made by {@link make} or {@link adaptive}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isLimiter = (u: unknown): u is Limiter =>
  internal.isFixedLimiter(u) || adaptiveInternal.isAdaptiveLimiter(u)

// ---------------------------------------------------------------------------------------------------------------
// keyed: its own module now (KeyedLimiter); these names stay for code written against them
// ---------------------------------------------------------------------------------------------------------------

/**
 * A keyed limiter's statistics.
 *
 * @deprecated Use `KeyedLimiter.Stats`.
 * @category models
 * @since 0.1.0
 */
export type KeyedStats = KeyedLimiterModule.Stats

/**
 * A limiter with a cap per key and an optional global cap.
 *
 * @deprecated Use `KeyedLimiter.KeyedLimiter`.
 * @category models
 * @since 0.1.0
 */
export type KeyedLimiter<K> = KeyedLimiterModule.KeyedLimiter<K>

/**
 * Options of {@link keyed}.
 *
 * @deprecated Use `KeyedLimiter.Options`.
 * @category models
 * @since 0.1.0
 */
export type KeyedOptions = KeyedLimiterModule.Options

/**
 * Makes a keyed limiter; the same function as `KeyedLimiter.make`, which documents it.
 *
 * @deprecated Use `KeyedLimiter.make`.
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KeyedLimiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const hosts = yield* KeyedLimiter.make<string>({ perKey: 2 })
 *   return yield* hosts.withPermit("a.test", Effect.succeed(1)) // 1
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const keyed: <K>(options: KeyedOptions) => Effect.Effect<KeyedLimiter<K>, InvalidOptionError> =
  KeyedLimiterModule.make

/**
 * Whether a value is a keyed limiter; the same function as `KeyedLimiter.isKeyedLimiter`.
 *
 * @deprecated Use `KeyedLimiter.isKeyedLimiter`.
 * @category guards
 * @since 0.1.0
 */
export const isKeyedLimiter: (u: unknown) => u is KeyedLimiter<unknown> = KeyedLimiterModule.isKeyedLimiter

// ---------------------------------------------------------------------------------------------------------------
// adaptive
// ---------------------------------------------------------------------------------------------------------------

/**
 * How an adaptive limiter counts a finished call: a latency sample (`"success"`), a sign of overload that lowers
 * the limit (`"overload"`), or nothing (`"ignore"`).
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = "success" | "overload" | "ignore"

/**
 * The default classification of an adaptive limiter: a success is a sample; a failure with a `TimeoutError`
 * (from `Effect.timeout` inside the limited effect) or a `BulkheadRejectedError` is an overload; any other failure,
 * a defect or an interruption is ignored.
 *
 * **When to use**: as the fallback of your own `classify`, e.g. to also count HTTP 429 and 503 as overload.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { Limiter } from "@async-ops/core"
 *
 * const classify = (exit: Exit.Exit<unknown, unknown>): Limiter.Outcome =>
 *   Exit.isFailure(exit) && String(exit.cause).includes("429") ? "overload" : Limiter.defaultClassify(exit)
 * ```
 *
 * @category adaptive
 * @since 0.1.0
 */
export const defaultClassify: (exit: Exit.Exit<unknown, unknown>) => Outcome = adaptiveInternal.defaultClassify

/**
 * Options every adaptive algorithm takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdaptiveBaseOptions extends MetricsOptions {
  /** The limit at start: an integer in `[min, max]`. Default 20 (clamped into `[min, max]`). Start low: see gotchas. */
  readonly initial?: number | undefined
  /** The lowest the limit goes: an integer >= 1. Default 1. */
  readonly min?: number | undefined
  /** The highest the limit goes: an integer >= `min`. Default 200. */
  readonly max?: number | undefined
  /** How a finished call counts. Default {@link defaultClassify}. */
  readonly classify?: ((exit: Exit.Exit<unknown, unknown>) => Outcome) | undefined
}

/**
 * AIMD options: additive increase on success, multiplicative decrease on overload (Netflix's `AIMDLimit`).
 *
 * @category models
 * @since 0.1.0
 */
export interface AimdOptions extends AdaptiveBaseOptions {
  readonly algorithm: "aimd"
  /** The factor the limit is multiplied by on overload: a number in [0, 1]. Default 0.9. */
  readonly backoffRatio?: number | undefined
  /** How much the limit grows per round trip of successes (`increase / limit` per success): > 0. Default 1. */
  readonly increase?: number | undefined
  /** A success slower than this counts as overload (Netflix's `timeout`). A duration >= 0. Default: none. */
  readonly latencyThreshold?: Duration.Input | undefined
}

/**
 * Gradient2 options: the limit follows the ratio of long-term to short-term latency (Netflix's `Gradient2Limit`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Gradient2Options extends AdaptiveBaseOptions {
  readonly algorithm: "gradient2"
  /** How far each update moves the limit toward its target: a number in [0, 1]. Default 0.2. */
  readonly smoothing?: number | undefined
  /** How much slower than the long-term latency calls may get before the limit shrinks: >= 1. Default 1.5. */
  readonly rttTolerance?: number | undefined
  /** The long-term latency averages over this many windows: an integer >= 1. Default 600. */
  readonly longWindow?: number | undefined
  /** Added to the target at each update, so the limit keeps probing upward: >= 0. Default 2 (Netflix: 4). */
  readonly queueSize?: number | undefined
  /** A window closes after `max(windowSize, limit)` samples: an integer >= 1. Default 10. */
  readonly windowSize?: number | undefined
}

/**
 * Options of {@link adaptive}.
 *
 * @category models
 * @since 0.1.0
 */
export type AdaptiveOptions = AimdOptions | Gradient2Options

/**
 * An adaptive limiter's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdaptiveStats extends Stats {
  readonly algorithm: "aimd" | "gradient2"
  readonly min: number
  readonly max: number
  /** The algorithm's real-valued estimate (the limit is its integer part, within `[min, max]`). */
  readonly estimate: number
  /** Calls counted as a sample (success or overload). */
  readonly samples: number
  /** Of which overloads. */
  readonly overloads: number
  /** Calls classified `"ignore"`. */
  readonly ignored: number
}

/**
 * A limiter whose limit adapts.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdaptiveLimiter extends Limiter {
  readonly stats: Effect.Effect<AdaptiveStats>
}

/**
 * Makes a limiter whose limit follows the latency of the calls it admits and the overload signals they report,
 * within `[min, max]`, after Netflix's concurrency-limits. Admission is the same FIFO as {@link make}; each call's
 * latency is measured from admission to its end (time spent waiting for a permit does not count).
 *
 * - `"aimd"`: +`increase` per round trip of successes, times `backoffRatio` on an overload (a classified
 *   overload, or a success slower than `latencyThreshold`). One overload event decreases once: overloads reported
 *   by calls admitted before the last decrease do not decrease again (as TCP does per window).
 * - `"gradient2"`: per window of about one round trip, `limit * gradient + queueSize` with `gradient =
 *   clamp(rttTolerance * longLatency / shortLatency, 0.5, 1)`, smoothed; an overload in the window uses 0.5.
 *
 * **When to use**: in front of a dependency whose capacity you do not know or that changes (autoscaling, noisy
 * neighbours): the limit finds the knee where latency starts to climb, sheds the excess as queueing on your side
 * instead of theirs, and recovers when capacity returns.
 *
 * **Gotchas**:
 * - Put the timeout inside the limited effect (`limiter.withPermit(call.pipe(Effect.timeout("1 second")))`):
 *   a timeout outside interrupts the call, and interruptions are ignored.
 * - Start low (`initial` at or below the expected capacity): Gradient2 learns the no-load latency from the first
 *   windows; starting far above the knee with no overload signal (no timeout) teaches it that slow is normal.
 * - Fails with `InvalidOptionError` for non-integer or out-of-range limits (`min > max`, `initial` outside), ratios
 *   outside [0, 1], NaN or negative durations.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Limiter } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* Limiter.adaptive({ algorithm: "aimd", initial: 10, min: 2, max: 100 })
 *   const call = Effect.sleep("20 millis").pipe(Effect.timeout("100 millis"))
 *   yield* Effect.forEach(Array.from({ length: 50 }), () => limiter.withPermit(call), { concurrency: 20 })
 *   return (yield* limiter.stats).limit
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const adaptive: (options: AdaptiveOptions) => Effect.Effect<AdaptiveLimiter, InvalidOptionError> =
  adaptiveInternal.make
