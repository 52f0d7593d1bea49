// W3 queue: @async-ops/core WorkQueue (capacity 1000), one producer offering one item at a time, 4 consumers taking
// one item at a time and marking it done (asyncio's get + task_done); a draining shutdown ends the consumers.
import * as WorkQueue from "@async-ops/core/WorkQueue"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { benchEffect } from "../../runnerEffect.ts"

const consumer = (queue: WorkQueue.WorkQueue<number>) => {
  let sum = 0
  return Effect.gen(function*() {
    while (true) {
      sum += yield* queue.take
      yield* queue.taskDone
    }
  }).pipe(Effect.catchTag("QueueShutdownError", () => Effect.succeed(sum)))
}

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const queue = yield* WorkQueue.make<number>({ capacity: params["capacity"] ?? 1000 })
    const consumers = yield* Effect.forEach(
      Array.from({ length: params["consumers"] ?? 4 }),
      () => Effect.forkChild(consumer(queue))
    )
    for (let i = 0; i < size; i++) yield* queue.offer(i)
    yield* queue.shutdown()
    const sums = yield* Fiber.joinAll(consumers)
    return sums.reduce((a, b) => a + b, 0)
  })
)
