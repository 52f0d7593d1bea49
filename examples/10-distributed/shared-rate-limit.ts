/**
 * Replaces an aiohttp client behind `aiolimiter.AsyncLimiter(5, 600)` (5 calls per 10 minutes to a partner API) plus
 * `TCPConnector(limit_per_host=2)`, in a service that now runs as 3 replicas: per process the partner sees 3 × 5 calls
 * per window and up to 3 × 2 connections at once. The client below is written once with `HttpResilience`; giving it
 * `FleetHttp.layer` (connection caps as Redis leases) and `FleetHttp.layerStores` (Effect's `RateLimiter` and
 * `CircuitBreaker` on their Redis stores) makes both limits fleet-wide, one Layer apart. It starts its own
 * `redis-server` (RedisServer from the test kit; `apt-get install redis-server`) and a FaultServer as the partner.
 */
import { HttpResilience } from "@async-ops/http"
import { FleetHttp, RedisConnection } from "@async-ops/redis"
import { FaultServer, RedisServer } from "@async-ops/testing"
import { Console, Context, Effect, Layer } from "effect"

/** The client every replica builds: the same options either way. */
const clientLayer = HttpResilience.layerUndici({
  name: "partner",
  maxConnectionsPerHost: 2,
  rateLimit: { limit: 5, window: "10 minutes", onExceeded: "fail" }
})

/** One replica's work: 6 calls at once; returns how many the rate limit let through. */
const replica = (url: string, layer: Layer.Layer<HttpResilience.ResilientClient, unknown>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = Context.get(yield* Layer.build(layer), HttpResilience.ResilientClient)
    const results = yield* Effect.forEach(Array.from({ length: 6 }), () => Effect.result(client.get(url)), {
      concurrency: "unbounded"
    })
    return results.filter((r) => r._tag === "Success").length
  }))

/** Runs 3 replicas at once, each with its own layers (as 3 processes would have); returns the calls let through. */
const fleet = (url: string, layer: () => Layer.Layer<HttpResilience.ResilientClient, unknown>) =>
  Effect.map(
    Effect.all([0, 1, 2].map(() => replica(url, layer())), { concurrency: "unbounded" }),
    (sent) => sent.reduce((a, b) => a + b, 0)
  )

export const program = Effect.scoped(Effect.gen(function*() {
  const redis = yield* RedisServer.make()
  const partner = yield* FaultServer.make({ routes: { "/quote": { latency: 60 } } })
  const url = partner.url("/quote")

  const local = yield* fleet(url, () => Layer.fresh(clientLayer))
  const localStats = yield* partner.stats
  yield* Console.log(
    `in-process: ${local} of 18 calls sent, partner saw ${localStats.total}, up to ${localStats.peakConcurrency} at once`
  )

  yield* partner.reset
  const shared = yield* fleet(url, () =>
    Layer.fresh(clientLayer.pipe(
      Layer.provide(Layer.merge(FleetHttp.layer(), FleetHttp.layerStores({ prefix: "example" }))),
      Layer.provide(Layer.fresh(RedisConnection.layer({ url: redis.url })))
    )))
  const sharedStats = yield* partner.stats
  yield* Console.log(
    `fleet-wide: ${shared} of 18 calls sent, partner saw ${sharedStats.total}, up to ${sharedStats.peakConcurrency} at once`
  )
}))
