import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../07-sync-async/offload-thread.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live(
  "07-sync-async/offload-thread runs blocking calls on a worker while the loop keeps ticking",
  () =>
    Effect.gen(function*() {
      expect(yield* runLiveExample(program)).toEqual([
        "-- pbkdf2Sync on the event loop (like a blocking call in a coroutine)",
        "heartbeat ticks during the call: 0",
        "-- the same call on a worker thread",
        "heartbeat kept ticking during the call: true",
        "same hash both ways: true",
        "-- readFileSync + sha256 on a worker thread",
        "digest equals the main thread's: true",
        "pool: threads=1 completed=2 failed=0"
      ])
    }),
  30_000
)
