import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../04-production/cleanup.ts"
import { runExample } from "../runExample.ts"

it.effect("04-production/cleanup runs cancellation cleanup, finishes the write in progress, reports a cut-off drain", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- cancellation: tasks clean up, the write in progress finishes, resources close in reverse",
      "t=0ms open database",
      "t=0ms open message broker",
      "t=0ms writer: batch 1 started",
      "t=300ms writer: batch 1 committed",
      "t=500ms writer: batch 2 started",
      "t=650ms SIGTERM",
      "t=650ms poller: cancelled, rolled back its open call",
      "t=650ms poller: finally, socket closed",
      "t=800ms writer: batch 2 committed",
      "t=800ms writer: interrupted between batches, nothing half-written",
      "t=800ms close message broker",
      "t=800ms close database",
      "shutdown clean, exit code 0",
      "-- a cleanup slower than the budget is cut off and reported",
      "t=0ms open legacy client",
      "t=0ms legacy flush: started (needs 60 s)",
      "t=5000ms legacy flush: cut off at the budget",
      "t=5000ms close legacy client",
      "t=5000ms shutdown overrun, exit code 1, cut off: legacy flush, finalizers"
    ])
  }))
