import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/first-completed.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/first-completed keeps the first success or the first result and interrupts the losers", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- raceAll: the first success wins (a failure that comes first is ignored)",
      "  mirror-a: failed",
      "  mirror-b: answered",
      "  mirror-c: cancelled (lost the race)",
      "winner: mirror-b (30 ms)",
      "-- raceAllFirst: the first to finish wins, even a failure (return_when=FIRST_COMPLETED)",
      "  mirror-a: failed",
      "  mirror-b: cancelled (lost the race)",
      "  mirror-c: cancelled (lost the race)",
      "failed: mirror-a is down",
      "-- raceAll when every one fails: the race fails with all the failures",
      "  mirror-a: failed",
      "  mirror-b: failed",
      "failed: mirror-a is down; mirror-b is down"
    ])
  }))
