/**
 * Runs an HTTP example's `program` on real time and real sockets (for `it.live`), with the console captured by a
 * fresh `TestConsole`, and returns the printed lines.
 */
import { Effect } from "effect"
import { TestConsole } from "effect/testing"

export const runLiveExample = <E>(program: Effect.Effect<void, E>): Effect.Effect<Array<string>, unknown> =>
  Effect.gen(function*() {
    yield* program
    const lines = yield* TestConsole.logLines
    return lines.flatMap((line) => String(line).split("\n"))
  }).pipe(Effect.provide(TestConsole.layer))
