import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../08-performance/single-flight.ts"
import { runExample } from "../runExample.ts"

it.effect("08-performance/single-flight shares one lookup between concurrent requests for a key", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- 10 concurrent requests for one key",
      "10 requests got 1 value (pricing-v1); the lookup ran 1 time",
      "-- 5 requests for each of 3 keys: one lookup per key",
      "15 requests, lookups: 3",
      "-- later requests are served from the cache until the value expires",
      "cached: lookups 0",
      "after timeToLive: lookups 1"
    ])
  }))
