/**
 * A cyclic barrier: Python's `asyncio.Barrier` (and `threading.Barrier`) on Effect fibers. A fixed number of
 * parties wait at the barrier; the arrival of the last one releases them all at once, each with its own arrival
 * index, and the barrier is ready for the next round. `abort` breaks it (every waiter, and every later arrival,
 * fails with {@link BrokenBarrierError}) until `reset`.
 *
 * Effect has no barrier: a `Latch` releases whoever waits when something outside opens it, while a barrier opens
 * itself when enough fibers have arrived and closes again for the next round. Waiting costs O(1) per fiber however
 * many wait, and an interrupted waiter leaves in O(1) without breaking the barrier (asyncio's behaviour, unlike
 * `threading.Barrier`, which breaks on a timeout).
 *
 * @see https://docs.python.org/3/library/asyncio-sync.html#asyncio.Barrier
 * @see Effect's `Latch` for a gate that something else opens
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/barrier.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * Options of {@link make}: a `name` and `metrics: true` to report the barrier's metrics (primitive `"Barrier"`):
 * waiting (parties at the barrier now) and acquired (rounds completed).
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {}

/**
 * The barrier was aborted, or reset while this fiber waited: Python's `asyncio.BrokenBarrierError`.
 *
 * **When to use**: match it with `Effect.catchTag("BrokenBarrierError", …)` in a worker that should stop (or
 * re-synchronise) when a peer gives up on the round.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const barrier = yield* Barrier.make(2)
 *   yield* barrier.abort
 *   return yield* barrier.await.pipe(Effect.catchTag("BrokenBarrierError", (e) => Effect.succeed(e.reason)))
 * })
 * // "abort"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class BrokenBarrierError extends Data.TaggedError("BrokenBarrierError")<{
  /** `"abort"`: the barrier was aborted (and stays broken until reset); `"reset"`: it was reset while waiting. */
  readonly reason: "abort" | "reset"
}> {
  override get message(): string {
    return this.reason === "abort"
      ? "Barrier is broken: it was aborted (reset it to use it again)"
      : "Barrier is broken: it was reset while this fiber was waiting"
  }
}

/**
 * Whether a value is a {@link BrokenBarrierError}.
 *
 * @example
 * ```ts
 * import { Barrier } from "@async-ops/core"
 *
 * Barrier.isBrokenBarrierError(new Barrier.BrokenBarrierError({ reason: "abort" })) // true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isBrokenBarrierError = (u: unknown): u is BrokenBarrierError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "BrokenBarrierError"

/**
 * A barrier's statistics, like trio's `statistics()` and asyncio's `n_waiting` / `broken` / `parties`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** How many fibers each round needs. */
  readonly parties: number
  /** Fibers waiting in the current round now (asyncio's `n_waiting`). */
  readonly waiting: number
  /** Whether the barrier is aborted (and not reset since). */
  readonly broken: boolean
  /** Rounds completed so far: times the barrier released a full set of parties. */
  readonly rounds: number
}

/**
 * A cyclic barrier for a fixed number of parties.
 *
 * @category models
 * @since 0.1.0
 */
export interface Barrier {
  /** How many fibers each round needs. */
  readonly parties: number
  /**
   * Waits until `parties` fibers (this one included) are waiting, then returns this fiber's index in the round:
   * `0` for the first to arrive up to `parties - 1` for the one that completed the round (asyncio's return value;
   * use it to pick one fiber for a per-round chore, e.g. `index === 0`). The barrier is then empty for the next
   * round. Fails with {@link BrokenBarrierError} if the barrier is aborted, or reset while waiting, and at once
   * while it is aborted.
   *
   * Interrupting a waiting fiber removes it from the round without breaking the barrier; indexes are given when the
   * round completes, by arrival order among the fibers still there, so they are always `0..parties-1` and distinct.
   */
  readonly await: Effect.Effect<number, BrokenBarrierError>
  /**
   * Breaks the barrier: every waiting fiber fails with {@link BrokenBarrierError} (`reason: "abort"`), and so does
   * every later `await` until {@link Barrier.reset}. Use it when a party cannot arrive (it failed), so the others do
   * not wait forever.
   */
  readonly abort: Effect.Effect<void>
  /**
   * Returns the barrier to its empty, working state: the fibers waiting now fail with {@link BrokenBarrierError}
   * (`reason: "reset"`), as in asyncio, and an aborted barrier works again.
   */
  readonly reset: Effect.Effect<void>
  /** The barrier's statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * Makes a barrier for `parties` fibers (an integer >= 1): `asyncio.Barrier(parties)`. With `metrics: true` (see
 * {@link Options}) it reports to the MetricRegistry of the context it is made in.
 *
 * **When to use**: when a fixed set of workers must all finish a phase before any starts the next (simulation
 * steps, a batch that every worker must load before processing, a test that lines fibers up before a race). For a
 * one-off gate opened by someone else use Effect's `Latch`; to wait for N tasks to end use a `TaskGroup` or
 * `Fiber.joinAll`.
 *
 * **Gotchas**: the count is fixed; a party that fails without arriving leaves the others waiting forever unless
 * someone calls `abort` (wrap each party's work in `Effect.tapError(() => barrier.abort)` or
 * `Effect.onError`). An interrupted waiter simply leaves, so a round then needs one more arrival; a waiter
 * interrupted in the very turn its round completes has counted as arrived (the others are released) and ends
 * interrupted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@async-ops/core"
 *
 * const program = Effect.gen(function*() {
 *   const barrier = yield* Barrier.make(3)
 *   const indexes = yield* Effect.all([barrier.await, barrier.await, barrier.await], { concurrency: "unbounded" })
 *   return indexes.toSorted() // [0, 1, 2]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (parties: number, options?: Options) => Effect.Effect<Barrier, InvalidOptionError> = internal.make

/**
 * Whether a value is a {@link Barrier} made by this module.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@async-ops/core"
 *
 * const program = Effect.map(Barrier.make(2), (barrier) => [Barrier.isBarrier(barrier), Barrier.isBarrier({})])
 * // => [true, false]
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isBarrier: (u: unknown) => u is Barrier = internal.isBarrier
