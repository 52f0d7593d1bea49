import { RedisServer } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../10-distributed/work-queue.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live.skipIf(!RedisServer.available())(
  "10-distributed/work-queue runs the same workers in-process and on a real redis-server",
  () =>
    Effect.gen(function*() {
      expect(yield* runLiveExample(program)).toEqual([
        "-- in-process: DurableWorkerPool.layerMemory",
        "6 jobs: 5 done, 1 dead letter after 2 attempts (1 retry), both replicas worked: true",
        "-- fleet-wide: DurableWorkerPool.layerRedis over RedisConnection.layer",
        "6 jobs: 5 done, 1 dead letter after 2 attempts (1 retry), both replicas worked: true",
        "dead letters in Redis: job 4 (2 attempts)"
      ])
    }),
  60_000
)
