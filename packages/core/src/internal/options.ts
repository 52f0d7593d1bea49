/** @internal */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidOptionError } from "../InvalidOption.ts"

/**
 * A concurrency limit: a positive integer, `"unbounded"` or `Infinity` (both mean no limit). Returns the limit as a
 * number (`Infinity` for unbounded).
 *
 * @internal
 */
export const concurrency = (
  module: string,
  value: number | "unbounded" | undefined,
  option = "concurrency"
): Effect.Effect<number, InvalidOptionError> => {
  if (value === undefined || value === "unbounded" || value === Number.POSITIVE_INFINITY) {
    return Effect.succeed(Number.POSITIVE_INFINITY)
  }
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1) return Effect.succeed(value)
  return Effect.fail(
    new InvalidOptionError({ module, option, expected: "an integer >= 1 or \"unbounded\"", value })
  )
}

/**
 * A count that must be a positive integer when given.
 *
 * @internal
 */
export const positiveInt = (
  module: string,
  option: string,
  value: number | undefined
): Effect.Effect<number | undefined, InvalidOptionError> => {
  if (value === undefined) return Effect.succeed(undefined)
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1) return Effect.succeed(value)
  return Effect.fail(new InvalidOptionError({ module, option, expected: "an integer >= 1", value }))
}

/**
 * A duration that must decode, be a number of milliseconds that is not NaN, and not be negative. `Infinity` is
 * allowed (it means "never").
 *
 * @internal
 */
export const duration = (
  module: string,
  option: string,
  value: Duration.Input | undefined
): Effect.Effect<Duration.Duration | undefined, InvalidOptionError> => {
  if (value === undefined) return Effect.succeed(undefined)
  const decoded = decodeDuration(value)
  if (decoded !== undefined) return Effect.succeed(decoded)
  return Effect.fail(
    new InvalidOptionError({
      module,
      option,
      expected: "a duration >= 0 (a Duration, millis or e.g. \"5 seconds\")",
      value
    })
  )
}

/**
 * A required duration that must be finite, and more than zero when `positive`.
 *
 * @internal
 */
export const finiteDuration = (
  module: string,
  option: string,
  value: Duration.Input | undefined,
  positive = false
): Effect.Effect<Duration.Duration, InvalidOptionError> => {
  const decoded = value === undefined ? undefined : decodeDuration(value)
  if (decoded !== undefined && Duration.isFinite(decoded) && (!positive || Duration.toMillis(decoded) > 0)) {
    return Effect.succeed(decoded)
  }
  return Effect.fail(
    new InvalidOptionError({
      module,
      option,
      expected: `a finite duration ${positive ? ">" : ">="} 0 (a Duration, millis or e.g. "1 second")`,
      value
    })
  )
}

/**
 * Decodes a duration that is not NaN and not negative (`Infinity` allowed), or returns `undefined`. Allocates no
 * error, so hot paths can call it on every use.
 *
 * @internal
 */
export const decodeDuration = (value: Duration.Input): Duration.Duration | undefined => {
  if (typeof value === "number") return Number.isNaN(value) || value < 0 ? undefined : Duration.millis(value)
  const decoded = Duration.isDuration(value) ? value : Option.getOrUndefined(Duration.fromInput(value))
  if (decoded === undefined) return undefined
  const millis = Duration.toMillis(decoded)
  return Number.isNaN(millis) || millis < 0 ? undefined : decoded
}

// One-line option checks for constructors with many options: each returns the error or `undefined`.

/** One option check: the error it fails with, or `undefined` when the value is fine. @internal */
export type Check = InvalidOptionError | undefined

/** @internal */
export const checkInt = (module: string, option: string, value: unknown, min: number): Check =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min
    ? undefined
    : new InvalidOptionError({ module, option, expected: `an integer >= ${min}`, value })

/** @internal */
export const checkRatio = (module: string, option: string, value: unknown): Check =>
  typeof value === "number" && value >= 0 && value <= 1
    ? undefined
    : new InvalidOptionError({ module, option, expected: "a number in [0, 1]", value })

/** @internal */
export const checkNumber = (module: string, option: string, value: unknown, min: number, exclusive = false): Check =>
  typeof value === "number" && Number.isFinite(value) && (exclusive ? value > min : value >= min)
    ? undefined
    : new InvalidOptionError({ module, option, expected: `a finite number ${exclusive ? ">" : ">="} ${min}`, value })

/** The first failing check, as a failed Effect, or `onValid()` when every check passed. @internal */
export const validated = <A>(
  checks: ReadonlyArray<Check>,
  onValid: () => A
): Effect.Effect<A, InvalidOptionError> => {
  for (const check of checks) if (check !== undefined) return Effect.fail(check)
  return Effect.sync(onValid)
}
