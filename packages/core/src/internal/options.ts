/**
 * The decoding under `InvalidOption`'s checks, kept apart so that hot paths (`Deadline.within` on every call) can
 * decode without allocating a `Result` or an error.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

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
