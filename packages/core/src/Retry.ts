/**
 * Retry policies for the seed's retry patterns, as Effect `Schedule`s: the Python `retry_with_backoff` loop
 * (`for attempt in range(max_retries): try ... except: await asyncio.sleep(min(base * 2 ** attempt, max_delay))`)
 * and its `@retry(...)` decorator, tenacity's `wait_random_exponential` / `retry_if_exception`, plus what those
 * lack: honouring the `Retry-After` an error carries, stopping when the `Deadline` budget cannot cover the
 * next wait, and a retry budget shared by many callers (Finagle's `RetryBudget`) so a failing dependency does not
 * turn every call into `maxAttempts` calls.
 *
 * Everything here is a `Schedule` driven by Effect's own `Effect.retry`; there is no second retry engine. Use
 * {@link retry} for the common case, {@link schedule} to pass the same policy to `Effect.retry`, `HttpClient.retry`
 * or `ExecutionPlan`, and the combinators ({@link withRetryAfter}, {@link whileDeadline}, {@link withBudget}) to add
 * one feature to a schedule of your own.
 *
 * @see https://effect.website/docs/error-management/retrying/
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 * @see https://twitter.github.io/finagle/guide/Clients.html#retries
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as internal from "./internal/retry.ts"
import * as internalBudget from "./internal/retryBudget.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * An error that says how long to wait before trying again: an HTTP 429/503 with a `Retry-After` header, a rate
 * limiter's rejection. Implement it on your own errors; the retry policies wait at least `retryAfter`.
 *
 * **When to use**: give your rate-limit or overload error a `retryAfter` field (a `Duration`) and the policies
 * of this module honour it with no further option.
 *
 * **Gotchas**: Effect's `RateLimiterError` (reason `RateLimitExceeded`) and `CircuitBreakerError` (reason
 * `CircuitOpen`) carry `retryAfter` in their `reason`; {@link retryAfterOf} reads it there too.
 *
 * @example
 * ```ts
 * import { Data, Duration } from "effect"
 * import type { Retry } from "@async-ops/core"
 *
 * class TooManyRequests extends Data.TaggedError("TooManyRequests")<{ readonly retryAfter: Duration.Duration }>
 *   implements Retry.RetryAfter {}
 *
 * const e = new TooManyRequests({ retryAfter: Duration.seconds(2) })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryAfter {
  /** The least time to wait before the next attempt. */
  readonly retryAfter: Duration.Duration
}

/**
 * The `retryAfter` an error carries, if any: its own `retryAfter` field, or its `reason`'s (Effect's
 * `RateLimiterError`, `CircuitBreakerError`). A number is read as milliseconds; anything else that is not a valid
 * duration >= 0 is ignored.
 *
 * **When to use**: in a schedule of your own (`Schedule.modifyDelay`), or to log the server's hint.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { Retry } from "@async-ops/core"
 *
 * Retry.retryAfterOf({ retryAfter: Duration.seconds(2) }) // Duration 2 seconds
 * Retry.retryAfterOf(new Error("boom")) // undefined
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const retryAfterOf: (error: unknown) => Duration.Duration | undefined = internal.retryAfterOf

/**
 * Options of {@link retry} and {@link schedule}. Every field is optional: the defaults retry any typed error 3
 * times in all (2 retries) with full-jitter exponential backoff from 100 ms, capped at 30 s, honouring
 * `retryAfter` and the deadline. With `metrics: true` (primitive `"Retry"`): acquired = retries made, rejected =
 * calls that gave up (attempts, predicate, deadline or budget said stop), wait time = each backoff delay.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<in E> extends MetricsOptions {
  /** The first backoff delay (before jitter). Default 100 ms. */
  readonly base?: Duration.Input | undefined
  /** The growth factor: the n-th retry waits `base × factor^(n-1)` (before cap and jitter). Default 2; >= 1. */
  readonly factor?: number | undefined
  /** The cap on a backoff delay: `min(maxDelay, base × factor^(n-1))`. Default 30 s. A `retryAfter` may exceed it. */
  readonly maxDelay?: Duration.Input | undefined
  /** The most attempts in all, the first included: an integer >= 1, or `Infinity`. Default 3. */
  readonly maxAttempts?: number | undefined
  /**
   * How to spread retries of many callers: `"full"` (default; AWS's "full jitter": a delay drawn uniformly from
   * [0, capped delay)), `"proportional"` (Effect's `Schedule.jittered`: × 0.8–1.2, then capped) or `"none"`.
   * Randomness comes from Effect's `Random` service, so `Random.withSeed` makes it reproducible.
   */
  readonly jitter?: "full" | "proportional" | "none" | undefined
  /** Which errors to retry; the others fail at once. Default: every typed error (defects are never retried). */
  readonly retryOn?: ((error: E) => boolean) | undefined
  /** Wait at least the `retryAfter` an error carries ({@link RetryAfter}). Default `true`. */
  readonly retryAfter?: boolean | undefined
  /**
   * Give up (with the last error) when the next wait would not end before the `Deadline` in force.
   * Default `true`; no effect outside a deadline.
   */
  readonly deadline?: boolean | undefined
  /** A retry budget shared with other callers: a retry it refuses ends the call with the last error. */
  readonly budget?: RetryBudget | undefined
}

