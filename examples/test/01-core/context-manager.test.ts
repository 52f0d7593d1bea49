import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../01-core/context-manager.ts"
import { runExample } from "../runExample.ts"

it.effect("01-core/context-manager releases on success, failure and interruption, in reverse order", () =>
  Effect.gen(function*() {
    const lines = yield* runExample(program)
    expect(lines).toEqual([
      "-- on success",
      "open db",
      "open cache",
      "using db and cache",
      "close cache (success)",
      "close db (success)",
      "result: done",
      "-- on failure",
      "open db",
      "open cache",
      "using db and cache",
      "close cache (failure)",
      "close db (failure)",
      "error: query failed",
      "-- on interruption (a 1 s timeout around work that takes 1 minute)",
      "open db",
      "open cache",
      "using db and cache",
      "close cache (failure)",
      "close db (failure)",
      "timed out: true"
    ])
  }))
