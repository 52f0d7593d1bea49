import { expect, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { program } from "../../01-core/timeout.ts"
import { runExample } from "../runExample.ts"

it.effect("01-core/timeout moves on at expiry, keeps early results, and the earlier nested deadline wins and reports", () =>
  Effect.gen(function*() {
    const lines = yield* runExample(program)
    expect(lines).toEqual([
      "-- a 300 ms operation under a 100 ms deadline falls back to a default",
      "slow operation interrupted, its cleanup ran",
      "result: default",
      "-- a 50 ms operation under the same deadline keeps its result",
      "result: fresh data",
      "-- nested: an inner 1 s deadline inside an outer 200 ms one",
      "outside any deadline: no deadline",
      "remaining inside the inner deadline: 200ms",
      "after 50 ms of work: 150ms",
      "slow operation interrupted, its cleanup ran",
      "result: the outer deadline expired (budget 200ms)",
      "-- a 1 s move-on inside a 100 ms deadline: the outer deadline fails, the move-on cannot hide it",
      "slow operation interrupted, its cleanup ran",
      "result: the outer deadline expired at 450 ms"
    ])
    // 100 ms + 50 ms + 200 ms + 100 ms of virtual time: nothing waited for a deadline that no longer mattered
    expect(yield* Clock.currentTimeMillis).toBe(450)
  }))
