// W2 bounded: @henrygd/queue (concurrency 100) around every task, Promise.all over all of them: one of the fastest
// JS limiters, an anchor for how far the others are from the best.
import { newQueue } from "@henrygd/queue"
import { bench, immediate, range, sumInOrder } from "../../runner.ts"

bench(async ({ size, params }) => {
  const queue = newQueue(params["concurrency"] ?? 100)
  return sumInOrder(await Promise.all(range(size).map((i) => queue.add(() => immediate(i)))))
})
