/**
 * A flag's description and default in one step, with the default shown in `--help` (`effect/cli` lists flags
 * without their defaults), so the text cannot drift from the value.
 *
 * @internal
 */
import { Flag } from "effect/cli"

/** @internal */
export const withDefault =
  <A extends string | number | boolean>(description: string, value: A, shown?: string) =>
  <B>(flag: Flag.Flag<B>): Flag.Flag<B | A> =>
    flag.pipe(
      Flag.withDescription(`${description} (default: ${shown ?? String(value)})`),
      Flag.withDefault(value)
    )
