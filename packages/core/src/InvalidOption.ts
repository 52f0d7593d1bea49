/**
 * The one error of a bad option (`InvalidOptionError`), shared by every async-ops constructor: a bad option (a
 * concurrency of 0, a NaN duration, a negative count) is rejected with one typed error that names the module, the option and what was expected, instead
 * of a hang or a crash deep inside a fiber. The Python it answers is the `ValueError` asyncio raises for
 * `Semaphore(-1)`.
 *
 * The checks (`int`, `number`, `concurrency`, `duration`, `oneOf`, `check`) are the one way every async-ops
 * package validates its options: pure functions returning a `Result`, lifted with `Effect.fromResult` by
 * constructors that return an Effect, and unwrapped with `Result.getOrThrow` only where a synchronous API must throw.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import { decodeDuration } from "./internal/options.ts"

/**
 * An option passed to an async-ops constructor or combinator is out of its allowed range.
 *
 * **When to use**: match it with `Effect.catchTag("InvalidOptionError", …)` where options come from user input
 * (flags, config files); elsewhere it is a programming error and `Effect.orDie` is fine.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gather } from "@async-ops/core"
 *
 * const program = Gather.settle([1, 2], Effect.succeed, { concurrency: 0 }).pipe(
 *   Effect.catchTag("InvalidOptionError", (e) => Effect.succeed(e.message))
 * )
 * // => "Gather.settle: option concurrency must be an integer >= 1 or \"unbounded\" (got 0)"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidOptionError extends Data.TaggedError("InvalidOptionError")<{
  /** The function that rejected the option, e.g. `"Gather.settle"`. */
  readonly module: string
  /** The option's name, e.g. `"concurrency"`. */
  readonly option: string
  /** What the option allows, in words. */
  readonly expected: string
  /** The value that was passed. */
  readonly value: unknown
}> {
  override get message(): string {
    return `${this.module}: option ${this.option} must be ${this.expected} (got ${formatValue(this.value)})`
  }
}

/**
 * Whether a value is an {@link InvalidOptionError}.
 *
 * @category guards
 * @since 0.1.0
 */
export const isInvalidOptionError = (u: unknown): u is InvalidOptionError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "InvalidOptionError"

/**
 * What every check returns: the accepted (and possibly decoded) value, or the {@link InvalidOptionError} naming the
 * option.
 *
 * @category checks
 * @since 0.1.0
 */
export type Check<A> = Result.Result<A, InvalidOptionError>

/**
 * Accepts `value` when `ok` holds for it; otherwise fails with an {@link InvalidOptionError} that says `expected`.
 *
 * **When to use**: an option no other check covers (a non-empty string, a function, a header name); `expected`
 * finishes the sentence "option … must be".
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidOption } from "@async-ops/core"
 *
 * const name = InvalidOption.check("Pool.make", "name", "", (u): u is string => typeof u === "string" && u !== "", "a non-empty string")
 * Result.isFailure(name)
 * // => true
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const check: {
  <A>(module: string, option: string, value: unknown, ok: (u: unknown) => u is A, expected: string): Check<A>
  <A>(module: string, option: string, value: A, ok: (u: A) => boolean, expected: string): Check<A>
} = <A>(module: string, option: string, value: A, ok: (u: A) => boolean, expected: string): Check<A> =>
  ok(value) ? Result.succeed(value) : Result.fail(new InvalidOptionError({ module, option, expected, value }))

/**
 * The bounds of {@link int}: `min`, an optional `max` (both inclusive), and whether `Infinity` means "no limit".
 *
 * @category checks
 * @since 0.1.0
 */
export interface IntBounds {
  readonly min: number
  readonly max?: number | undefined
  readonly orInfinity?: boolean | undefined
}

/**
 * Accepts a safe integer within `bounds` (or `Infinity` with `orInfinity`). The message reads "an integer >= 1",
 * "an integer from 0 to 65535", "an integer >= 0 or Infinity".
 *
 * **When to use**: counts, sizes and limits.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidOption } from "@async-ops/core"
 *
 * const limit = InvalidOption.int("Pool.make", "size", 0, { min: 1 })
 * Result.isFailure(limit) && limit.failure.message
 * // => "Pool.make: option size must be an integer >= 1 (got 0)"
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const int = (module: string, option: string, value: unknown, bounds: IntBounds): Check<number> =>
  typeof value === "number" &&
    ((Number.isSafeInteger(value) && value >= bounds.min && (bounds.max === undefined || value <= bounds.max)) ||
      (bounds.orInfinity === true && value === Number.POSITIVE_INFINITY))
    ? Result.succeed(value)
    : Result.fail(
      new InvalidOptionError({
        module,
        option,
        expected: `${
          bounds.max === undefined ? `an integer >= ${bounds.min}` : `an integer from ${bounds.min} to ${bounds.max}`
        }${bounds.orInfinity === true ? " or Infinity" : ""}`,
        value
      })
    )

/**
 * The bounds of {@link number}: `min` (exclusive with `exclusiveMin`) and an optional `max` (exclusive with
 * `exclusiveMax`).
 *
 * @category checks
 * @since 0.1.0
 */
export interface NumberBounds {
  readonly min: number
  readonly exclusiveMin?: boolean | undefined
  readonly max?: number | undefined
  readonly exclusiveMax?: boolean | undefined
}

