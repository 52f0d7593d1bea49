// W2 bounded: p-queue with concurrency 100, every task added up front, Promise.all over the add() promises.
import PQueue from "p-queue"
import { bench, immediate, range, sumInOrder } from "../../runner.ts"

bench(async ({ size, params }) => {
  const queue = new PQueue({ concurrency: params["concurrency"] ?? 100 })
  return sumInOrder(await Promise.all(range(size).map((i) => queue.add(() => immediate(i)))))
})
