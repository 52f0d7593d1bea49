/**
 * Run an effect for every input and get every outcome back, typed: the replacement for Python's
 * `asyncio.gather(*tasks, return_exceptions=True)` (and, with `concurrency`, for the `asyncio.Semaphore(limit)` plus
 * `gather` pattern; `asCompleted` for `asyncio.as_completed`). Unlike `return_exceptions`, a failure keeps its type
 * `E` and its input, a defect is not swallowed unless asked, and a batch can stop after `maxFailures` failures or a
 * `timeout` budget, interrupting what still runs.
 *
 * Next to Effect's own tools: `Effect.forEach` stops at the first failure and keeps only values; `Effect.partition`
 * keeps every outcome but drops which input each came from, and has no early stop or batch budget.
 *
 * @see https://docs.python.org/3/library/asyncio-task.html#asyncio.gather
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/gather.ts"
import type { InvalidOptionError } from "./InvalidOption.ts"

/**
 * The item's effect succeeded with `value`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Success<out I, out A> {
  readonly _tag: "Success"
  /** The input's position in the input, from 0. */
  readonly index: number
  /** The input the effect was made from. */
  readonly input: I
  /** What the effect returned. */
  readonly value: A
}

/**
 * The item's effect failed with the typed error `error` (its first `Fail` if it had several).
 *
 * @category models
 * @since 0.1.0
 */
export interface Failure<out I, out E> {
  readonly _tag: "Failure"
  /** The input's position in the input, from 0. */
  readonly index: number
  /** The input the effect was made from. */
  readonly input: I
  /** The typed error. */
  readonly error: E
}

/**
 * The item's effect died with `defect` (a thrown exception or `Effect.die`). Only with `catchDefects: true`;
 * otherwise a defect fails the whole batch.
 *
 * @category models
 * @since 0.1.0
 */
export interface Defect<out I> {
  readonly _tag: "Defect"
  /** The input's position in the input, from 0. */
  readonly index: number
  /** The input the effect was made from. */
  readonly input: I
  /** The value the effect died with (its first, if several). */
  readonly defect: unknown
}

/**
 * The item's effect was running when the batch stopped after `maxFailures` failures and was interrupted (its
 * finalizers ran), or it interrupted itself.
 *
 * @category models
 * @since 0.1.0
 */
export interface Interrupted<out I> {
  readonly _tag: "Interrupted"
  /** The input's position in the input, from 0. */
  readonly index: number
  /** The input the effect was made from. */
  readonly input: I
}

/**
 * The item's effect never started: the batch stopped (after `maxFailures` failures) first.
 *
 * @category models
 * @since 0.1.0
 */
export interface NotRun<out I> {
  readonly _tag: "NotRun"
  /** The input's position in the input, from 0. */
  readonly index: number
  /** The input the effect was made from. */
  readonly input: I
}

/**
 * The batch's `timeout` expired before the item finished: it was interrupted (`started: true`, its finalizers ran)
 * or never started (`started: false`).
 *
 * @category models
 * @since 0.1.0
 */
export interface TimedOut<out I> {
  readonly _tag: "TimedOut"
  /** The input's position in the input, from 0. */
  readonly index: number
  /** The input the effect was made from. */
  readonly input: I
  /** Whether the item's effect had started (and so may have had side effects) when time ran out. */
  readonly started: boolean
}

/**
 * What happened to one input: a tagged union on `_tag`. Every case carries `index` and `input`.
 *
 * **When to use**: switch on `_tag`, or use the guards ({@link isSuccess}, ...) or {@link match}.
 *
 * @example
 * ```ts
 * import { Gather } from "@async-ops/core"
 *
 * const describe = (o: Gather.Outcome<string, number, Error>): string => {
 *   switch (o._tag) {
 *     case "Success":
 *       return `${o.input} -> ${o.value}`
 *     case "Failure":
 *       return `${o.input} failed: ${o.error.message}`
 *     default:
 *       return `${o.input}: ${o._tag}`
 *   }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome<I, A, E> =
  | Success<I, A>
  | Failure<I, E>
  | Defect<I>
  | Interrupted<I>
  | NotRun<I>
  | TimedOut<I>

/**
 * How many outcomes of each kind a batch had.
 *
 * @category models
 * @since 0.1.0
 */
