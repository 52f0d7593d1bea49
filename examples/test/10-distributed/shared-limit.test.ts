import { RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../10-distributed/shared-limit.ts"
import { runLiveExample } from "../03-http/runLive.ts"

describe.skipIf(!RedisServer.available())("10-distributed/shared-limit", () => {
  it.live(
    "the same program is capped per process with layerLocal and fleet-wide with layerRedis",
    () =>
      Effect.gen(function*() {
        const lines = yield* runLiveExample(program)
        expect(lines).toHaveLength(3)
        const localPeak = Number(/partner saw up to (\d+)/.exec(lines[0]!)![1])
        expect(lines[0]).toMatch(/^layerLocal: 30 calls/)
        // Three independent limits of 4: the partner sees more than 4 at once (at most 12).
        expect(localPeak).toBeGreaterThan(4)
        expect(localPeak).toBeLessThanOrEqual(12)
        expect(lines[1]).toBe("  (limit 4 per process: above 4 with 3 replicas: true)")
        expect(lines[2]).toBe("layerRedis: 30 calls, partner saw up to 4 at once")
      }),
    120_000
  )
})
