import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/callbacks.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/callbacks observes success, failure and cancellation with onExit and Fiber.await", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- Effect.onExit: a done-callback attached to the work, run however it ends",
      "callback: /users succeeded with 6",
      "callback: /missing failed with NotFound",
      "callback: /slow was cancelled",
      "-- Fiber.await: observe a task from another fiber, which may start after it ended",
      "observer: /orders succeeded with 7",
      "late observer: /orders succeeded with 7"
    ])
  }))