export interface Counts {
  /** Outcomes in all: the number of inputs. */
  readonly total: number
  readonly success: number
  readonly failure: number
  readonly defect: number
  readonly interrupted: number
  readonly notRun: number
  readonly timedOut: number
}

/**
 * The result of {@link settle}: plain readonly data.
 *
 * @category models
 * @since 0.1.0
 */
export interface Settled<I, A, E> {
  /** One outcome per input, in input order (`outcomes[i].index === i`). */
  readonly outcomes: ReadonlyArray<Outcome<I, A, E>>
  /** The successful outcomes, in input order, each with its `value`, `input` and `index` (built on first read). */
  readonly successes: ReadonlyArray<Success<I, A>>
  /** The typed failures, in input order, each with its `error`, `input` and `index` (built on first read). */
  readonly failures: ReadonlyArray<Failure<I, E>>
  /** How many outcomes of each kind. */
  readonly counts: Counts
}

/**
 * Options of {@link settle} and {@link asCompleted}. Invalid values fail with `InvalidOptionError` naming the
 * option, before anything runs.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * How many items may run at once: an integer >= 1, or `"unbounded"` (the default, like `asyncio.gather`: every
   * item starts at once; `Infinity` means the same). Items start in input order.
   */
  readonly concurrency?: number | "unbounded" | undefined
  /**
   * Stop the batch after this many typed failures (`Failure` outcomes; caught defects do not count): the items still
   * running are interrupted (their finalizers run, outcome `Interrupted`) and the ones not started are skipped
   * (outcome `NotRun`). An integer >= 1; default: no limit.
   */
  readonly maxFailures?: number | undefined
  /**
   * A time budget for the whole batch (a `Duration.Input`: a `Duration`, milliseconds, or e.g. `"5 seconds"`),
   * >= 0, on the `Clock` (virtual under `TestClock`). When it expires the outcomes already decided are kept and every
   * other item becomes `TimedOut` (running ones are interrupted first). `0` runs nothing; `Infinity` means no
   * budget. Default: no budget.
   */
  readonly timeout?: Duration.Input | undefined
  /**
   * `false` (the default): a defect (`Effect.die`, a thrown exception, also one raised by an item's finalizer while it
   * is interrupted) in any item interrupts the others and fails the whole batch with that defect, since defects are
   * bugs. `true`: the defect becomes that item's `Defect` outcome.
   */
  readonly catchDefects?: boolean | undefined
}

/**
 * Runs `f` for every input and returns one typed {@link Outcome} per input, in input order, whatever each did:
 * `asyncio.gather(*tasks, return_exceptions=True)` without losing the error types.
 *
 * **When to use**: fan-out where one failure must not cancel the rest and you want to see every result (fetch a
 * list of URLs, validate a batch of records). Add `concurrency` to bound it (the Semaphore + gather pattern),
 * `maxFailures` to give up early, `timeout` for a budget on the whole batch. Use `Effect.forEach` when the first
 * failure should stop everything and you only want the values.
 *
 * **Gotchas**:
 * - It never fails with an item's typed error: read `failures` (or `outcomes`). It fails only with
 *   `InvalidOptionError`, or dies with an item's defect unless `catchDefects` is on.
 * - Each item runs in a fiber of its own; interrupting the call interrupts every running item and waits for its
 *   finalizers.
 * - `counts` is kept while the batch runs; `successes` and `failures` are built on first read (then the same
 *   arrays), so reading only `outcomes` or `counts` costs nothing more. For a stream of outcomes that are not all
 *   held in memory, use {@link asCompleted}.
 * - `timeout` is for the whole batch, not per item: put `Effect.timeout` inside `f` for a per-item limit (the item
 *   then ends as a `Failure` with `TimeoutError`).
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { Gather } from "@async-ops/core"
 *
 * class NotFound extends Data.TaggedError("NotFound")<{ readonly id: number }> {}
 *
 * const fetchUser = (id: number) => id % 2 === 0 ? Effect.succeed(`user ${id}`) : Effect.fail(new NotFound({ id }))
 *
 * const program = Effect.gen(function*() {
 *   const settled = yield* Gather.settle([1, 2, 3, 4], fetchUser, { concurrency: 2 })
 *   const names = settled.successes.map((s) => s.value) // ["user 2", "user 4"]
 *   const missing = settled.failures.map((f) => f.error.id) // [1, 3]: `error` is a NotFound
 *   return { names, missing }
 * })
 * ```
 *
 * @see Effect.forEach, which stops at the first failure
 * @see Effect.partition, which keeps every outcome but not which input it came from
 * @category combinators
 * @since 0.1.0
 */
