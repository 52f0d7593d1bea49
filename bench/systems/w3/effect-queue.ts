// W3 queue: Effect Queue.bounded(1000), one producer offering one item at a time, 4 consumers taking one at a time;
// the producer ends the queue (Queue.end) and the consumers stop on Done.
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import { benchEffect } from "../../runnerEffect.ts"

const consumer = (queue: Queue.Queue<number, Cause.Done>) => {
  let sum = 0
  return Effect.gen(function*() {
    while (true) sum += yield* Queue.take(queue)
  }).pipe(Effect.catchTag("Done", () => Effect.succeed(sum)))
}

benchEffect(({ size, params }) =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<number, Cause.Done>(params["capacity"] ?? 1000)
    const consumers = yield* Effect.forEach(
      Array.from({ length: params["consumers"] ?? 4 }),
      () => Effect.forkChild(consumer(queue))
    )
    for (let i = 0; i < size; i++) yield* Queue.offer(queue, i)
    yield* Queue.end(queue)
    const sums = yield* Fiber.joinAll(consumers)
    return sums.reduce((a, b) => a + b, 0)
  })
)
