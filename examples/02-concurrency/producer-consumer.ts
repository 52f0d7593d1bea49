/**
 * Replaces the seed's `asyncio.Queue(maxsize=...)` producer-consumer (one producer `await queue.put(item)`, three
 * workers `item = await queue.get(); ...; queue.task_done()`, `await queue.join()`, then stopping the workers):
 * first with `WorkQueue`, which keeps those semantics, then as one `WorkerPool` with per-item outcomes, a
 * dead-letter stream and a graceful close.
 */
import { WorkerPool, WorkQueue } from "@async-ops/core"
import { Console, Data, Effect, Fiber, Schedule, Stream } from "effect"

class ItemFailed extends Data.TaggedError("ItemFailed")<{ readonly item: number }> {}

/** Item `n` takes 10, 20 or 30 ms. */
const work = (n: number) => Effect.sleep(10 * (1 + (n % 3)))

export const program = Effect.gen(function*() {
  yield* Console.log("-- WorkQueue: 1 producer, 3 workers, capacity 4")
  const queue = yield* WorkQueue.make<number>({ capacity: 4 })
  const counts = [0, 0, 0]
  const worker = (id: number) =>
    Effect.gen(function*() {
      while (true) {
        const item = yield* queue.take // suspends while the queue is empty
        yield* work(item)
        counts[id]!++
        yield* queue.taskDone
      }
    }).pipe(Effect.catchTag("QueueShutdownError", () => Effect.void)) // shutdown ends the loop
  const workers = yield* Effect.forEach([0, 1, 2], (id) => Effect.forkChild(worker(id)))

  let waited = 0
  let peak = 0
  for (let item = 0; item < 12; item++) {
    // offerIfAvailable shows the backpressure: when the queue is full, offer suspends until a worker takes one
    if (!(yield* queue.offerIfAvailable(item))) {
      waited++
      yield* queue.offer(item)
    }
    peak = Math.max(peak, yield* queue.size)
  }
  yield* Console.log(`producer: 12 items offered, waited for room ${waited} times, queue never above ${peak}`)
  yield* queue.join // every item taken and marked done
  yield* Console.log("join: all 12 items processed")
  yield* queue.shutdown() // Python 3.13's Queue.shutdown(): the workers' next take fails and they return
  yield* Fiber.joinAll(workers)
  yield* Console.log(`per worker: ${counts.map((n, id) => `worker-${id + 1}=${n}`).join(", ")}`)

  yield* Console.log("-- WorkerPool: the same as one object")
  const pool = yield* Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.make({
      workers: 3,
      capacity: 4,
      retry: Schedule.recurs(1), // one retry for typed failures
      handler: (item: number) =>
        Effect.andThen(work(item), item === 7 ? Effect.fail(new ItemFailed({ item })) : Effect.void)
    })
    yield* pool.submitAll(Array.from({ length: 12 }, (_, i) => i)) // suspends whenever 4 are waiting
    const stats = yield* pool.stats
    yield* Console.log(`submitted ${stats.submitted}, ${stats.queued} still queued when the scope closes`)
    return pool
  })) // closing the scope drains the queue before it returns
  const stats = yield* pool.stats
  yield* Console.log(`closed: ${stats.done} done, ${stats.failed} failed, ${stats.retried} retried`)
  yield* Stream.runForEach(pool.failures, (letter) =>
    Console.log(
      `dead letter: item ${letter.item} (${
        letter._tag === "Failure" ? letter.error._tag : letter._tag
      }, ${letter.attempts} attempts)`
    ))

  yield* Console.log("-- WorkerPool: a close with a 25 ms budget cuts off the rest and reports it")
  const hurried = yield* Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.make({ workers: 3, capacity: 10, closeTimeout: "25 millis", handler: work })
    yield* pool.submitAll(Array.from({ length: 9 }, (_, i) => i))
    return pool
  }))
  const cut = yield* Stream.runCollect(hurried.failures)
  const items = (started: boolean) =>
    cut.filter((l) => l._tag === "Interrupted" && l.started === started).map((l) => l.item).toSorted().join(", ")
  yield* Console.log(`done: ${(yield* hurried.stats).done}`)
  yield* Console.log(`cut off while running: ${items(true)}; dropped from the queue: ${items(false)}`)
})
