/**
 * A debouncer for effectful functions: of a burst of calls, only the last one runs, once no new call has come for
 * `wait` (the trailing edge). The Python it answers is the hand-written `Debouncer` class that keeps one
 * `asyncio` timer handle and cancels it on every call (`handle.cancel(); loop.call_later(wait, ...)`), as for a
 * search box that should query only when the user stops typing. With `maxWait`, a steady stream of calls still runs
 * at least every `maxWait` (lodash's `debounce(f, wait, { maxWait })`).
 *
 * Every call gets a typed answer: the call that runs returns `f`'s result (or fails as `f` fails); a call replaced
 * by a newer one fails at once with {@link DebounceSupersededError}, so its fiber is free at the moment it becomes
 * useless; calls after the debouncer's scope closed fail with {@link DebounceClosedError}. `f` runs in the fiber
 * of the caller whose arguments it gets, with that caller's services.
 *
 * @see https://lodash.com/docs/4.17.15#debounce (the semantics of `wait` and `maxWait`)
 * @see https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.call_later
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/debounce.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"
import type { MetricsOptions } from "./Metrics.ts"

/**
 * Options of {@link make}.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MetricsOptions {
  /** The quiet time after the last call before it runs: a finite duration >= 0, e.g. `"300 millis"`. */
  readonly wait: Duration.Input
  /**
   * The longest a call may be put off while calls keep coming: a duration >= `wait`. Default: no limit (a steady
   * stream of calls never runs until it pauses).
   */
  readonly maxWait?: Duration.Input | undefined
}

/**
 * A debouncer's statistics.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  /** Whether a call is waiting for its quiet time. */
  readonly pending: boolean
  /** Runs of `f` not ended yet. */
  readonly running: number
  /** Calls in all. */
  readonly calls: number
  /** Runs of `f` started. */
  readonly runs: number
  /** Calls replaced by a newer one. */
  readonly superseded: number
  /** Pending calls whose caller was interrupted before its run started (the run did not happen). */
  readonly cancelled: number
}

/**
 * A debounced function: call it like `f`. The extra members read the debouncer.
 *
 * @category models
 * @since 0.1.0
 */
export interface Debounced<in Args extends ReadonlyArray<unknown>, out A, out E, out R> {
  /**
   * Calls `f(...args)` after the quiet time, unless a newer call comes first (then this one fails with
   * {@link DebounceSupersededError}).
   */
  (...args: Args): Effect.Effect<A, E | DebounceSupersededError | DebounceClosedError, R>
  readonly name: string
  /** Runs the pending call now, without waiting for its quiet time; `true` if there was one; see {@link flush}. */
  readonly flush: Effect.Effect<boolean>
  /** The statistics now. */
  readonly stats: Effect.Effect<Stats>
}

/**
 * A call was replaced by a newer call before its quiet time ended, so it will not run. Expected in normal use:
 * most callers of a debounced function match it with `Effect.catchTag("DebounceSupersededError", …)`.
 *
 * @category errors
 * @since 0.1.0
 */
export class DebounceSupersededError extends Data.TaggedError("DebounceSupersededError")<{
  /** The debouncer's name. */
  readonly name: string
}> {
  override get message(): string {
    return `Debounce "${this.name}": the call was superseded by a newer one`
  }
}

/**
 * The debouncer's scope closed: the pending call (if any) was cancelled and later calls are refused.
 *
 * @category errors
 * @since 0.1.0
 */
export class DebounceClosedError extends Data.TaggedError("DebounceClosedError")<{
  /** The debouncer's name. */
  readonly name: string
}> {
  override get message(): string {
    return `Debounce "${this.name}": the debouncer is closed`
  }
}

