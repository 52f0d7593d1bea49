/**
 * Replaces the Python pattern of a Celery/RQ task queue on Redis (workers in several processes pulling jobs a web
 * process enqueued, with retries and a dead-letter list) with `DurableWorkerPool`: core's WorkerPool fed from
 * Effect's PersistedQueue. The same program runs twice, one Layer apart: in-process (`layerMemory`) and fleet-wide
 * on Redis (`layerRedis` over `RedisConnection`), with two worker "replicas" and a producer that runs no workers.
 * Item 4 always fails: it is tried twice, then it is a dead letter. The Redis part starts its own redis-server
 * (or uses `REDIS_URL`); without either it says so and skips.
 */
import { DurableWorkerPool, RedisConnection } from "@async-ops/redis"
import { RedisServer } from "@async-ops/testing"
import { Console, Data, Deferred, Effect, Layer, Schedule, Schema } from "effect"
import type * as PersistedQueue from "effect/persistence/PersistedQueue"
import type * as Redis from "effect/persistence/Redis"

class ResizeError extends Data.TaggedError("ResizeError")<{ readonly n: number }> {}

const Job = Schema.Struct({ n: Schema.Number })
const JOBS = 6
const MAX_ATTEMPTS = 2

/** Two worker replicas and a producer on one durable queue; waits until every job has its final outcome. */
const fleet = (queue: string) =>
  Effect.scoped(Effect.gen(function*() {
    const finished = yield* Deferred.make<void>()
    let settled = 0
    const settle = Effect.sync(() => {
      if (++settled === JOBS) Deferred.doneUnsafe(finished, Effect.void)
    })
    const replica = () =>
      DurableWorkerPool.make({
        name: queue,
        schema: Job,
        workers: 2,
        maxAttempts: MAX_ATTEMPTS,
        retrySchedule: Schedule.spaced("10 millis"),
        handler: ({ n }, { attempts }) =>
          n === 4
            ? Effect.andThen(attempts === MAX_ATTEMPTS ? settle : Effect.void, Effect.fail(new ResizeError({ n })))
            : settle
      })
    const replicas = [yield* replica(), yield* replica()]
    const producer = yield* DurableWorkerPool.producer({ name: queue, schema: Job })
    yield* producer.submitAll(Array.from({ length: JOBS }, (_, i) => ({ n: i + 1 })))
    yield* Deferred.await(finished)
    yield* Effect.forEach(replicas, (r) => r.drain, { discard: true })
    const stats = yield* Effect.forEach(replicas, (r) => r.stats)
    const sum = (f: (s: DurableWorkerPool.Stats) => number) => stats.reduce((total, s) => total + f(s), 0)
    yield* Console.log(
      `${JOBS} jobs: ${sum((s) => s.done)} done, ${sum((s) => s.failed)} dead letter after ${MAX_ATTEMPTS} attempts ` +
        `(${sum((s) => s.retried)} retry), both replicas worked: ${stats.every((s) => s.taken > 0)}`
    )
  }))

const inProcess = Effect.gen(function*() {
  yield* Console.log("-- in-process: DurableWorkerPool.layerMemory")
  yield* fleet("thumbnails").pipe(Effect.provide(DurableWorkerPool.layerMemory, { local: true }))
})

const onRedis = (url: string) =>
  Effect.gen(function*() {
    yield* Console.log("-- fleet-wide: DurableWorkerPool.layerRedis over RedisConnection.layer")
    const queue = `thumbnails-${Date.now()}`
    const run: Effect.Effect<void, unknown, PersistedQueue.PersistedQueueFactory | Redis.Redis> = Effect.gen(
      function*() {
        yield* fleet(queue)
        const letters = yield* DurableWorkerPool.deadLetters({ name: queue, schema: Job })
        yield* Console.log(
          `dead letters in Redis: ${letters.map((l) => `job ${l.item.n} (${l.attempts} attempts)`).join(", ")}`
        )
      }
    )
    yield* run.pipe(
      Effect.provide(
        DurableWorkerPool.layerRedis({ pollInterval: "50 millis" }).pipe(
          Layer.provideMerge(RedisConnection.layer({ url }))
        ),
        { local: true }
      )
    )
  })

export const program = Effect.gen(function*() {
  yield* inProcess
  const url = process.env["REDIS_URL"]
  if (url !== undefined) return yield* onRedis(url)
  if (!RedisServer.available()) {
    return yield* Console.log("-- fleet-wide: skipped (no redis-server on PATH and no REDIS_URL)")
  }
  yield* Effect.scoped(Effect.flatMap(RedisServer.make(), (server) => onRedis(server.url)))
})
