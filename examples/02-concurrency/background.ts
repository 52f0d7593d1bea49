/**
 * Replaces Python's "keep references to background tasks" advice (`task = asyncio.create_task(job());
 * background_tasks.add(task); task.add_done_callback(background_tasks.discard)`, then cancelling what is left on
 * shutdown) with Effect's `FiberSet`: it holds every background fiber, drops each one as it ends, and interrupts
 * the rest when its Scope closes, so nothing outlives the service and nothing is fired and forgotten.
 */
import { Console, Effect, FiberSet } from "effect"

export const program = Effect.gen(function*() {
  yield* Console.log("-- start background tasks in a FiberSet owned by the service's scope")
  const tasks = yield* Effect.scoped(Effect.gen(function*() {
    const tasks = yield* FiberSet.make()
    yield* FiberSet.run(
      tasks,
      Effect.sleep(10).pipe(Effect.andThen(Console.log("send-email: done")))
    )
    yield* FiberSet.run(
      tasks,
      Effect.sleep(15).pipe(
        Effect.andThen(Console.log("heartbeat")),
        Effect.forever,
        Effect.onInterrupt(() => Console.log("heartbeat: stopped"))
      )
    )
    yield* FiberSet.run(
      tasks,
      Effect.never.pipe(Effect.onInterrupt(() => Console.log("cache-refresher: stopped")))
    )
    yield* Console.log(`running: ${yield* FiberSet.size(tasks)}`)
    yield* Effect.sleep(20)
    yield* Console.log(`running after send-email ended: ${yield* FiberSet.size(tasks)}`)
    yield* Console.log("-- shutdown: closing the scope interrupts what is still running")
    return tasks
  }))
  yield* Console.log(`running after shutdown: ${yield* FiberSet.size(tasks)}`)
})
