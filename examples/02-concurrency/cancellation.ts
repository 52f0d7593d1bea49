/**
 * Replaces Python's `task.cancel()` with `try: ... except asyncio.CancelledError: cleanup; raise`: in Effect,
 * `Fiber.interrupt` cancels a fiber and waits until its cleanup (`Effect.onInterrupt`, `Effect.ensuring`,
 * `Effect.acquireRelease`) has run, and the interruption cannot be swallowed by mistake: error handlers never see
 * it, so there is no `raise` to forget.
 */
import { Cause, Console, Effect, Exit, Fiber } from "effect"

const describe = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "succeeded" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"

export const program = Effect.gen(function*() {
  yield* Console.log("-- task.cancel(): interrupt a fiber and wait for its cleanup")
  const worker = Console.log("worker: started").pipe(
    Effect.andThen(Effect.sleep("1 hour")),
    Effect.andThen(Console.log("worker: finished (never printed)")),
    Effect.onInterrupt(() => Console.log("worker: interrupted, cleaning up")), // except CancelledError: cleanup
    Effect.ensuring(Console.log("worker: finally")) // finally:
  )
  const fiber = yield* Effect.forkChild(worker, { startImmediately: true })
  yield* Effect.sleep(10)
  yield* Fiber.interrupt(fiber) // task.cancel(); await task (returns once the cleanup above has run)
  yield* Console.log(`worker exit: ${describe(yield* Fiber.await(fiber))}`)

  yield* Console.log("-- resources: acquireRelease releases on interruption too")
  const query = Effect.acquireRelease(
    Console.log("open connection").pipe(Effect.as("conn")),
    (_, exit) => Console.log(`close connection (${describe(exit)})`)
  ).pipe(
    Effect.andThen(Effect.sleep("1 hour")),
    Effect.scoped
  )
  const timedOut = yield* query.pipe(Effect.timeoutOption(10))
  yield* Console.log(`query timed out: ${timedOut._tag === "None"}`)

  yield* Console.log("-- interruption propagates: error handlers do not swallow it, children stop too")
  // the parent's own cleanup runs first; its child fibers are interrupted as it ends
  const child = Effect.never.pipe(Effect.onInterrupt(() => Console.log("child: interrupted")))
  const parent = Effect.gen(function*() {
    yield* Effect.forkChild(child, { startImmediately: true })
    return yield* Effect.sleep("1 hour")
  }).pipe(
    // like `except Exception:` in Python 3.8+, a catch-all for errors does not catch the cancellation
    Effect.catch(() => Console.log("parent: caught (never printed)")),
    Effect.onInterrupt(() => Console.log("parent: interrupted"))
  )
  const parentFiber = yield* Effect.forkChild(parent, { startImmediately: true })
  yield* Effect.sleep(10)
  yield* Fiber.interrupt(parentFiber)
  yield* Console.log(`parent exit: ${describe(yield* Fiber.await(parentFiber))}`)
})
