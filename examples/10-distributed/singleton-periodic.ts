/**
 * Replaces the Python pattern of a cron job guarded by a Redis lock so that only one replica runs it (redis-py's
 * `Lock` around the job, or APScheduler with a shared job store) with a `Periodic` task marked `singleton`: the
 * replicas elect one runner through `Election`, and when it stops another takes over. The same three replicas
 * run twice, one Layer apart: with no layer (the in-process `Election`, for one process) and with
 * `RedisElection.layer` (one runner across every process on the Redis). The Redis part starts its own
 * redis-server (or uses `REDIS_URL`); without either it says so and skips.
 */
import { RedisConnection, RedisElection } from "@async-ops/redis"
import * as Periodic from "@async-ops/service/Periodic"
import { RedisServer } from "@async-ops/testing"
import { Console, Effect, Exit, Layer, Scope } from "effect"

/** Three replicas of a service with the same singleton job; replica 1 starts first and stops halfway. */
const replicas = Effect.gen(function*() {
  const runs = new Map<string, number>()
  let active = 0
  let peak = 0
  const job = (replica: string) =>
    Effect.gen(function*() {
      active++
      peak = Math.max(peak, active)
      runs.set(replica, (runs.get(replica) ?? 0) + 1)
      yield* Effect.sleep("20 millis") // the work: a report, a sweep, a sync
      active--
    })
  const start = (replica: string, scope: Scope.Scope) =>
    Periodic.make(job(replica), { name: replica, every: "50 millis", runOnStart: true, singleton: "daily-report" })
      .pipe(Scope.provide(scope))

  const scopes = [yield* Scope.make(), yield* Scope.make(), yield* Scope.make()]
  const first = yield* start("replica-1", scopes[0]!)
  yield* first.awaitRuns(2)
  const standbys = [yield* start("replica-2", scopes[1]!), yield* start("replica-3", scopes[2]!)]
  yield* first.awaitRuns(6)
  yield* Console.log(
    `replica-1 leads: ${runs.get("replica-1")! >= 6}; replica-2 and replica-3 ran ${
      (runs.get("replica-2") ?? 0) + (runs.get("replica-3") ?? 0)
    } times`
  )
  yield* Scope.close(scopes[0]!, Exit.void)
  yield* Effect.raceFirst(standbys[0]!.awaitRuns(3), standbys[1]!.awaitRuns(3))
  const took = ["replica-2", "replica-3"].filter((r) => (runs.get(r) ?? 0) > 0)
  yield* Console.log(`replica-1 stopped; standbys that took over: ${took.length}`)
  yield* Console.log(`runs at the same time, at most: ${peak}`)
  yield* Effect.forEach(scopes.slice(1), (s) => Scope.close(s, Exit.void), { discard: true })
})

const onRedis = (url: string) =>
  Effect.gen(function*() {
    yield* Console.log("-- fleet-wide: RedisElection.layer over RedisConnection.layer")
    yield* replicas.pipe(
      Effect.provide(
        RedisElection.layer({ ttl: "2 seconds", prefix: `example:${Date.now()}:` }).pipe(
          Layer.provide(RedisConnection.layer({ url }))
        ),
        { local: true }
      )
    )
  })

export const program = Effect.gen(function*() {
  yield* Console.log("-- in-process: the default Election")
  yield* replicas
  const url = process.env["REDIS_URL"]
  if (url !== undefined) return yield* onRedis(url)
  if (!RedisServer.available()) {
    return yield* Console.log("-- fleet-wide: skipped (no redis-server on PATH and no REDIS_URL)")
  }
  yield* Effect.scoped(Effect.flatMap(RedisServer.make(), (server) => onRedis(server.url)))
})
