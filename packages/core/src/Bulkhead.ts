/**
 * A bulkhead: bounded concurrency plus a bounded wait queue with an optional wait timeout, so a saturated
 * dependency turns extra calls into a fast typed failure instead of an ever-growing pile of waiting tasks. It
 * answers the seed's `Bulkhead` class (an `asyncio.Semaphore` with a queue count and `asyncio.wait_for` on the
 * acquire) and cockatiel's `bulkhead(limit, queue)`. Unlike cockatiel's before its fix, a queued call that is
 * interrupted frees its queue slot at once.
 *
 * @see `Limiter.make` (the same FIFO admission without the queue bound; a bulkhead is built on it)
 * @see https://github.com/connor4312/cockatiel#bulkhead-isolation
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { Pipeable } from "effect/Pipeable"
import * as internal from "./internal/bulkhead.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * A call was turned away by a bulkhead: the queue was full when it arrived (`"queue-full"`), or it waited in the
 * queue longer than `queueTimeout` (`"queue-timeout"`). The effect never ran.
 *
 * **When to use**: match it to answer 503 / `Retry-After`, fall back to a cache, or count it as overload (an
 * adaptive `Limiter` does so by default).
 *
 * @category errors
 * @since 0.1.0
 */
export class BulkheadRejectedError extends Data.TaggedError("BulkheadRejectedError")<{
  /** The bulkhead's name. */
  readonly name: string
  readonly reason: "queue-full" | "queue-timeout"
  readonly maxConcurrent: number
  readonly maxQueued: number
  /** The queue timeout in milliseconds, or `undefined` without one. */
  readonly queueTimeout: number | undefined
}> {
  override get message(): string {
    return this.reason === "queue-full"
      ? `Bulkhead ${this.name}: rejected, ${this.maxConcurrent} running and ${this.maxQueued} queued (queue full)`
      : `Bulkhead ${this.name}: rejected after waiting ${this.queueTimeout} ms in the queue (queue timeout)`
  }
}

/**
 * Whether a value is a {@link BulkheadRejectedError}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isBulkheadRejectedError = (u: unknown): u is BulkheadRejectedError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "BulkheadRejectedError"

/**
 * A bulkhead's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueued: number
  /** Calls running now. */
  readonly inFlight: number
  /** Calls waiting in the queue now. */
  readonly queued: number
  /** Calls admitted in all. */
  readonly acquired: number
  /** Of which waited in the queue first. */
  readonly waited: number
  /** Calls rejected because the queue was full. */
  readonly rejectedQueueFull: number
  /** Calls rejected because they waited longer than `queueTimeout`. */
  readonly rejectedQueueTimeout: number
}

/**
 * A bulkhead. The module function {@link withPermit} and the method are the same operation.
 *
 * @category models
 * @since 0.1.0
 */
export interface Bulkhead extends Pipeable {
  readonly name: string
  /** Runs `effect` in the bulkhead, or fails with {@link BulkheadRejectedError}; see {@link withPermit}. */
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejectedError, R>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** The most calls running at once: an integer >= 1. */
  readonly maxConcurrent: number
  /** The most calls waiting for a slot: an integer >= 0 (0: reject as soon as all slots are busy). */
  readonly maxQueued: number
  /** The longest a call may wait in the queue: a duration >= 0. Default: no limit. */
  readonly queueTimeout?: Duration.Input | undefined
}

/**
 * Makes a bulkhead.
 *
 * **When to use**: around a dependency that can saturate (a database pool, a slow downstream API), so that when
 * it does, callers fail fast with a typed error you can answer (503, a fallback) instead of piling up and timing
 * out later with everything else. Fails with `InvalidOptionError` for a `maxConcurrent` that is not an integer
 * >= 1, a `maxQueued` that is not an integer >= 0, or a NaN or negative `queueTimeout`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 10, maxQueued: 20, queueTimeout: "1 second" })
 *   return yield* bulkhead.withPermit(Effect.succeed("row"))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options: Options) => Effect.Effect<Bulkhead, InvalidOptionError> = internal.make

/**
 * Runs `effect` in the bulkhead: at once if a slot is free; otherwise in the queue (FIFO) if it has room, for at
 * most `queueTimeout`; otherwise it fails at once with {@link BulkheadRejectedError} `"queue-full"`. A call that
 * waited too long fails with `"queue-timeout"`. The slot is released however the effect ends.
 *
 * **When to use**: `async with bulkhead:` in the seed, around each call to the protected dependency.
 *
 * **Gotchas**: the queue timeout bounds only the wait, not the call; put an `Effect.timeout` on the effect for
 * that. Interrupting a queued call frees its queue slot at once.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 0 })
 *   const slow = Effect.sleep("1 second")
 *   const [, second] = yield* Effect.all([
 *     Bulkhead.withPermit(bulkhead, slow),
 *     Bulkhead.withPermit(bulkhead, slow).pipe(Effect.flip)
 *   ], { concurrency: "unbounded" })
 *   return second.reason // "queue-full"
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withPermit: {
  (self: Bulkhead): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejectedError, R>
  <A, E, R>(self: Bulkhead, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejectedError, R>
} =
  ((self: Bulkhead, effect?: Effect.Effect<any, any, any>) =>
    effect === undefined ? (e: Effect.Effect<any, any, any>) => self.withPermit(e) : self.withPermit(effect)) as any

/**
 * A bulkhead's statistics now.
 *
 * **When to use**: dashboards and alerts (rejections climbing means the dependency or the limits need attention),
 * and tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueued: 4 })
 *   return yield* Bulkhead.stats(bulkhead) // { inFlight: 0, queued: 0, rejectedQueueFull: 0, ... }
 * })
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = (self: Bulkhead): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is a {@link Bulkhead} made by {@link make}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isBulkhead: (u: unknown) => u is Bulkhead = internal.isBulkhead
