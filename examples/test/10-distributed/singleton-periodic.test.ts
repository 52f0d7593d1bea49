import { RedisServer } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../10-distributed/singleton-periodic.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live.skipIf(!RedisServer.available())(
  "10-distributed/singleton-periodic elects one runner in-process and on a real redis-server, with a handover",
  () =>
    Effect.gen(function*() {
      const leg = [
        "replica-1 leads: true; replica-2 and replica-3 ran 0 times",
        "replica-1 stopped; standbys that took over: 1",
        "runs at the same time, at most: 1"
      ]
      expect(yield* runLiveExample(program)).toEqual([
        "-- in-process: the default Election",
        ...leg,
        "-- fleet-wide: RedisElection.layer over RedisConnection.layer",
        ...leg
      ])
    }),
  60_000
)
