import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/shield.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/shield finishes critical work when the caller times out, blocking or in the background", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- Effect.uninterruptible: the save finishes, but the caller cannot leave before it does",
      "save order 1: started",
      "save order 1: committed",
      "caller: timed out, back after 50 ms",
      "-- forkIn a longer-lived scope + interruptible join (asyncio.shield): the caller leaves at once",
      "save order 2: started",
      "caller: timed out, back after 10 ms",
      "caller: moved on while the save runs in the background",
      "save order 2: committed",
      "service scope closed"
    ])
  }))
