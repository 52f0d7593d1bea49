import { RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../10-distributed/shared-rate-limit.ts"
import { runLiveExample } from "../03-http/runLive.ts"

describe.skipIf(!RedisServer.available())("10-distributed/shared-rate-limit", () => {
  it.live(
    "the same client is limited per replica in-process and fleet-wide with FleetHttp's layers",
    () =>
      Effect.gen(function*() {
        const lines = yield* runLiveExample(program)
        expect(lines).toHaveLength(2)
        // three independent windows of 5: 15 calls; three independent caps of 2 per host: more than 2 at once
        expect(lines[0]).toMatch(/^in-process: 15 of 18 calls sent, partner saw 15, up to (\d+) at once$/)
        expect(Number(/up to (\d+)/.exec(lines[0]!)![1])).toBeGreaterThan(2)
        // one window and one cap for the fleet
        expect(lines[1]).toBe("fleet-wide: 5 of 18 calls sent, partner saw 5, up to 2 at once")
      }),
    120_000
  )
})
