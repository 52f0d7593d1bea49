/**
 * A throttle for effect calls: at most `limit` calls start in any `window` of time. Python has no built-in one
 * (people write a token bucket around `asyncio.sleep`, or use `aiolimiter.AsyncLimiter(limit, period)`); this is
 * that limiter for fibers. Excess calls either wait their turn (`"delay"`: FIFO, constant cost per waiter, an
 * interrupted waiter gives its place to the next one and takes no slot) or fail at once with a
 * {@link ThrottledError} that says when to retry (`"reject"`).
 *
 * The window slides: a call may start at `t` when fewer than `limit` calls started in the `window` before `t`, so
 * every span of length `window` holds at most `limit` starts, including across what a fixed window would call a
 * boundary. It counts call starts, not calls in flight: to bound concurrency as well, combine it with a Mutex,
 * a Limiter or a Semaphore.
 *
 * Why not Effect's `RateLimiter` (`effect/persistence`): it is built for a shared store (Redis) and reserves a
 * future slot per call. Measured under TestClock with limit 2 per second and a burst of 6 delayed calls, then 4 of
 * them interrupted: the reserved slots of the interrupted callers are never given back, so the next caller started
 * at 3,000 ms (`"fixed-window"`) or 2,500 ms (`"token-bucket"`) where this throttle starts it at 1,000 ms; its
 * token bucket also let 3 calls start within the first second (at 0, 0 and 500 ms) for a limit of 2. It has no
 * FIFO line, statistics or metrics either. Use `RateLimiter` for limits shared across processes.
 *
 * @see https://github.com/mjpieters/aiolimiter (the Python library it answers)
 * @see Effect's `RateLimiter` in `effect/persistence` (limits shared through a store, across processes)
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/throttle.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * What happens to a call over the limit: `"delay"` makes it wait for a slot (FIFO), `"reject"` fails it at once
 * with {@link ThrottledError}.
 *
 * @category models
 * @since 0.1.0
 */
export type Strategy = "delay" | "reject"

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** The most calls that may start in any span of `window`: an integer >= 1. */
  readonly limit: number
  /** The span the limit applies to: a finite duration > 0, e.g. `"1 second"`. */
  readonly window: Duration.Input
  /** `"delay"` (the default) or `"reject"`. */
  readonly strategy?: Strategy | undefined
}

/**
 * A throttle's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  readonly strategy: Strategy
  readonly limit: number
  readonly windowMillis: number
  /** Calls that could start right now (`limit` minus the starts in the last `window`). */
  readonly available: number
  /** Callers waiting for a slot now (`"delay"`). */
  readonly waiting: number
  /** Effects started by {@link withThrottle} and not ended yet. */
  readonly running: number
  /** Calls admitted in all. */
  readonly admitted: number
  /** How many of those had to wait. */
  readonly delayed: number
  /** Calls rejected with {@link ThrottledError} (`"reject"`). */
  readonly rejected: number
}

/**
 * A throttle. `E` is {@link ThrottledError} for the `"reject"` strategy and `never` for `"delay"`. The module
 * functions and these methods are the same operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface Throttle<out E = ThrottledError> {
  readonly name: string
  readonly limit: number
  readonly window: Duration.Duration
  readonly strategy: Strategy
  /** Takes one slot: waits for it (`"delay"`) or fails (`"reject"`); see {@link take}. */
  readonly take: Effect.Effect<void, E>
  /** Runs `effect` once a slot is taken; see {@link withThrottle}. */
  readonly withThrottle: <A, E2, R>(effect: Effect.Effect<A, E2, R>) => Effect.Effect<A, E | E2, R>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * A call went over a `"reject"` throttle's limit. `retryAfter` is how long until a slot frees up (if nobody else
 * takes it first).
 *
 * @category errors
 * @since 0.1.0
 */
