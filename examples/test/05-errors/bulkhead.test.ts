import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../05-errors/bulkhead.ts"
import { runExample } from "../runExample.ts"

it.effect("05-errors/bulkhead rejects the excess at once with a typed error and keeps the dependency at 2", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- without a bulkhead: every call piles onto the saturated dependency",
      "8 calls, peak in flight 8, the last answered after 200 ms",
      "-- with a bulkhead (2 running, 2 queued for at most 40 ms): the excess fails fast",
      "call 1: row 1 after 25 ms",
      "call 2: row 2 after 50 ms",
      "call 3: row 3 after 75 ms",
      "call 4: rejected (queue-timeout) after 40 ms",
      "call 5: rejected (queue-full) after 0 ms",
      "call 6: rejected (queue-full) after 0 ms",
      "call 7: rejected (queue-full) after 0 ms",
      "call 8: rejected (queue-full) after 0 ms",
      "dependency peak in flight 2; rejected: 4 queue-full, 1 queue-timeout"
    ])
  }))
