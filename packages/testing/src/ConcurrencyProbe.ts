/**
 * A probe that wraps effects and records how many run at once: the current and peak in-flight counts and a
 * start/end timeline on the current `Clock` (virtual under `TestClock`). It answers the question every bounded
 * concurrency test asks ("did more than N ever run at once?") without sleeps or wall-clock windows.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as internal from "./internal/concurrencyProbe.ts"

/**
 * One wrapped run: its label, when it started and when it ended (milliseconds on the probe's `Clock`; `end` is
 * `undefined` while it runs) and how it ended.
 *
 * @category models
 * @since 0.1.0
 */
export interface Span {
  readonly label: string
  readonly start: number
  readonly end: number | undefined
  readonly outcome: "running" | "success" | "failure" | "interrupted"
}

/**
 * A snapshot of the probe's counters.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Wrapped effects running now. */
  readonly current: number
  /** The most that ever ran at once. */
  readonly peak: number
  /** Wrapped effects that started. */
  readonly started: number
  /** Wrapped effects that ended, whatever their exit. */
  readonly ended: number
}

/**
 * A concurrency probe.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConcurrencyProbe {
  /** Wraps an effect so that its run is counted and put on the timeline under `label`. */
  readonly track: <A, E, R>(effect: Effect.Effect<A, E, R>, label?: string) => Effect.Effect<A, E, R>
  /** The counters now. */
  readonly stats: Effect.Effect<Stats>
  /** Every run so far, in start order. */
  readonly timeline: Effect.Effect<ReadonlyArray<Span>>
  /** Waits until at least `n` wrapped effects run at once (returns at once if they already do). */
  readonly awaitCurrent: (n: number) => Effect.Effect<void>
  /** Waits until at least `n` wrapped effects have ended. */
  readonly awaitEnded: (n: number) => Effect.Effect<void>
}

/**
 * Makes a probe. Times come from the `Clock` in the context of each tracked effect.
 *
 * **When to use**: in tests of anything that bounds concurrency (Limiter, TaskGroup `concurrency`, Gather).
 *
 * **Gotchas**: `peak` only counts effects wrapped with `track`; wrap the innermost work, not the admission, or the
 * time spent waiting for a permit counts as running.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ConcurrencyProbe } from "@async-ops/testing"
 *
 * const program = Effect.gen(function*() {
 *   const probe = yield* ConcurrencyProbe.make
 *   yield* Effect.forEach([1, 2, 3, 4], (n) => probe.track(Effect.sleep(n)), { concurrency: 2 })
 *   return (yield* probe.stats).peak // 2
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<ConcurrencyProbe> = Effect.sync(() => internal.make(Clock.currentTimeMillis))
