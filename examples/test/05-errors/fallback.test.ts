import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../05-errors/fallback.ts"
import { runExample } from "../runExample.ts"

it.effect("05-errors/fallback falls back primary -> secondary -> cached default, by catchTag and by ExecutionPlan", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- a catchTag chain: primary, else secondary, else the cache or a default",
      "user:1 from primary",
      "user:1 from secondary",
      "Ada (cached)",
      "default profile",
      "-- ExecutionPlan: primary twice (50 ms apart), then secondary, then the cache",
      "  step 0 (primary) attempt 1: failed",
      "  step 0 (primary) attempt 2: failed",
      "  step 1 (secondary) attempt 1: failed",
      "  step 2 (cache) attempt 1: ok",
      "result: Ada (cached)"
    ])
  }))