export const settle: {
  <I, Eff extends Effect.Effect<any, any, any>>(
    f: (item: I, index: number) => Eff,
    options?: Options
  ): (
    items: Iterable<I>
  ) => Effect.Effect<
    Settled<I, Effect.Success<Eff>, Effect.Error<Eff>>,
    InvalidOptionError,
    Effect.Services<Eff>
  >
  <I, Eff extends Effect.Effect<any, any, any>>(
    items: Iterable<I>,
    f: (item: I, index: number) => Eff,
    options?: Options
  ): Effect.Effect<Settled<I, Effect.Success<Eff>, Effect.Error<Eff>>, InvalidOptionError, Effect.Services<Eff>>
} = dual((args) => typeof args[1] === "function", internal.settle)

/**
 * Runs `f` for every input and streams one {@link Outcome} per input in completion order: `asyncio.as_completed`,
 * with the input and index attached so you know which one finished.
 *
 * **When to use**: to act on results as they arrive (progress, writing each result out) rather than after the
 * whole batch, in memory bounded by what is in flight: the stream keeps no outcome once it has handed it over
 * (one byte per input records which are decided), and with a `concurrency` limit a slow consumer holds back new
 * items. Same options as {@link settle}.
 *
 * **Gotchas**:
 * - Every input yields exactly one outcome; after a stop (`maxFailures`, `timeout`) the ones interrupted or never
 *   started come last, in input order.
 * - Back-pressure: with `concurrency: n`, items running plus outcomes the consumer has not pulled are at most `n`
 *   (plus the chunk the consumer is working through, at most `n` more), so a slow consumer slows the batch. With
 *   the default `"unbounded"` every item starts at once and outcomes wait in the stream until pulled.
 * - A `timeout` counts the time items spend held back by a slow consumer.
 * - Ending the stream early (`Stream.take`, interrupting the consumer) interrupts the items still running.
 * - The stream fails with `InvalidOptionError` on bad options, and dies with an item's defect unless
 *   `catchDefects` is on.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Gather } from "@async-ops/core"
 *
 * const program = Gather.asCompleted([30, 10, 20], (ms) => Effect.as(Effect.sleep(ms), ms)).pipe(
 *   Stream.map((o) => o.index),
 *   Stream.runCollect
 * ) // [1, 2, 0]
 * ```
 *
 * @see Stream.mapEffect with `{ concurrency, unordered: true }`, for values in completion order without outcomes
 * @category combinators
 * @since 0.1.0
 */
export const asCompleted: {
  <I, Eff extends Effect.Effect<any, any, any>>(
    f: (item: I, index: number) => Eff,
    options?: Options
  ): (
    items: Iterable<I>
  ) => Stream.Stream<Outcome<I, Effect.Success<Eff>, Effect.Error<Eff>>, InvalidOptionError, Effect.Services<Eff>>
  <I, Eff extends Effect.Effect<any, any, any>>(
    items: Iterable<I>,
    f: (item: I, index: number) => Eff,
    options?: Options
  ): Stream.Stream<Outcome<I, Effect.Success<Eff>, Effect.Error<Eff>>, InvalidOptionError, Effect.Services<Eff>>
} = dual((args) => typeof args[1] === "function", internal.asCompleted)

