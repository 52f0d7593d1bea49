/**
 * Replaces Python's `async with lock:` (`asyncio.Lock`) around shared mutable state: a read, an `await`, then a write
 * loses updates when other tasks run at the `await`; the lock makes the read-modify-write one step, and a `Ref`
 * (an atomic update, no `await` inside) needs no lock at all.
 */
import { Mutex } from "@async-ops/core"
import { Console, Effect, Ref } from "effect"

const fibers = 100

/** Runs `increment` once in each of `fibers` concurrent fibers. */
const runAll = (increment: Effect.Effect<void>) =>
  Effect.all(Array.from({ length: fibers }, () => increment), { concurrency: "unbounded", discard: true })

export const program = Effect.gen(function*() {
  yield* Console.log(`-- ${fibers} fibers each add 1 to a shared counter`)

  let counter = 0
  // read, let other fibers run (Python's `await asyncio.sleep(0)`), write back what was read plus one
  const readYieldWrite = Effect.gen(function*() {
    const read = counter
    yield* Effect.yieldNow
    counter = read + 1
  })

  yield* runAll(readYieldWrite)
  yield* Console.log(`without a lock: ${counter} (${fibers - counter} updates lost)`)

  counter = 0
  const mutex = yield* Mutex.make
  yield* runAll(Mutex.withLock(mutex, readYieldWrite))
  const stats = yield* Mutex.stats(mutex)
  yield* Console.log(`with Mutex.withLock: ${counter} (${fibers - counter} updates lost)`)
  yield* Console.log(`the lock was taken ${stats.acquired} times, ${stats.contended} of them after waiting in line`)

  const ref = yield* Ref.make(0)
  yield* runAll(Ref.update(ref, (n) => n + 1))
  const total = yield* Ref.get(ref)
  yield* Console.log(`with Ref.update, no lock needed: ${total} (${fibers - total} updates lost)`)
})
