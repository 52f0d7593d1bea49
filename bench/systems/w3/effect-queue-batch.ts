// W3 queue: as effect-queue, but each consumer takes a batch with Queue.takeBetween(queue, 1, 1000).
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import { benchEffect } from "../../runnerEffect.ts"

const consumer = (queue: Queue.Queue<number, Cause.Done>, batch: number) => {
  let sum = 0
  return Effect.gen(function*() {
    while (true) {
      const items = yield* Queue.takeBetween(queue, 1, batch)
      for (const item of items) sum += item
    }
  }).pipe(Effect.catchTag("Done", () => Effect.succeed(sum)))
}

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const capacity = params["capacity"] ?? 1000
    const queue = yield* Queue.bounded<number, Cause.Done>(capacity)
    const consumers = yield* Effect.forEach(
      Array.from({ length: params["consumers"] ?? 4 }),
      () => Effect.forkChild(consumer(queue, capacity))
    )
    for (let i = 0; i < size; i++) yield* Queue.offer(queue, i)
    yield* Queue.end(queue)
    const sums = yield* Fiber.joinAll(consumers)
    return sums.reduce((a, b) => a + b, 0)
  })
)
