import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/background.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/background tracks tasks in a FiberSet, drops finished ones, interrupts the rest on shutdown", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- start background tasks in a FiberSet owned by the service's scope",
      "running: 3",
      "send-email: done",
      "heartbeat",
      "running after send-email ended: 2",
      "-- shutdown: closing the scope interrupts what is still running",
      "heartbeat: stopped",
      "cache-refresher: stopped",
      "running after shutdown: 0"
    ])
  }))
