/**
 * Leak checks for tests: run an effect and fail if any fiber it started, directly or through any library, is still
 * alive when it returns. Built on Effect's `Metric.FiberRuntimeMetrics` hook, so it sees every fiber forked in the
 * effect's context (`forkChild`, `forkDetach`, `forkScoped`, `FiberSet`, ...), not only our own.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/leakCheck.ts"

/**
 * Fibers started inside a checked effect were still alive after it returned.
 *
 * @category errors
 * @since 0.1.0
 */
export class FiberLeakError extends Data.TaggedError("FiberLeakError")<{
  /** How many fibers were still alive. */
  readonly alive: number
  /** How many fibers the effect started in all. */
  readonly started: number
}> {
  override get message(): string {
    return `LeakCheck: ${this.alive} of the ${this.started} fibers started by the effect are still alive after it returned`
  }
}

/**
 * Fiber counts of a run, as reported by {@link track}.
 *
 * @category models
 * @since 0.1.0
 */
export interface FiberCounts {
  readonly started: number
  readonly ended: number
  readonly alive: number
}

/**
 * Runs `effect` and counts the fibers started inside it. Returns the effect's value with the counts taken after
 * the effect ended and the scheduler settled (so fibers already interrupted have had the chance to finish).
 *
 * **When to use**: to assert how many fibers an operation creates, or that a long-lived one stays alive.
 *
 * @category checks
 * @since 0.1.0
 */
export const track: <A, E, R>(
  effect: Effect.Effect<A, E, R>
) => Effect.Effect<[A, FiberCounts], E, R> = internal.track

/**
 * Runs `effect` and fails with {@link FiberLeakError} if any fiber it started is still alive after it returned
 * (successfully or not) and the scheduler settled.
 *
 * **When to use**: wrap the body of a test of anything that forks, to prove it leaves nothing behind, also when
 * interrupted.
 *
 * **Gotchas**: fibers that end on their own later (a timer a moment away) count as leaks: the check is made
 * right after the effect, as a user would expect from structured concurrency.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LeakCheck } from "@async-ops/testing"
 *
 * // fails with FiberLeakError: the detached fiber outlives the effect
 * const leaky = LeakCheck.fibers(Effect.forkDetach(Effect.never))
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const fibers: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | FiberLeakError, R> =
  internal.fibers
