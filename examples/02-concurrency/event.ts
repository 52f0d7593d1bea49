/**
 * Replaces Python's `asyncio.Event` (`await event.wait()`, `event.set()`, `event.clear()`, `event.is_set()`) with
 * Effect's own `Latch`: `latch.await`, `latch.open`, `latch.close`, `latch.isOpen()`, and `latch.whenOpen(effect)`
 * to gate a piece of work behind it.
 */
import { Console, Effect, Fiber, Latch } from "effect"

export const program = Effect.gen(function*() {
  yield* Console.log("-- waiters block until the event is set (event.wait / event.set)")
  const ready = yield* Latch.make() // closed, like a new asyncio.Event()
  const waiters = yield* Effect.forEach(
    ["db", "cache", "api"],
    (name) => ready.await.pipe(Effect.andThen(Console.log(`${name}: ready, starting`)), Effect.forkChild)
  )
  yield* Effect.sleep(10)
  yield* Console.log("config loaded: setting the event")
  yield* ready.open
  yield* Fiber.joinAll(waiters)

  yield* Console.log("-- once set, wait returns at once (event.is_set)")
  yield* Console.log(`is set: ${ready.isOpen()}`)
  yield* ready.await
  yield* Console.log("late waiter passed without blocking")

  yield* Console.log("-- clear: later waiters block again until the next set")
  yield* ready.close
  yield* Console.log(`is set: ${ready.isOpen()}`)
  const gated = yield* ready.whenOpen(Console.log("gated job runs")).pipe(Effect.forkChild)
  yield* Effect.sleep(10)
  yield* Console.log("gate still closed: the job waits")
  yield* ready.open
  yield* Fiber.join(gated)
})
