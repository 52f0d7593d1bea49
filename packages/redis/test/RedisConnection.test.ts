import { RedisConnection } from "@async-ops/redis"
import { RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"

const ping = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  return yield* redis.send<string>("PING")
})

describe("RedisConnection", () => {
  for (const url of ["not a url", "http://127.0.0.1:6379", "redis://", 42 as unknown as string]) {
    it.effect(`a malformed URL fails with InvalidOptionError (${JSON.stringify(url)})`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Layer.build(RedisConnection.layer({ url })).pipe(Effect.scoped))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.message).toContain("url")
      }))
  }

  it.effect("a non-positive connectTimeout fails with InvalidOptionError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(RedisConnection.layer({ url: "redis://127.0.0.1:1", connectTimeout: 0 })).pipe(Effect.scoped)
      )
      expect(error._tag).toBe("InvalidOptionError")
    }))

  describe.skipIf(!RedisServer.available())("with a real redis-server", () => {
    it.live("connects and answers PING", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        expect(yield* ping.pipe(Effect.provide(RedisConnection.layer({ url: server.url }), { local: true }))).toBe(
          "PONG"
        )
      }).pipe(Effect.scoped), 60_000)

    it.live(
      "a stopped server fails the layer with RedisUnavailableError, without waiting for the timeout",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisServer.make()
          yield* server.stop
          const error = yield* Effect.flip(
            ping.pipe(Effect.provide(RedisConnection.layer({ url: server.url, connectTimeout: "60 seconds" }), {
              local: true
            }))
          )
          expect(error._tag).toBe("RedisUnavailableError")
        }).pipe(Effect.scoped, Effect.timeout("30 seconds")),
      60_000
    )

    it.live(
      "a paused server fails the layer with RedisUnavailableError after connectTimeout, no hang",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisServer.make()
          yield* server.pause
          const error = yield* Effect.flip(
            ping.pipe(Effect.provide(RedisConnection.layer({ url: server.url, connectTimeout: "500 millis" }), {
              local: true
            }))
          )
          expect(error._tag).toBe("RedisUnavailableError")
          expect(String(error.cause)).toContain("no answer within 500 ms")
          yield* server.resume
        }).pipe(Effect.scoped, Effect.timeout("30 seconds")),
      60_000
    )
  })
})
