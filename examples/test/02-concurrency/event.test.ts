import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/event.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/event blocks waiters until the latch opens, passes at once while open, blocks after close", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- waiters block until the event is set (event.wait / event.set)",
      "config loaded: setting the event",
      "db: ready, starting",
      "cache: ready, starting",
      "api: ready, starting",
      "-- once set, wait returns at once (event.is_set)",
      "is set: true",
      "late waiter passed without blocking",
      "-- clear: later waiters block again until the next set",
      "is set: false",
      "gate still closed: the job waits",
      "gated job runs"
    ])
  }))