/**
 * Whether an outcome is a {@link Success}.
 *
 * @example
 * ```ts
 * import { Gather } from "@async-ops/core"
 *
 * const values = <I, A, E>(outcomes: ReadonlyArray<Gather.Outcome<I, A, E>>): Array<A> =>
 *   outcomes.filter(Gather.isSuccess).map((o) => o.value)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isSuccess = <I, A, E>(outcome: Outcome<I, A, E>): outcome is Success<I, A> => outcome._tag === "Success"

/**
 * Whether an outcome is a typed {@link Failure}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isFailure = <I, A, E>(outcome: Outcome<I, A, E>): outcome is Failure<I, E> => outcome._tag === "Failure"

/**
 * Whether an outcome is a caught {@link Defect}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isDefect = <I, A, E>(outcome: Outcome<I, A, E>): outcome is Defect<I> => outcome._tag === "Defect"

/**
 * Whether an outcome is {@link Interrupted}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isInterrupted = <I, A, E>(outcome: Outcome<I, A, E>): outcome is Interrupted<I> =>
  outcome._tag === "Interrupted"

/**
 * Whether an outcome is {@link NotRun}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isNotRun = <I, A, E>(outcome: Outcome<I, A, E>): outcome is NotRun<I> => outcome._tag === "NotRun"

/**
 * Whether an outcome is {@link TimedOut}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isTimedOut = <I, A, E>(outcome: Outcome<I, A, E>): outcome is TimedOut<I> => outcome._tag === "TimedOut"

/**
 * Folds an outcome with one handler per case (all required, so a new case is a compile error).
 *
 * **When to use**: to turn outcomes into one type (log lines, report rows) without a `switch`.
 *
 * @example
 * ```ts
 * import { Gather } from "@async-ops/core"
 *
 * const line = Gather.match({
 *   onSuccess: (o: Gather.Success<string, number>) => `${o.input}: ${o.value}`,
 *   onFailure: (o: Gather.Failure<string, Error>) => `${o.input}: failed (${o.error.message})`,
 *   onDefect: (o) => `${o.input}: bug`,
 *   onInterrupted: (o) => `${o.input}: interrupted`,
 *   onNotRun: (o) => `${o.input}: skipped`,
 *   onTimedOut: (o) => `${o.input}: timed out`
 * })
 * ```
 *
 * @category pattern matching
 * @since 0.1.0
 */
export const match: {
  <I, A, E, B, C = B, D = B, F = B, G = B, H = B>(cases: {
    readonly onSuccess: (outcome: Success<I, A>) => B
    readonly onFailure: (outcome: Failure<I, E>) => C
    readonly onDefect: (outcome: Defect<I>) => D
    readonly onInterrupted: (outcome: Interrupted<I>) => F
    readonly onNotRun: (outcome: NotRun<I>) => G
    readonly onTimedOut: (outcome: TimedOut<I>) => H
  }): (self: Outcome<I, A, E>) => B | C | D | F | G | H
  <I, A, E, B, C = B, D = B, F = B, G = B, H = B>(self: Outcome<I, A, E>, cases: {
    readonly onSuccess: (outcome: Success<I, A>) => B
    readonly onFailure: (outcome: Failure<I, E>) => C
    readonly onDefect: (outcome: Defect<I>) => D
    readonly onInterrupted: (outcome: Interrupted<I>) => F
    readonly onNotRun: (outcome: NotRun<I>) => G
    readonly onTimedOut: (outcome: TimedOut<I>) => H
  }): B | C | D | F | G | H
} = dual(2, <I, A, E, B, C, D, F, G, H>(self: Outcome<I, A, E>, cases: {
  readonly onSuccess: (outcome: Success<I, A>) => B
  readonly onFailure: (outcome: Failure<I, E>) => C
  readonly onDefect: (outcome: Defect<I>) => D
  readonly onInterrupted: (outcome: Interrupted<I>) => F
  readonly onNotRun: (outcome: NotRun<I>) => G
  readonly onTimedOut: (outcome: TimedOut<I>) => H
}): B | C | D | F | G | H => {
  switch (self._tag) {
    case "Success":
      return cases.onSuccess(self)
    case "Failure":
      return cases.onFailure(self)
    case "Defect":
      return cases.onDefect(self)
    case "Interrupted":
      return cases.onInterrupted(self)
    case "NotRun":
      return cases.onNotRun(self)
    case "TimedOut":
      return cases.onTimedOut(self)
  }
})
