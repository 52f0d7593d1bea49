import { expect, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { program } from "../../01-core/timeout.ts"
import { runExample } from "../runExample.ts"

it.effect("01-core/timeout falls back on expiry, keeps early results and lets the earlier nested deadline win", () =>
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
      "result: the outer deadline expired (budget 200ms)"
    ])
    // 100 ms + 50 ms + 200 ms of virtual time: nothing waited for a deadline that no longer mattered
    expect(yield* Clock.currentTimeMillis).toBe(350)
  }))
