import { Election } from "@async-ops/core"
import { RedisConnection, RedisElection } from "@async-ops/redis"
import { RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import * as Redis from "effect/persistence/Redis"

const TTL = 1_000
const REFRESH = 200
const options = { ttl: TTL, refreshInterval: REFRESH, retryInterval: 50 }

describe("RedisElection", () => {
  it.effect("a refreshInterval not shorter than the ttl, a tiny ttl, a bad retryInterval: InvalidOptionError", () =>
    Effect.gen(function*() {
      for (
        const [option, bad] of [
          ["refreshInterval", { ttl: 1000, refreshInterval: 1000 }],
          ["ttl", { ttl: 5 }],
          ["retryInterval", { retryInterval: 0 }]
        ] as const
      ) {
        const error = yield* Effect.flip(RedisElection.make(bad))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.message).toContain(option)
      }
    }).pipe(Effect.provideService(Redis.Redis, {} as Redis.Redis["Service"])))

  describe.skipIf(!RedisServer.available())("with a real redis-server", () => {
    const withRedis = <A, E>(body: (server: RedisServer.RedisServer) => Effect.Effect<A, E, Redis.Redis>) =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make()
        return yield* body(server).pipe(Effect.provide(RedisConnection.layer({ url: server.url }), { local: true }))
      }).pipe(Effect.scoped)

    it.live(
      "one leader per key; the other takes over when the leader's job ends",
      () =>
        withRedis(() =>
          Effect.gen(function*() {
            const a = yield* RedisElection.make(options)
            const b = yield* RedisElection.make(options)
            const release = yield* Deferred.make<void>()
            const started = yield* Deferred.make<void>()
            const first = yield* Effect.forkChild(
              a.withLeadership("k", Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release)))
            )
            yield* Deferred.await(started)
            const second = yield* Effect.forkChild(b.withLeadership("k", Effect.succeed("b ran")))
            // b campaigns for several refresh periods of a without getting in
            yield* Effect.sleep(TTL * 2)
            expect(second.pollUnsafe()).toBeUndefined()
            expect(yield* b.stats).toMatchObject({ backend: "redis", leading: [], campaigning: ["k"] })
            expect((yield* a.stats).leading).toEqual(["k"])
            yield* Deferred.succeed(release, undefined)
            yield* Fiber.join(first)
            expect(yield* Fiber.join(second)).toBe("b ran")
            expect(yield* a.stats).toMatchObject({ leading: [], acquired: 1, lost: 0 })
          })
        ),
      60_000
    )

    it.live(
      "a lease taken by another token: the job is interrupted with LeaseLostError (taken)",
      () =>
        withRedis((server) =>
          Effect.gen(function*() {
            const election = yield* RedisElection.make({ ...options, prefix: "t:" })
            const started = yield* Deferred.make<void>()
            const interrupted = yield* Ref.make(false)
            const fiber = yield* Effect.forkChild(Effect.flip(election.withLeadership(
              "k",
              Effect.andThen(Deferred.succeed(started, undefined), Effect.never).pipe(
                Effect.onInterrupt(() => Ref.set(interrupted, true))
              )
            )))
            yield* Deferred.await(started)
            yield* server.command("SET", "t:k", "someone-else")
            const error = yield* Fiber.join(fiber)
            expect(error).toMatchObject({ _tag: "LeaseLostError", key: "k", reason: "taken" })
            expect(Election.isLeaseLostError(error)).toBe(true)
            expect(yield* Ref.get(interrupted)).toBe(true)
            expect((yield* election.stats).lost).toBe(1)
            // release left the other holder's lease alone
            expect(yield* server.command("GET", "t:k")).toBe("someone-else")
          })
        ),
      60_000
    )

    it.live(
      "Redis paused: the holder stops its job (LeaseLostError, expiring) before its lease runs out in Redis",
      () =>
        withRedis((server) =>
          Effect.gen(function*() {
            // a guard of 500 ms: the most the holder's timers may run late on a loaded machine
            const election = yield* RedisElection.make({ ttl: 3_000, refreshInterval: 500, prefix: "p:" })
            const started = yield* Deferred.make<void>()
            const stoppedAt = yield* Ref.make(0)
            const fiber = yield* Effect.forkChild(Effect.flip(election.withLeadership(
              "k",
              Effect.andThen(Deferred.succeed(started, undefined), Effect.never).pipe(
                Effect.onInterrupt(() => Effect.flatMap(Effect.sync(() => Date.now()), (t) => Ref.set(stoppedAt, t)))
              )
            )))
            yield* Deferred.await(started)
            // when Redis will expire the lease at the earliest (a refresh landing before the pause only extends it);
            // Redis runs on this machine, so its clock is ours
            const expiresAt = Number(yield* server.command("PEXPIRETIME", "p:k"))
            yield* server.pause
            const error = yield* Fiber.join(fiber)
            expect(error).toMatchObject({ _tag: "LeaseLostError", reason: "expiring" })
            const stopped = yield* Ref.get(stoppedAt)
            expect(stopped).toBeGreaterThan(0)
            expect(stopped).toBeLessThan(expiresAt)
            yield* server.resume
          })
        ),
      60_000
    )
  })
})
