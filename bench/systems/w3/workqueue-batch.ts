// W3 queue: as workqueue, but each consumer takes a batch with takeBetween(1, 1000) and marks it done at once.
import * as WorkQueue from "@async-ops/core/WorkQueue"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { benchEffect } from "../../runnerEffect.ts"

const consumer = (queue: WorkQueue.WorkQueue<number>, batch: number) => {
  let sum = 0
  return Effect.gen(function*() {
    while (true) {
      const items = yield* queue.takeBetween(1, batch)
      for (const item of items) sum += item
      yield* queue.taskDoneN(items.length)
    }
  }).pipe(Effect.catchTag("QueueShutdownError", () => Effect.succeed(sum)))
}

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const capacity = params["capacity"] ?? 1000
    const queue = yield* WorkQueue.make<number>({ capacity })
    const consumers = yield* Effect.forEach(
      Array.from({ length: params["consumers"] ?? 4 }),
      () => Effect.forkChild(consumer(queue, capacity))
    )
    for (let i = 0; i < size; i++) yield* queue.offer(i)
    yield* queue.shutdown()
    const sums = yield* Fiber.joinAll(consumers)
    return sums.reduce((a, b) => a + b, 0)
  })
)
