/**
 * Replaces an `asyncio.Semaphore(4)` that was meant to cap calls to a partner API at 4, in a service that now runs
 * as 3 replicas: per process the cap is 4 × 3 = 12; with a Redis-backed semaphore it is 4 again. The program below is
 * written once against `SharedLimiter`; only the Layer changes (`layerLocal` vs `layerRedis`). It starts its own
 * `redis-server` (RedisServer from the test kit; install one with `apt-get install redis-server`) and a FaultServer
 * standing in for the partner API, which records the peak concurrency it sees.
 */
import { RedisConnection, SharedLimiter } from "@async-ops/redis"
import { FaultServer, RedisServer } from "@async-ops/testing"
import { Console, Effect, Layer } from "effect"

/** One replica's work, written against the Limiter interface only: 10 calls, all started at once. */
const replica = (url: string) =>
  Effect.forEach(
    Array.from({ length: 10 }),
    () =>
      SharedLimiter.withPermit(Effect.tryPromise(async () => {
        const response = await fetch(url)
        await response.text()
      })),
    { concurrency: "unbounded", discard: true }
  )

/** Runs 3 replicas at once, each with its own copy of the limiter layer (as 3 processes would have). */
const fleet = <E>(url: string, limiterLayer: () => Layer.Layer<SharedLimiter.Service, E>) =>
  Effect.all([0, 1, 2].map(() => replica(url).pipe(Effect.provide(limiterLayer()))), {
    concurrency: "unbounded",
    discard: true
  })

export const program = Effect.scoped(Effect.gen(function*() {
  const redis = yield* RedisServer.make()
  const partner = yield* FaultServer.make({ routes: { "/quote": { latency: 50 } } })
  const url = partner.url("/quote")

  yield* fleet(url, () => Layer.fresh(SharedLimiter.layerLocal({ limit: 4 })))
  const local = yield* partner.stats
  yield* Console.log(`layerLocal: ${local.total} calls, partner saw up to ${local.peakConcurrency} at once`)
  yield* Console.log(`  (limit 4 per process: above 4 with 3 replicas: ${local.peakConcurrency > 4})`)

  yield* partner.reset
  yield* fleet(
    url,
    () =>
      Layer.fresh(
        SharedLimiter.layerRedis({ name: "partner-api", limit: 4 }).pipe(
          Layer.provide(Layer.fresh(RedisConnection.layer({ url: redis.url })))
        )
      )
  )
  const shared = yield* partner.stats
  yield* Console.log(`layerRedis: ${shared.total} calls, partner saw up to ${shared.peakConcurrency} at once`)
}))
