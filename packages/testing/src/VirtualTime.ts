/**
 * Virtual-time helpers on top of Effect's `TestClock`. `autojump` runs an effect to completion by jumping the
 * `TestClock` straight to the next pending sleep whenever every fiber of the effect is idle: trio's
 * `autojump_clock`, so a test never has to work out `TestClock.adjust` amounts, and a deadlock (nothing runs,
 * nothing sleeps) fails fast with a typed error instead of hanging until the test timeout.
 *
 * @see https://trio.readthedocs.io/en/stable/reference-testing.html#trio.testing.MockClock.autojump_threshold
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/virtualTime.ts"

/**
 * The effect under `autojump` stopped making progress: it is not done, no fiber of it is runnable, and none of them
 * sleeps on the clock (a deadlock, or a wait on something outside the effect) for `stallTimeout` of real time.
 *
 * @category errors
 * @since 0.1.0
 */
export class AutojumpStalledError extends Data.TaggedError("AutojumpStalledError")<{
  /** The virtual time (milliseconds) at which progress stopped. */
  readonly at: number
  /** How many jumps were made before. */
  readonly jumps: number
}> {
  override get message(): string {
    return `VirtualTime.autojump: the effect is not done, nothing runs and nothing sleeps (virtual time ${this.at} ms, after ${this.jumps} jumps)`
  }
}

/**
 * `autojump` made `maxJumps` jumps and the effect is still not done (a loop that sleeps forever, e.g. a periodic
 * task that is never stopped).
 *
 * @category errors
 * @since 0.1.0
 */
export class AutojumpLimitError extends Data.TaggedError("AutojumpLimitError")<{
  readonly at: number
  readonly jumps: number
}> {
  override get message(): string {
    return `VirtualTime.autojump: still not done after ${this.jumps} jumps (virtual time ${this.at} ms)`
  }
}

/**
 * Options of {@link autojump}.
 *
 * @category models
 * @since 0.1.0
 */
export interface AutojumpOptions {
  /** The most clock jumps before failing with `AutojumpLimitError`. Default 1,000,000. */
  readonly maxJumps?: number | undefined
  /**
   * How long (real time) the effect may sit with nothing runnable and nothing sleeping (waiting on I/O, say)
   * before it fails with `AutojumpStalledError`. Default 2 seconds.
   */
  readonly stallTimeout?: Duration.Input | undefined
}

/**
 * Runs `effect` to completion under the current `TestClock`, jumping the clock to the next pending sleep each time
 * every fiber started by the effect is idle. Returns what the effect returns; its virtual duration can be read with
 * `Clock.currentTimeMillis` before and after.
 *
 * **When to use**: any test whose effect sleeps, times out or retries, instead of hand-computed `TestClock.adjust`.
 *
 * **Gotchas**: needs a `TestClock` in context (`it.effect` provides one); it dies otherwise. Fibers started
 * outside `effect` are not watched: if they sleep, they wake only as the clock passes their time. Real I/O inside
 * the effect is fine, but time jumps while it is in flight, as with trio's autojump clock.
 *
 * @example
 * ```ts
 * import { Clock, Effect } from "effect"
 * import { VirtualTime } from "@async-ops/testing"
 *
 * // in an it.effect test
 * const program = Effect.gen(function*() {
 *   yield* VirtualTime.autojump(Effect.sleep("1 hour"))
 *   return yield* Clock.currentTimeMillis // 3_600_000
 * })
 * ```
 *
 * @category runners
 * @since 0.1.0
 */
export const autojump: <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: AutojumpOptions
) => Effect.Effect<A, E | AutojumpStalledError | AutojumpLimitError, R> = internal.autojump
