import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../08-performance/adaptive-limit.ts"
import { runExample } from "../runExample.ts"

it.effect("08-performance/adaptive-limit follows the service's capacity down and back up", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "time     service    adaptive limit",
      "  50 ms  capacity 50  limit 25",
      " 100 ms  capacity 50  limit 45",
      " 150 ms  capacity 50  limit 52",
      " 200 ms  capacity 50  limit 52",
      " 250 ms  capacity 50  limit 51",
      " 300 ms  capacity 50  limit 49",
      " 350 ms  capacity 10  limit 33",
      " 400 ms  capacity 10  limit 19",
      " 450 ms  capacity 10  limit 11",
      " 500 ms  capacity 10  limit 12",
      " 550 ms  capacity 50  limit 27",
      " 600 ms  capacity 50  limit 47",
      " 650 ms  capacity 50  limit 48",
      " 700 ms  capacity 50  limit 52",
      " 750 ms  capacity 50  limit 52",
      " 800 ms  capacity 50  limit 51",
      "calls: 4407 measured, 1174 timed out"
    ])
  }))
