import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/cancellation.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/cancellation runs cleanup on interruption, releases resources, and propagates the interruption", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- task.cancel(): interrupt a fiber and wait for its cleanup",
      "worker: started",
      "worker: interrupted, cleaning up",
      "worker: finally",
      "worker exit: interrupted",
      "-- resources: acquireRelease releases on interruption too",
      "open connection",
      "close connection (interrupted)",
      "query timed out: true",
      "-- interruption propagates: error handlers do not swallow it, children stop too",
      "parent: interrupted",
      "child: interrupted",
      "parent exit: interrupted"
    ])
  }))