export class ThrottledError extends Data.TaggedError("ThrottledError")<{
  /** The throttle's name. */
  readonly name: string
  readonly limit: number
  readonly window: Duration.Duration
  /** How long until the next slot frees up. */
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Throttle "${this.name}": more than ${this.limit} calls in ${this.window}; retry after ${this.retryAfter}`
  }
}

/**
 * Whether a value is a {@link ThrottledError}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isThrottledError = (u: unknown): u is ThrottledError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "ThrottledError"

/**
 * Makes a throttle that lets at most `limit` calls start in any span of `window`. Fails with
 * `InvalidOptionError` naming the option for a `limit` that is not an integer >= 1, a `window` that is not a
 * finite duration > 0, or an unknown `strategy`.
 *
 * **When to use**: to respect a rate limit you were given ("10 requests per second" of an API, "5 emails a
 * minute") across all the fibers of a process. For a limit shared between processes, use Effect's
 * `RateLimiter` with a Redis store.
 *
 * **Gotchas**:
 * - It counts starts, not calls in flight: slow calls can pile up. Add a concurrency limit if that matters.
 * - With `"delay"`, the line is unbounded: a caller may wait a long time. Wrap the call in `Effect.timeout`, or
 *   use `"reject"` and retry with the error's `retryAfter`.
 * - Memory is O(limit) (the start times of the last `limit` calls).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Throttle } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const throttle = yield* Throttle.make({ limit: 10, window: "1 second" })
 *   const call = (i: number) => Throttle.withThrottle(throttle, Effect.succeed(i))
 *   // 25 calls: 10 start at once, 10 more a second later, the last 5 after two seconds
 *   return yield* Effect.forEach(Array.from({ length: 25 }, (_, i) => i), call, { concurrency: "unbounded" })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  (options: Options & { readonly strategy: "reject" }): Effect.Effect<Throttle<ThrottledError>, InvalidOptionError>
  (options: Options & { readonly strategy?: "delay" | undefined }): Effect.Effect<Throttle<never>, InvalidOptionError>
  (options: Options): Effect.Effect<Throttle<ThrottledError>, InvalidOptionError>
} = internal.make as any

/**
 * Runs `effect` once the throttle admits it (data-first `withThrottle(throttle, effect)`, or
 * `effect.pipe(withThrottle(throttle))`): at once if a slot is free, after waiting in FIFO order for one
 * (`"delay"`), or not at all, failing with {@link ThrottledError} (`"reject"`). Interrupting a waiting caller
 * removes it from the line without using a slot.
 *
 * **When to use**: wrap each call to the rate-limited thing (`client.get(url).pipe(Throttle.withThrottle(t))`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Throttle } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const throttle = yield* Throttle.make({ limit: 2, window: "1 second", strategy: "reject" })
 *   const ping = Effect.succeed("pong").pipe(Throttle.withThrottle(throttle))
 *   yield* ping
 *   yield* ping
 *   return yield* ping.pipe(Effect.catchTag("ThrottledError", (e) => Effect.succeed(`retry in ${e.retryAfter}`)))
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withThrottle: {
  <E>(self: Throttle<E>): <A, E2, R>(effect: Effect.Effect<A, E2, R>) => Effect.Effect<A, E | E2, R>
  <E, A, E2, R>(self: Throttle<E>, effect: Effect.Effect<A, E2, R>): Effect.Effect<A, E | E2, R>
} = function(self: Throttle<unknown>, effect?: Effect.Effect<unknown, unknown, unknown>) {
  return arguments.length === 1
    ? (e: Effect.Effect<unknown, unknown, unknown>) => self.withThrottle(e)
    : self.withThrottle(effect!)
} as any

/**
 * Takes one slot without running anything: returns when the call may start (`"delay"`), or fails with
 * {@link ThrottledError} (`"reject"`).
 *
 * **When to use**: when the throttled work is not one effect, e.g. a loop that sends one message per slot.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Throttle } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const throttle = yield* Throttle.make({ limit: 5, window: "1 minute" })
 *   for (const to of ["a@x", "b@x"]) {
 *     yield* Throttle.take(throttle)
 *     yield* Effect.log(`email to ${to}`)
 *   }
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const take = <E>(self: Throttle<E>): Effect.Effect<void, E> => self.take

/**
 * The throttle's statistics now.
 *
 * **When to use**: metrics and tests (a long line means the limit is the bottleneck).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Throttle } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const throttle = yield* Throttle.make({ limit: 3, window: 1000 })
 *   yield* Throttle.take(throttle)
 *   return (yield* Throttle.stats(throttle)).available // 2
 * })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = <E>(self: Throttle<E>): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is a {@link Throttle} made by this module.
 *
 * @category guards
 * @since 0.1.0
 */
export const isThrottle: (u: unknown) => u is Throttle<unknown> = internal.isThrottle
