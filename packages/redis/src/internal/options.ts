/**
 * Option checks shared by the Redis modules (durations and integers to InvalidOptionError). A module of its own
 * so that an internal module can use them without importing another public module's internals (an import cycle
 * when it is loaded first).
 *
 * @internal
 */
import { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** A duration option as millis (`fallback` when absent), or an InvalidOptionError naming it. */
export const durationOption = (
  module: string,
  option: string,
  value: Duration.Input | undefined,
  fallback: number,
  min: number = 1
): Effect.Effect<number, InvalidOptionError> => {
  if (value === undefined) return Effect.succeed(fallback)
  const decoded = Duration.fromInput(value)
  const millis = decoded._tag === "Some" ? Duration.toMillis(decoded.value) : Number.NaN
  return Number.isFinite(millis) && millis >= min
    ? Effect.succeed(millis)
    : Effect.fail(new InvalidOptionError({ module, option, expected: `a finite duration >= ${min} ms`, value }))
}

/** An integer option (`fallback` when absent), or an InvalidOptionError naming it. */
export const intOption = (
  module: string,
  option: string,
  value: number | undefined,
  fallback: number | undefined,
  min: number
): Effect.Effect<number | undefined, InvalidOptionError> => {
  if (value === undefined) return Effect.succeed(fallback)
  return Number.isInteger(value) && value >= min
    ? Effect.succeed(value)
    : Effect.fail(new InvalidOptionError({ module, option, expected: `an integer >= ${min}`, value }))
}
