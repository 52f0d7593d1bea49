// W2 bounded: fastq's promise queue (concurrency 100) around every task, Promise.all over all of them: one of the
// fastest JS limiters (a worker function and a reused-object queue), an anchor for how far the others are from the best.
import fastq from "fastq"
import { bench, immediate, range, sumInOrder } from "../../runner.ts"

bench(async ({ size, params }) => {
  const queue = fastq.promise((i: number) => immediate(i), params["concurrency"] ?? 100)
  return sumInOrder(await Promise.all(range(size).map((i) => queue.push(i))))
})