/**
 * The retry policy as a `Schedule` for `Effect.retry` (or anything that takes one: `HttpClient.retry`,
 * `ExecutionPlan`, `Stream.retry`). Its input is the error; it stops, so `Effect.retry` fails with the last error,
 * when attempts run out, the error is not retryable, the deadline cannot cover the wait, or the budget says no.
 *
 * **When to use**: to reuse one policy across several call sites, or to combine it with Effect's schedule
 * combinators. For a one-off, {@link retry} is shorter.
 *
 * **Gotchas**:
 * - Invalid options make the schedule fail with `InvalidOptionError` when `Effect.retry` first steps it, which is
 *   after the first attempt failed. {@link retry} checks them before the first attempt.
 * - Its output is the exponential backoff before cap and jitter; the actual wait is the schedule's delay.
 * - `maxAttempts` counts attempts (first included), Effect's `times` counts retries: `maxAttempts: 3` is `times: 2`.
 * - With a `budget`, each run of the schedule deposits once (one call), so build one schedule and reuse it.
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { Retry } from "@async-ops/core"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 *
 * const policy = Retry.schedule<Unavailable>({ base: "100 millis", maxDelay: "2 seconds", maxAttempts: 5 })
 * const program = Effect.fail(new Unavailable()).pipe(Effect.retry(policy))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const schedule: <E = unknown>(
  options?: Options<E>
) => Schedule.Schedule<Duration.Duration, E, InvalidOptionError> = internal.schedule

/**
 * Runs an effect and retries its typed failures by a policy: the Python `retry_with_backoff` helper, and, used
 * data-last, the `@retry(...)` decorator (`const retried = Retry.retry(policy)` applies to any effect). The final
 * failure is the last attempt's typed error `E`, never a wrapper; defects and interruptions are not retried.
 *
 * **When to use**: around an idempotent call to a dependency that fails transiently (timeouts, 503, 429), with
 * `retryOn` to leave permanent errors (404, validation) alone.
 *
 * **Gotchas**:
 * - Retrying a non-idempotent call can repeat its side effect.
 * - Without a `Deadline` and with a large `retryAfter`, a call may wait long: bound it with
 *   `Deadline.within`, which this policy then respects (it gives up instead of sleeping past the deadline).
 * - Invalid options fail with `InvalidOptionError` before the first attempt.
 *
 * @example
 * ```ts
 * import { Data, Duration, Effect } from "effect"
 * import { Deadline, Retry } from "@async-ops/core"
 *
 * class HttpError extends Data.TaggedError("HttpError")<{
 *   readonly status: number
 *   readonly retryAfter?: Duration.Duration
 * }> {}
 *
 * declare const fetchUser: (id: number) => Effect.Effect<string, HttpError>
 *
 * const program = fetchUser(7).pipe(
 *   Retry.retry({
 *     maxAttempts: 5,
 *     retryOn: (e) => e.status === 429 || e.status >= 500
 *   }),
 *   Deadline.within("10 seconds")
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const retry: {
  <E>(options: Options<NoInfer<E>>): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidOptionError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options: Options<NoInfer<E>>): Effect.Effect<A, E | InvalidOptionError, R>
} = internal.retry

/**
 * Makes a schedule wait at least the `retryAfter` its input (the error) carries, as read by {@link retryAfterOf}.
 * Delays without a hint are unchanged.
 *
 * **When to use**: on a schedule of your own, to honour `Retry-After` from a 429 or 503.
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { Retry } from "@async-ops/core"
 *
 * const policy = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 4 }), Retry.withRetryAfter)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withRetryAfter: <Output, Input, Error, Env>(
  self: Schedule.Schedule<Output, Input, Error, Env>
) => Schedule.Schedule<Output, Input, Error, Env> = internal.withRetryAfter

/**
 * Stops a schedule when its next delay would not end before the `Deadline` in force (`Deadline.remaining`),
 * so `Effect.retry` fails at once with the last error instead of sleeping into a `DeadlineExceededError`. Outside
 * any deadline it changes nothing.
 *
 * **When to use**: on a schedule of your own, inside `Deadline.within`/`Deadline.at`.
 *
 * **Gotchas**: it checks the wait, not the attempt after it: an attempt may still start with little budget left.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Deadline, Retry } from "@async-ops/core"
 *
 * declare const call: Effect.Effect<string, Error>
 *
 * const program = call.pipe(
 *   Effect.retry(Schedule.spaced("1 second").pipe(Retry.whileDeadline)),
 *   Deadline.within("5 seconds")
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const whileDeadline: <Output, Input, Error, Env>(
  self: Schedule.Schedule<Output, Input, Error, Env>
) => Schedule.Schedule<Output, Input, Error, Env> = internal.whileDeadline

/**
 * Limits a schedule's retries by a shared {@link RetryBudget}: each run of the schedule (each call) deposits, each
 * retry withdraws, and a retry the budget refuses stops the schedule (the call fails with its last error).
 *
 * **When to use**: on any retry schedule of calls to a shared dependency, so that when it fails for everyone the
 * retries add at most `ratio` to its load.
 *
 * **Gotchas**: put it last in the pipe, so a retry stopped by another rule (attempts, deadline) spends nothing.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Retry } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* Retry.makeBudget({ ratio: 0.1 })
 *   const policy = Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: 3 }), Retry.withBudget(budget))
 *   return yield* Effect.fail("down").pipe(Effect.retry(policy), Effect.flip)
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withBudget: {
  (
    budget: RetryBudget
  ): <Output, Input, Error, Env>(
    self: Schedule.Schedule<Output, Input, Error, Env>
  ) => Schedule.Schedule<Output, Input, Error, Env>
  <Output, Input, Error, Env>(
    self: Schedule.Schedule<Output, Input, Error, Env>,
    budget: RetryBudget
  ): Schedule.Schedule<Output, Input, Error, Env>
} = internal.withBudget

/**
 * Options of {@link makeBudget}. Defaults are Finagle's: `ratio` 0.2, `minRetriesPerSecond` 10, `window` 10 s.
 *
 * @category models
 * @since 0.1.0
 */
