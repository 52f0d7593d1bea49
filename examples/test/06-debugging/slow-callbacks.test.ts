import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../06-debugging/slow-callbacks.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live("06-debugging/slow-callbacks sees a real 200 ms block as a warning, in stats and in the check", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- monitor on: sample every 10 ms, warn at 100 ms",
      "readiness check before: ok",
      "-- a synchronous 200 ms wait on the event loop",
      "warning logged: \"event loop blocked for N ms\" with N >= 100: true",
      "stats: stalls >= 1: true, max >= 100 ms: true",
      "readiness check after: failing with EventLoopStalledError (until the stall leaves the 10 s window)",
      "-- fix: await the async API, or move the blocking call to a worker thread (07-sync-async)"
    ])
  }))
