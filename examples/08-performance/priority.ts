/**
 * Replaces the seed's `asyncio.PriorityQueue` of `(priority, item)` tuples: urgent work jumps the line, and items
 * of equal priority keep their arrival order (Python needs a sequence number in the tuple for that; here it is
 * built in).
 */
import { WorkerPool, WorkQueue } from "@async-ops/core"
import { Console, Deferred, Effect } from "effect"

interface Job {
  readonly name: string
  /** 0 is the most urgent. */
  readonly priority: number
}

const jobs: ReadonlyArray<Job> = [
  { name: "nightly-report", priority: 5 },
  { name: "welcome-email", priority: 3 },
  { name: "backup", priority: 9 },
  { name: "page-on-call", priority: 0 },
  { name: "invoice", priority: 3 },
  { name: "fraud-alert", priority: 1 }
]

export const program = Effect.gen(function*() {
  yield* Console.log("-- WorkQueue: lower priority first, arrival order among equals")
  const queue = yield* WorkQueue.make<Job>({ order: "priority", priority: (job) => job.priority })
  yield* queue.offerAll(jobs)
  const order: Array<string> = []
  for (let i = 0; i < jobs.length; i++) {
    const job = yield* queue.take
    order.push(`${job.name}(${job.priority})`)
    yield* queue.taskDone
  }
  yield* Console.log(order.join(" > "))

  yield* Console.log("-- WorkerPool: an urgent job submitted while the worker is busy jumps the line")
  const processed: Array<string> = []
  yield* Effect.scoped(Effect.gen(function*() {
    const busy = yield* Deferred.make<void>()
    const pool = yield* WorkerPool.make({
      workers: 1,
      capacity: 10,
      order: "priority",
      priority: (job: Job) => job.priority,
      handler: (job) =>
        Effect.gen(function*() {
          if (job.name === "long-import") yield* Deferred.succeed(busy, undefined)
          yield* Effect.sleep(10)
          processed.push(job.name)
        })
    })
    yield* pool.submit({ name: "long-import", priority: 5 })
    yield* Deferred.await(busy) // the only worker is now busy
    yield* pool.submitAll([
      { name: "thumbnail-1", priority: 5 },
      { name: "thumbnail-2", priority: 5 },
      { name: "cleanup", priority: 9 }
    ])
    yield* pool.submit({ name: "password-reset", priority: 0 }) // arrives last, runs next
    yield* pool.drain
  }))
  yield* Console.log(`processed: ${processed.join(" > ")}`)
})
