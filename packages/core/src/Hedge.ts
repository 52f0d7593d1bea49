/**
 * Hedged requests ("The Tail at Scale"): when a call has not answered after a delay, start a duplicate and keep
 * whichever succeeds first, interrupting the others (their finalizers run before the call returns). A small extra
 * load buys a large cut in tail latency when slowness is random per attempt (a GC pause, a slow replica, a lost
 * packet). In asyncio it is hand-written with `asyncio.wait(..., return_when=FIRST_COMPLETED)` plus a
 * `create_task` after `asyncio.sleep(delay)` and `task.cancel()` for the rest; gRPC and Finagle
 * (`BackupRequestFilter`) ship it. The delay is fixed or follows a latency percentile observed so far (p95 of the
 * last N attempts), and extra load is capped per call (`maxExtra`) and optionally by a shared budget (hedges at
 * most a ratio of calls, Finagle's `maxExtraLoad`).
 *
 * Builds on Effect's fibers and `Clock` (`Effect.race` has no delayed start, no cap and no stats).
 *
 * @see https://research.google/pubs/the-tail-at-scale/
 * @see https://twitter.github.io/finagle/guide/MethodBuilder.html#idempotency
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/hedge.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"
import type { RetryBudget } from "./Retry.ts"

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /**
   * How long to wait for an attempt before starting the next: a duration >= 0 (`Infinity`: never hedge). With
   * `percentile`, the delay used until `minSamples` latencies have been seen. Default 50 ms.
   */
  readonly delay?: Duration.Input | undefined
  /**
   * Hedge after this percentile of the latencies observed so far (the last `window` attempts), e.g. `95`: a
   * number in (0, 100]; recomputed every `window / 10` samples. Default: none (the fixed `delay`).
   */
  readonly percentile?: number | undefined
  /** How many latency samples the percentile is taken over: an integer >= 1. Default 100. */
  readonly window?: number | undefined
  /** Samples needed before the percentile replaces `delay`: an integer in [1, window]. Default min(10, window). */
  readonly minSamples?: number | undefined
  /** The most extra attempts per call: an integer >= 0 (0 disables hedging). Default 1. */
  readonly maxExtra?: number | undefined
  /**
   * A budget for hedges across calls: each call deposits, each hedge withdraws, and a hedge it refuses is not
   * started (the call goes on with the attempts it has). `Retry.makeBudget({ ratio: 0.1 })` caps hedges at about
   * 10% of calls over its window (plus its floor). Give hedging its own budget rather than a retry budget:
   * both deposit per call.
   */
  readonly budget?: RetryBudget | undefined
}

/**
 * A hedger's counters.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /** Calls made through the hedger. */
  readonly calls: number
  /** Calls running now. */
  readonly inFlight: number
  /** Attempts running now (first attempts and hedges). */
  readonly attempts: number
  /** Hedges (extra attempts) started. */
  readonly hedges: number
  /** Calls won by a hedge rather than by the first attempt. */
  readonly hedgesWon: number
  /** Hedges the budget refused. */
  readonly hedgesRejected: number
  /** The hedge delay the next call would use. */
  readonly delay: Duration.Duration
}

/**
 * Runs calls hedged, keeping latency samples, counters and the budget across calls.
 *
 * @category models
 * @since 0.1.0
 */
export interface Hedger {
  readonly name: string
  /**
   * Runs `effect` hedged: the first attempt at once, one more after each delay while none has succeeded (at most
   * `maxExtra` more), and returns the first success after interrupting the other attempts and waiting for their
   * finalizers. A typed failure of one attempt does not end the call while another runs; when every started
   * attempt has failed, the call fails with the first failure (by time). A defect ends the call at once.
   */
  readonly run: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The counters now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * Makes a {@link Hedger}.
 *
 * **When to use**: for idempotent reads against replicated backends where latency has a long tail (p99 far above
 * p50): a key-value lookup, a search shard, a DNS query. One hedger per dependency, so its percentile describes
 * that dependency.
 *
 * **Gotchas**:
 * - Only for idempotent calls: the duplicate may also reach the server (and an interrupted attempt may still have
 *   had its effect).
 * - Hedging does not retry: once every attempt started so far has failed, the call fails, even if more hedges
 *   were allowed. Put `Retry.retry` around the hedged call for that.
 * - The call returns after the losing attempts' finalizers ran: slow cleanup delays the result. A defect in that
 *   cleanup makes the call die with it rather than hide it.
 * - The percentile is taken over attempts' run times, where an interrupted loser counts with the time it had run
 *   (a lower bound): the estimate leans low, so hedges start a little early rather than late.
 * - Invalid options fail with `InvalidOptionError` naming the option.
 * - With `metrics: true` (primitive `"Hedge"`): in flight = attempts running (first attempts and hedges),
 *   acquired = hedges started, rejected = hedges the budget refused.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "@async-ops/core"
 *
 * declare const lookup: (key: string) => Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const hedger = yield* Hedge.make({ delay: "20 millis", percentile: 95, maxExtra: 1 })
 *   const value = yield* hedger.run(lookup("user:7"))
 *   const stats = yield* hedger.stats // => { calls: 1, hedges, hedgesWon, delay, ... }
 *   return value
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: Options) => Effect.Effect<Hedger, InvalidOptionError> = internal.make

/**
 * Runs an effect through a hedger: `Hedge.run(effect, hedger)` or `effect.pipe(Hedge.run(hedger))`, the same as
 * `hedger.run(effect)`.
 *
 * **When to use**: in a pipe, next to the other combinators of a call (`Retry.retry`, `Deadline.within`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Deadline, Hedge } from "@async-ops/core"
 *
 * declare const lookup: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const hedger = yield* Hedge.make({ delay: "50 millis" })
 *   return yield* lookup.pipe(Hedge.run(hedger), Deadline.within("1 second"))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const run: {
  (hedger: Hedger): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, hedger: Hedger): Effect.Effect<A, E, R>
} = internal.run

/**
 * Whether a value is a {@link Hedger} made by this module.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "@async-ops/core"
 *
 * const program = Effect.map(Hedge.make(), (hedger) => [Hedge.isHedger(hedger), Hedge.isHedger({})])
 * // => [true, false]
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isHedger: (u: unknown) => u is Hedger = internal.isHedger
