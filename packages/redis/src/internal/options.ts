/**
 * Option checks shared by the Redis modules, lifted from `@async-ops/core/InvalidOption`'s checks (durations as
 * millis, integers with a fallback). A module of its own so that an internal module can use them without importing
 * another public module's internals (an import cycle when it is loaded first).
 *
 * @internal
 */
import * as InvalidOption from "@async-ops/core/InvalidOption"
import type { InvalidOptionError } from "@async-ops/core/InvalidOption"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"

/** A finite duration option of at least `min` ms, as millis (`fallback` when absent). */
export const durationOption = (
  module: string,
  option: string,
  value: Duration.Input | undefined,
  fallback: number,
  min: number = 1
): Effect.Effect<number, InvalidOptionError> =>
  value === undefined
    ? Effect.succeed(fallback)
    : Effect.fromResult(
      Result.map(InvalidOption.duration(module, option, value, { min, finite: true }), Duration.toMillis)
    )

/** An integer option of at least `min` (`fallback` when absent). */
export const intOption = (
  module: string,
  option: string,
  value: number | undefined,
  fallback: number | undefined,
  min: number
): Effect.Effect<number | undefined, InvalidOptionError> =>
  value === undefined ? Effect.succeed(fallback) : Effect.fromResult(InvalidOption.int(module, option, value, { min }))