/**
 * Makes a debounced version of `f`, living in the current `Scope`. Fails with `InvalidOptionError` naming the
 * option for a `wait` that is not a finite duration >= 0, or a `maxWait` shorter than `wait`.
 *
 * Each call waits in its own fiber. When a newer call comes, the waiting one fails with
 * {@link DebounceSupersededError} at once. When the last call has seen no newer one for `wait` (or `maxWait` has
 * passed since the burst began or since the previous run), it runs `f` with its arguments in its own fiber and
 * returns `f`'s result. Runs are not serialised: a call that arrives while a run is in progress starts a new burst,
 * and its run may overlap the previous one.
 *
 * **When to use**: react to the end of a burst (search as the user types, save a document after edits settle,
 * recompute a layout after resize events), or, with `maxWait`, at a bounded rate during a long burst.
 *
 * **Gotchas**:
 * - Interrupting the last (pending) caller cancels the pending run: nobody is left to receive its result, so `f`
 *   does not run (counted in `stats.cancelled`). Earlier callers have already been answered, so interrupting them
 *   changes nothing. Interrupting the caller while `f` runs interrupts `f`, as for any effect.
 * - Closing the scope fails the pending caller with {@link DebounceClosedError} and stops the timer; a run
 *   already started belongs to its caller's fiber and is not interrupted.
 * - Fire-and-forget callers (`Effect.forkChild(debounced(x))`) should ignore
 *   {@link DebounceSupersededError}: it is the normal fate of most calls.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Debounce } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const search = yield* Debounce.make((q: string) => Effect.succeed(`results for ${q}`), { wait: "300 millis" })
 *   const type = (q: string) =>
 *     search(q).pipe(Effect.catchTag("DebounceSupersededError", () => Effect.succeed("(superseded)")))
 *   // "e", "ef", "eff" typed quickly: the first two are superseded, "eff" runs 300 ms after the last keystroke
 *   return yield* Effect.all(["e", "ef", "eff"].map(type), { concurrency: "unbounded" })
 *   // ["(superseded)", "(superseded)", "results for eff"]
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: <Args extends ReadonlyArray<unknown>, A, E, R>(
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options: Options
) => Effect.Effect<Debounced<Args, A, E, R>, InvalidOptionError, Scope.Scope> = internal.make

/**
 * Runs the pending call now instead of at the end of its quiet time, and returns `true`; returns `false` when no
 * call is pending. The call runs in its caller's fiber, as usual.
 *
 * **When to use**: lodash's `flush`: the user pressed Enter in the search box, run the search without waiting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Debounce } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const save = yield* Debounce.make((doc: string) => Effect.log(`saved ${doc}`), { wait: "1 second" })
 *   yield* Effect.forkChild(save("draft"), { startImmediately: true })
 *   return yield* Debounce.flush(save) // true: "saved draft" now, not in a second
 * }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const flush = <Args extends ReadonlyArray<unknown>, A, E, R>(
  self: Debounced<Args, A, E, R>
): Effect.Effect<boolean> => self.flush

/**
 * The debouncer's statistics now: calls, runs, superseded and cancelled calls, and whether a call is pending.
 *
 * **When to use**: metrics and tests (`runs / calls` is how much work the debouncer saves).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Debounce } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const f = yield* Debounce.make((n: number) => Effect.succeed(n), { wait: 0 })
 *   yield* f(1)
 *   return yield* Debounce.stats(f) // { calls: 1, runs: 1, superseded: 0, cancelled: 0, pending: false, ... }
 * }))
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = <Args extends ReadonlyArray<unknown>, A, E, R>(
  self: Debounced<Args, A, E, R>
): Effect.Effect<Stats> => self.stats

/**
 * Whether a value is a debounced function made by {@link make}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Debounce } from "@async-ops/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const f = yield* Debounce.make((n: number) => Effect.succeed(n), { wait: "10 millis" })
 *   return [Debounce.isDebounced(f), Debounce.isDebounced((n: number) => Effect.succeed(n))]
 * }))
 * // => [true, false]
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isDebounced: (u: unknown) => u is Debounced<Array<never>, unknown, unknown, unknown> = internal.isDebounced
