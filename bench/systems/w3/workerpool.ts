// W3 queue: @async-ops/core WorkerPool with 4 workers over a queue of 1000; one producer submits one item at a
// time, the handler adds it to the sum, drain waits for every outcome.
// Through the barrel: importing "@async-ops/core/WorkerPool" on its own currently fails (an import cycle between
// internal/workerPool.ts, internal/workQueue.ts and WorkQueue.ts reads WorkQueue's `make` before it is initialized).
import { WorkerPool } from "@async-ops/core"
import * as Effect from "effect/Effect"
import { benchEffect } from "../../runnerEffect.ts"

benchEffect(({ size, params }) =>
  Effect.scoped(Effect.gen(function*() {
    let sum = 0
    const pool = yield* WorkerPool.make({
      workers: params["consumers"] ?? 4,
      capacity: params["capacity"] ?? 1000,
      handler: (item: number) =>
        Effect.sync(() => {
          sum += item
        })
    })
    for (let i = 0; i < size; i++) yield* pool.submit(i)
    yield* pool.drain
    return sum
  }))
)
