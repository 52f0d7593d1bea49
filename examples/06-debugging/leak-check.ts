/**
 * Replaces asyncio's leak hunting (debug mode's "Task was destroyed but it is pending!", `asyncio.all_tasks()` at
 * shutdown, a test fixture that fails when tasks outlive the test) with `LeakCheck` from `@async-ops/testing`: run
 * an effect and fail with `FiberLeakError` if any fiber it started is still alive when it returns. A forgotten
 * fork (`Effect.forkDetach`, the `asyncio.create_task` nobody awaits) is caught; the same work tied to a scope
 * (`Effect.forkScoped` inside `Effect.scoped`) is not.
 */
import { LeakCheck } from "@async-ops/testing"
import { Console, Effect, Fiber, Ref } from "effect"

const heartbeat = Effect.forever(Effect.sleep("1 second"))
/** A listener that waits for messages forever. */
const listener = Effect.never

export const program = Effect.gen(function*() {
  // keep the forgotten fiber's handle so the example can clean up after showing the leak
  const forgotten = yield* Ref.make<Array<Fiber.Fiber<never>>>([])

  yield* Console.log("-- a forgotten fork: startListener returns, the listener fiber lives on")
  const startListener = Effect.gen(function*() {
    const fiber = yield* Effect.forkDetach(listener)
    yield* Ref.update(forgotten, (fs) => [...fs, fiber])
    return "started"
  })
  const verdict = yield* LeakCheck.fibers(startListener).pipe(
    Effect.map(() => "no leak found"),
    Effect.catchTag("FiberLeakError", (e) => Effect.succeed(`FiberLeakError: ${e.message}`))
  )
  yield* Console.log(verdict)

  yield* Console.log("-- a heartbeat owned by a scope: it ends when the scope closes")
  const scopedHeartbeat = Effect.scoped(Effect.gen(function*() {
    yield* Effect.forkScoped(heartbeat)
    yield* Effect.sleep("3 seconds")
    return "done"
  }))
  const [value, counts] = yield* LeakCheck.track(scopedHeartbeat)
  yield* Console.log(`${value}: fibers still alive ${counts.alive}`)
  yield* LeakCheck.fibers(scopedHeartbeat)
  yield* Console.log("LeakCheck.fibers passed")

  // clean up the leak shown above
  yield* Fiber.interruptAll(yield* Ref.get(forgotten))
})
