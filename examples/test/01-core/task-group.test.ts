import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../01-core/task-group.ts"
import { runExample } from "../runExample.ts"

it.effect("01-core/task-group waits for all, cancels on failure, supervises, bounds concurrency, and cancels early", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- every task ends before the block does",
      "processed b",
      "processed c",
      "processed a",
      "all done",
      "-- the first failure cancels the siblings",
      "processed a",
      "cancelled slow",
      "group failed: bad-1",
      "-- supervise mode: siblings keep going, every failure is reported at the end",
      "processed a",
      "failures: bad-1, bad-2",
      "-- at most 2 at once, in spawn order",
      "processed p",
      "processed q",
      "processed r",
      "processed s",
      "peak running: 2, succeeded: 4",
      "-- cancel: the first mirror to answer wins, the group stops the rest and succeeds",
      "processed us",
      "us answered first",
      "cancelled eu",
      "cancelled ap",
      "group cancelled, body returned: false"
    ])
  }))
