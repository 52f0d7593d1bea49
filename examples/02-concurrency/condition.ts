/**
 * Replaces Python's `asyncio.Condition`: waiters do `async with cond: await cond.wait_for(predicate)`, and the task
 * that makes the predicate true does `async with cond: ...; cond.notify_all()` (or `notify()` to wake one).
 */
import { Condition, Mutex } from "@async-ops/core"
import { Console, Effect } from "effect"

const waitUntilReady = Effect.gen(function*() {
  yield* Console.log("-- workers wait until the config is loaded")
  const loaded = yield* Condition.make()
  let config: { readonly url: string } | undefined
  const worker = (name: string) =>
    Condition.withLock(
      loaded,
      Effect.gen(function*() {
        yield* Console.log(`${name} waits`)
        yield* Condition.waitFor(loaded, () => config !== undefined)
        yield* Console.log(`${name} starts with ${config?.url}`)
      })
    )
  const loader = Effect.sleep("50 millis").pipe(
    Effect.andThen(Condition.withLock(
      loaded,
      Effect.gen(function*() {
        config = { url: "https://api.example.com" }
        yield* Console.log("config loaded: notify all")
        yield* Condition.notifyAll(loaded)
      })
    ))
  )
  yield* Effect.all([worker("w1"), worker("w2"), worker("w3"), loader], { concurrency: "unbounded", discard: true })
})

const boundedBuffer = Effect.gen(function*() {
  yield* Console.log("-- a buffer of 2: the producer waits while it is full, the consumer while it is empty")
  // two conditions over one lock, as with Python's Condition(lock)
  const mutex = yield* Mutex.make
  const notFull = yield* Condition.make(mutex)
  const notEmpty = yield* Condition.make(mutex)
  const buffer: Array<number> = []
  const capacity = 2
  const items = [1, 2, 3, 4, 5]

  const producer = Effect.forEach(items, (item) =>
    Mutex.withLock(
      mutex,
      Effect.gen(function*() {
        yield* Condition.waitFor(notFull, () => buffer.length < capacity)
        buffer.push(item)
        yield* Console.log(`put ${item} (buffer: ${buffer.join(", ")})`)
        yield* Condition.notify(notEmpty)
      })
    ), { discard: true })

  const consumer = Effect.forEach(items, () =>
    Effect.sleep("10 millis").pipe(
      Effect.andThen(Mutex.withLock(
        mutex,
        Effect.gen(function*() {
          yield* Condition.waitFor(notEmpty, () => buffer.length > 0)
          const item = buffer.shift()
          yield* Console.log(`got ${item}`)
          yield* Condition.notify(notFull)
        })
      ))
    ), { discard: true })

  yield* Effect.all([producer, consumer], { concurrency: "unbounded", discard: true })
  yield* Console.log(`done: ${items.length} items through a buffer of ${capacity}, ${buffer.length} left`)
})

export const program = Effect.andThen(waitUntilReady, boundedBuffer)
