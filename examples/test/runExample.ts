/**
 * Runs an example's `program` the way the catalogue does, but on virtual time (autojump) with the console captured,
 * and returns the printed lines.
 */
import { VirtualTime } from "@async-ops/testing"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"

export const runExample = <E>(program: Effect.Effect<void, E>): Effect.Effect<Array<string>, unknown> =>
  Effect.gen(function*() {
    yield* VirtualTime.autojump(program)
    const lines = yield* TestConsole.logLines
    return lines.flatMap((line) => String(line).split("\n"))
  })