export interface BudgetOptions extends MetricsOptions {
  /** Retries allowed per call, over the window: a number in [0, 1]. Default 0.2 (retries add at most 20% load). */
  readonly ratio?: number | undefined
  /**
   * The floor: retries allowed per second whatever the traffic, so a quiet client can still retry. A finite
   * number >= 0; the window holds `minRetriesPerSecond × window seconds` of them. Default 10.
   */
  readonly minRetriesPerSecond?: number | undefined
  /** How long a call's deposit and a retry's withdrawal count: a finite duration > 0. Default 10 s. */
  readonly window?: Duration.Input | undefined
}

/**
 * A budget's counters.
 *
 * @category models
 * @since 0.1.0
 */
export interface BudgetStats {
  readonly name: string
  /** Calls that deposited (runs of a schedule with this budget, or `deposit`). */
  readonly calls: number
  /** Retries the budget allowed. */
  readonly retries: number
  /** Retries the budget refused. */
  readonly rejected: number
  /** Retries it would allow now. */
  readonly available: number
}

/**
 * The brand of a {@link RetryBudget}: budgets are made by {@link makeBudget} only (the retry policies and `Hedge`
 * use its state directly, synchronously).
 *
 * @category type IDs
 * @since 0.1.0
 */
export const BudgetTypeId: BudgetTypeId = "~@async-ops/core/Retry/RetryBudget"

/**
 * The type of {@link BudgetTypeId}.
 *
 * @category type IDs
 * @since 0.1.0
 */
export type BudgetTypeId = "~@async-ops/core/Retry/RetryBudget"

/**
 * A retry budget: retries limited to a ratio of calls over a sliding window, plus a floor of retries per second
 * (Finagle's `RetryBudget`). Shared by every caller of a dependency, it turns a retry storm (every call retried
 * `maxAttempts` times against a dependency that is down) into at most `ratio` extra load.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryBudget {
  readonly [BudgetTypeId]: BudgetTypeId
  readonly name: string
  /** Records a call (what a schedule with this budget does once per run). */
  readonly deposit: Effect.Effect<void>
  /** Takes one retry from the budget: `true` if allowed (and counted), `false` if refused. */
  readonly tryWithdraw: Effect.Effect<boolean>
  /** The counters now. */
  readonly stats: Effect.Effect<BudgetStats>
}

/**
 * Makes a {@link RetryBudget}. Its state is its own (one per budget object) and its time comes from the `Clock`
 * in context when it is made (`TestClock` in tests).
 *
 * **When to use**: one per dependency (host, service), shared by every caller through `budget` in {@link retry}
 * / {@link schedule}, {@link withBudget}, or a `Hedge`'s `budget`.
 *
 * **Gotchas**:
 * - The window is kept in 10 slices, so a deposit expires between 0.9 and 1 window after it was made.
 * - With `ratio` 0 and `minRetriesPerSecond` 0 nothing is ever retried.
 * - Invalid options (ratio outside [0, 1], a negative or non-finite floor, a window that is not a finite
 *   duration > 0) fail with `InvalidOptionError` naming the option.
 * - With `metrics: true` (primitive `"RetryBudget"`): acquired = retries allowed, rejected = retries refused,
 *   limit = retries available now.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* Retry.makeBudget({ ratio: 0.1, minRetriesPerSecond: 1, name: "payments" })
 *   const charge = Effect.fail("503").pipe(Retry.retry({ maxAttempts: 4, budget }))
 *   yield* Effect.ignore(Effect.all([charge, charge, charge], { concurrency: "unbounded" }))
 *   return yield* budget.stats // { calls: 3, retries, rejected, available, name }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeBudget: (options?: BudgetOptions) => Effect.Effect<RetryBudget, InvalidOptionError> =
  internalBudget.makeBudget
