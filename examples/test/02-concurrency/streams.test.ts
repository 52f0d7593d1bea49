import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { program } from "../../02-concurrency/streams.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/streams reads async iterables, stops early, paginates on demand, and maps concurrently", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- async for over an async generator from plain JS code: Stream.fromAsyncIterable",
      "ALPHA",
      "BETA",
      "GAMMA",
      "DELTA",
      "-- breaking out early: Stream.take(2) closes the generator (its finally runs)",
      "first two: alpha, beta; generator closed: true",
      "-- an async generator written as a Stream: pages fetched one at a time, on demand",
      "fetched page 1",
      "fetched page 2",
      "took: item-1a, item-1b, item-2a (page 3 was never fetched)",
      "-- concurrent processing: mapEffect with concurrency 2",
      "input order: user-1, user-2, user-3, user-4 (120 ms)",
      "completion order: user-2, user-3, user-1, user-4 (90 ms)"
    ])
    // pages: 2 x 10 ms, then the two concurrent runs (one at a time would take 160 ms each)
    expect(yield* Clock.currentTimeMillis).toBe(20 + 120 + 90)
  }))