/**
 * Accepts a finite number within `bounds`. The message reads "a finite number >= 0" without `max`, "a number in
 * [0, 1]" or "a number in (0, 100]" with it.
 *
 * **When to use**: ratios, rates and weights (`{ min: 0, max: 1 }` for a ratio).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidOption } from "@async-ops/core"
 *
 * const ratio = InvalidOption.number("Budget.make", "ratio", 1.5, { min: 0, max: 1 })
 * Result.isFailure(ratio) && ratio.failure.expected
 * // => "a number in [0, 1]"
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const number = (module: string, option: string, value: unknown, bounds: NumberBounds): Check<number> => {
  const { exclusiveMax, exclusiveMin, max, min } = bounds
  return typeof value === "number" && Number.isFinite(value) &&
      (exclusiveMin === true ? value > min : value >= min) &&
      (max === undefined || (exclusiveMax === true ? value < max : value <= max))
    ? Result.succeed(value)
    : Result.fail(
      new InvalidOptionError({
        module,
        option,
        expected: max === undefined
          ? `a finite number ${exclusiveMin === true ? ">" : ">="} ${min}`
          : `a number in ${exclusiveMin === true ? "(" : "["}${min}, ${max}${exclusiveMax === true ? ")" : "]"}`,
        value
      })
    )
}

/**
 * Accepts a concurrency limit: a positive integer, or `undefined`, `"unbounded"` or `Infinity` (all three mean no
 * limit, returned as `Infinity`).
 *
 * **When to use**: every `concurrency`-like option, so that all of them accept the same spellings.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidOption } from "@async-ops/core"
 *
 * Result.getOrThrow(InvalidOption.concurrency("Pool.make", "unbounded"))
 * // => Infinity
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const concurrency = (module: string, value: unknown, option = "concurrency"): Check<number> =>
  value === undefined || value === "unbounded" || value === Number.POSITIVE_INFINITY
    ? Result.succeed(Number.POSITIVE_INFINITY)
    : typeof value === "number" && Number.isSafeInteger(value) && value >= 1
    ? Result.succeed(value)
    : Result.fail(new InvalidOptionError({ module, option, expected: "an integer >= 1 or \"unbounded\"", value }))

/**
 * The bounds of {@link duration}, all optional: `min` in milliseconds (default 0), `exclusive` to reject `min`
 * itself, `finite` to reject `Infinity`.
 *
 * @category checks
 * @since 0.1.0
 */
export interface DurationBounds {
  readonly min?: number | undefined
  readonly exclusive?: boolean | undefined
  readonly finite?: boolean | undefined
}

/**
 * Decodes a duration (a `Duration`, millis or e.g. `"5 seconds"`) that is not NaN and within `bounds` (by default
 * `>= 0`, `Infinity` allowed). The message reads "a duration >= 0", "a finite duration > 0", "a finite duration
 * >= 10 ms".
 *
 * **When to use**: every timeout, interval and window option.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidOption } from "@async-ops/core"
 *
 * const timeout = InvalidOption.duration("Pool.make", "timeout", "0 seconds", { exclusive: true, finite: true })
 * Result.isFailure(timeout) && timeout.failure.message
 * // => "Pool.make: option timeout must be a finite duration > 0 (got \"0 seconds\")"
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const duration = (
  module: string,
  option: string,
  value: Duration.Input | undefined,
  bounds?: DurationBounds
): Check<Duration.Duration> => {
  const min = bounds?.min ?? 0
  const exclusive = bounds?.exclusive === true
  const finite = bounds?.finite === true
  const decoded = value === undefined ? undefined : decodeDuration(value)
  if (decoded !== undefined) {
    const millis = Duration.toMillis(decoded)
    if ((exclusive ? millis > min : millis >= min) && (!finite || Duration.isFinite(decoded))) {
      return Result.succeed(decoded)
    }
  }
  return Result.fail(
    new InvalidOptionError({
      module,
      option,
      expected: `a ${finite ? "finite " : ""}duration ${exclusive ? ">" : ">="} ${min === 0 ? "0" : `${min} ms`}`,
      value
    })
  )
}

/**
 * Accepts one of a few literal values. The message lists them: `"skip" or "wait"`.
 *
 * **When to use**: string-union options (`order`, `jitter`, `onExceeded`).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { InvalidOption } from "@async-ops/core"
 *
 * const order = InvalidOption.oneOf("Queue.make", "order", "random", ["fifo", "lifo"] as const)
 * Result.isFailure(order) && order.failure.expected
 * // => "\"fifo\" or \"lifo\""
 * ```
 *
 * @category checks
 * @since 0.1.0
 */
export const oneOf = <const A extends string | number>(
  module: string,
  option: string,
  value: unknown,
  choices: ReadonlyArray<A>
): Check<A> =>
  (choices as ReadonlyArray<unknown>).includes(value)
    ? Result.succeed(value as A)
    : Result.fail(new InvalidOptionError({ module, option, expected: listChoices(choices), value }))

const listChoices = (choices: ReadonlyArray<string | number>): string => {
  const shown = choices.map((c) => JSON.stringify(c))
  return shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(", ")} or ${shown.at(-1)}`
}

const formatValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "bigint") return `${value}n`
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value)
    } catch {
      return String(value)
    }
  }
  return String(value)
}
