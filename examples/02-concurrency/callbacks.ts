/**
 * Replaces Python's `task.add_done_callback(cb)` (and `task.result()` / `task.exception()` / `task.cancelled()`
 * inside the callback) with effectful observers of a fiber's `Exit`: `Effect.onExit` attaches the callback to the
 * work itself, `Fiber.await` lets any other fiber observe it from outside. `fiber.addObserver(cb)` exists for
 * plain callbacks from non-Effect code, but it runs synchronously and cannot run effects, so prefer these two.
 */
import { Cause, Console, Data, Effect, Exit, Fiber, Option } from "effect"

class NotFound extends Data.TaggedError("NotFound")<{ readonly url: string }> {}

/** What a done-callback usually does: look at how the task ended. */
const report = (name: string, exit: Exit.Exit<number, NotFound>): string => {
  if (Exit.isSuccess(exit)) return `${name} succeeded with ${exit.value}` // task.result()
  if (Cause.hasInterruptsOnly(exit.cause)) return `${name} was cancelled` // task.cancelled()
  const error = Cause.findErrorOption(exit.cause) // task.exception()
  return `${name} failed with ${Option.match(error, { onNone: () => "a defect", onSome: (e) => e._tag })}`
}

const fetch = (url: string, ms: number): Effect.Effect<number, NotFound> =>
  Effect.sleep(ms).pipe(
    Effect.andThen(url.endsWith("missing") ? Effect.fail(new NotFound({ url })) : Effect.succeed(url.length))
  )

export const program = Effect.gen(function*() {
  yield* Console.log("-- Effect.onExit: a done-callback attached to the work, run however it ends")
  const withCallback = (name: string, ms: number) =>
    fetch(name, ms).pipe(Effect.onExit((exit) => Console.log(`callback: ${report(name, exit)}`)))
  const a = yield* Effect.forkChild(withCallback("/users", 10))
  const b = yield* Effect.forkChild(withCallback("/missing", 20))
  const c = yield* Effect.forkChild(withCallback("/slow", 1_000), { startImmediately: true })
  yield* Effect.sleep(30)
  yield* Fiber.interrupt(c) // the callback still runs, and sees the cancellation
  yield* Fiber.awaitAll([a, b])

  yield* Console.log("-- Fiber.await: observe a task from another fiber, which may start after it ended")
  const task = yield* Effect.forkChild(fetch("/orders", 10))
  const observer = yield* Fiber.await(task).pipe(
    Effect.flatMap((exit) => Console.log(`observer: ${report("/orders", exit)}`)),
    Effect.forkChild
  )
  yield* Fiber.join(observer)
  const late = yield* Fiber.await(task) // like a callback added after the task was done: it runs at once
  yield* Console.log(`late observer: ${report("/orders", late)}`)
})
