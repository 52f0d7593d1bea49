// W2 bounded: p-limit(100) around every task, Promise.all over all of them.
import pLimit from "p-limit"
import { bench, immediate, range, sumInOrder } from "../../runner.ts"

bench(async ({ size, params }) => {
  const limit = pLimit(params["concurrency"] ?? 100)
  return sumInOrder(await Promise.all(range(size).map((i) => limit(() => immediate(i)))))
})
