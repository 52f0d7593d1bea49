import { RedisConnection, SharedLimiter } from "@async-ops/redis"
import { ConcurrencyProbe, RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"

/** Written once against the interface: 20 calls at once through the provided limiter; returns the peak. */
const program = Effect.gen(function*() {
  const probe = yield* ConcurrencyProbe.make
  yield* Effect.forEach(
    Array.from({ length: 20 }),
    () => SharedLimiter.withPermit(probe.track(Effect.sleep("5 millis"))),
    { concurrency: "unbounded", discard: true }
  )
  const limiter = yield* SharedLimiter.Service
  return { peak: (yield* probe.stats).peak, stats: yield* limiter.stats }
})

describe("SharedLimiter", () => {
  it.live("layerLocal: the program runs on core's in-process Limiter", () =>
    Effect.gen(function*() {
      const { peak, stats } = yield* program.pipe(Effect.provide(SharedLimiter.layerLocal({ limit: 3 })))
      expect(peak).toBe(3)
      expect(stats).toMatchObject({ limit: 3, acquired: 20, inFlight: 0 })
      const none = yield* SharedLimiter.withPermitIfAvailable(Effect.succeed(1)).pipe(
        Effect.provide(SharedLimiter.layerLocal({ limit: 1 }))
      )
      expect(none).toEqual(Option.some(1))
    }))

  it.effect("layerLocal rejects a bad limit with InvalidOptionError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(program.pipe(Effect.provide(SharedLimiter.layerLocal({ limit: 0 }))))
      expect(error._tag).toBe("InvalidOptionError")
    }))

  describe.skipIf(!RedisServer.available())("with a real redis-server", () => {
    it.live("layerRedis: the same program, unchanged, is limited through Redis", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        const { peak, stats } = yield* program.pipe(
          Effect.provide(
            SharedLimiter.layerRedis({ name: "shared", limit: 3 }).pipe(
              Layer.provide(RedisConnection.layer({ url: server.url }))
            )
          )
        )
        expect(peak).toBe(3)
        expect(stats).toMatchObject({ limit: 3, acquired: 20, inFlight: 0, fleet: true })
      }).pipe(Effect.scoped), 60_000)
  })
})
