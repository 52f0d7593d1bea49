/**
 * Fleet-wide HTTP limits: two HttpResilience clients, each on its own Redis connection (two replicas in one
 * process), against one FaultServer route. With FleetHttp the server-recorded peak per host stays at the cap and a
 * rate limit is one window for both; without it, each client counts only itself.
 */
import { HttpResilience } from "@async-ops/http"
import { FleetHttp, RedisConnection } from "@async-ops/redis"
import { FaultServer, RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"

type Fleet = "fleet" | "local"

/** One replica's client layer: its own Redis connection, with or without the fleet layers. */
const replica = (redisUrl: string, mode: Fleet, options: HttpResilience.Options) => {
  const client = HttpResilience.layerUndici({ name: "partner", ...options })
  if (mode === "local") return client
  return client.pipe(
    Layer.provide(Layer.merge(FleetHttp.layer({ ttl: "5 seconds" }), FleetHttp.layerStores({ prefix: "fleet-test" }))),
    Layer.provide(Layer.fresh(RedisConnection.layer({ url: redisUrl })))
  )
}

/** Builds two replicas' clients in the current scope. */
const twoClients = (redisUrl: string, mode: Fleet, options: HttpResilience.Options) =>
  Effect.forEach([1, 2], () =>
    Effect.flatMap(
      Layer.build(Layer.fresh(replica(redisUrl, mode, options))),
      (context) => Effect.succeed(Context.get(context, HttpResilience.ResilientClient))
    ))

/** Each client sends `n` GETs at once to `url`; returns how many succeeded and the failures' tags. */
const burst = (clients: ReadonlyArray<HttpResilience.ResilientClient>, url: string, n: number) =>
  Effect.forEach(
    clients.flatMap((client) => Array.from({ length: n }, () => client)),
    (client) => Effect.result(client.get(url)),
    { concurrency: "unbounded" }
  ).pipe(
    Effect.map((results) => ({
      ok: results.filter((r) => r._tag === "Success").length,
      failures: results.flatMap((r) => r._tag === "Failure" ? [r.failure._tag] : [])
    }))
  )

describe.skipIf(!RedisServer.available())("FleetHttp with a real redis-server", () => {
  const perHostPeak = (mode: Fleet) =>
    Effect.gen(function*() {
      const redis = yield* RedisServer.make()
      const server = yield* FaultServer.make({ routes: { "/slow": { latency: 60 } } })
      const clients = yield* twoClients(redis.url, mode, { maxConnectionsPerHost: 2 })
      const result = yield* burst(clients, server.url("/slow"), 8)
      const stats = yield* server.stats
      return { ...result, peak: stats.peakConcurrency, total: stats.total }
    }).pipe(Effect.scoped)

  it.live(
    "two replicas with maxConnectionsPerHost 2: the server never sees more than 2 at once",
    () =>
      Effect.gen(function*() {
        const fleet = yield* perHostPeak("fleet")
        expect(fleet.ok).toBe(16)
        expect(fleet.total).toBe(16)
        expect(fleet.peak).toBeLessThanOrEqual(2)
        expect(fleet.peak).toBe(2)
        // the same two clients without FleetHttp: each caps only itself, the server sees both at once
        const local = yield* perHostPeak("local")
        expect(local.ok).toBe(16)
        expect(local.peak).toBeGreaterThan(2)
      }),
    60_000
  )

  const rateLimited = (mode: Fleet) =>
    Effect.gen(function*() {
      const redis = yield* RedisServer.make()
      const server = yield* FaultServer.make({ routes: { "/api": {} } })
      // a window far longer than the test: every request falls in the first one
      const clients = yield* twoClients(redis.url, mode, {
        rateLimit: { limit: 5, window: "10 minutes", onExceeded: "fail" }
      })
      const result = yield* burst(clients, server.url("/api"), 6)
      return { ...result, received: (yield* server.requests).length }
    }).pipe(Effect.scoped)

  it.live("two replicas with a rate limit of 5 per window send at most 5 together", () =>
    Effect.gen(function*() {
      const fleet = yield* rateLimited("fleet")
      expect(fleet.received).toBe(5)
      expect(fleet.ok).toBe(5)
      expect(fleet.failures).toEqual(Array.from({ length: 7 }, () => "RateLimitedError"))
      // without the Redis store each replica has its own window: 5 each
      const local = yield* rateLimited("local")
      expect(local.received).toBe(10)
    }), 60_000)

  it.live("a circuit opened by one replica is open for the other", () =>
    Effect.gen(function*() {
      const redis = yield* RedisServer.make()
      const server = yield* FaultServer.make({ routes: { "/down": { reply: { status: 503 } } } })
      const [a, b] = yield* twoClients(redis.url, "fleet", {
        circuitBreaker: { failures: 2, openDuration: "10 minutes" }
      })
      yield* Effect.result(a!.get(server.url("/down")))
      yield* Effect.result(a!.get(server.url("/down")))
      const error = yield* Effect.flip(b!.get(server.url("/down")))
      expect(error._tag).toBe("CircuitOpenError")
      expect((yield* server.requests).length).toBe(2)
    }).pipe(Effect.scoped), 60_000)
})
