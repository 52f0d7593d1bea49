/**
 * The one error of a bad option (`InvalidOptionError`), shared by every async-ops constructor: a bad option (a
 * concurrency of 0, a NaN duration, a negative count) is rejected with one typed error that names the module, the option and what was expected, instead
 * of a hang or a crash deep inside a fiber. The Python it answers is the `ValueError` asyncio raises for
 * `Semaphore(-1)`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

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
