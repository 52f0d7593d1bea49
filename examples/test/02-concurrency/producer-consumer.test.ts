import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/producer-consumer.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/producer-consumer bounds the queue, joins, shuts down and accounts for every item", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- WorkQueue: 1 producer, 3 workers, capacity 4",
      "producer: 12 items offered, waited for room 6 times, queue never above 4",
      "join: all 12 items processed",
      "per worker: worker-1=5, worker-2=4, worker-3=3",
      "-- WorkerPool: the same as one object",
      "submitted 12, 4 still queued when the scope closes",
      "closed: 11 done, 1 failed, 1 retried",
      "dead letter: item 7 (ItemFailed, 2 attempts)",
      "-- WorkerPool: a close with a 25 ms budget cuts off the rest and reports it",
      "done: 3",
      "cut off while running: 2, 4, 5; dropped from the queue: 6, 7, 8"
    ])
  }))
