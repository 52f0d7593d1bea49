/**
 * Replaces Python's bridges between callback, future and coroutine worlds (`loop.create_future()` completed from a
 * callback, `asyncio.wrap_future`, `asyncio.ensure_future`, cancelling a task to stop the work below it) with
 * Effect's: `Effect.callback` turns a callback API into an Effect (its cleanup runs on interruption),
 * `Effect.tryPromise` hands an `AbortSignal` to a Promise API and aborts it on interruption, and
 * `Effect.runPromise(effect, { signal })` goes the other way: Promise-land aborts the fiber (finalizers run).
 */
import { Console, Effect, Exit, Fiber } from "effect"
import { setTimeout as sleep } from "node:timers/promises"

// ---- a legacy callback API: node-style callback, returns a cancel function ----
const legacyLookup = (
  key: string,
  millis: number,
  callback: (error: Error | null, value?: string) => void
): () => void => {
  const timer = setTimeout(
    () => key === "missing" ? callback(new Error(`no key ${key}`)) : callback(null, `${key}=on`),
    millis
  )
  return () => clearTimeout(timer)
}

class LookupError extends Error {}

/** The callback API as an Effect; `onCancel` observes the cleanup. */
const lookup = (key: string, millis: number, onCancel: () => void = () => {}) =>
  Effect.callback<string, LookupError>((resume) => {
    const cancel = legacyLookup(
      key,
      millis,
      (error, value) => resume(error ? Effect.fail(new LookupError(error.message)) : Effect.succeed(value!))
    )
    return Effect.sync(() => {
      onCancel()
      cancel()
    })
  })

// ---- a Promise API that takes an AbortSignal (like fetch) ----
const slowQuery = (sql: string, signal: AbortSignal, onAbort: () => void): Promise<string> => {
  signal.addEventListener("abort", onAbort, { once: true })
  return sleep(1_000, `rows for ${sql}`, { signal })
}

// ---- Promise-land code that runs an Effect and gives up on it after 20 ms ----
const promiseLand = (job: Effect.Effect<void>): Promise<string> => {
  const controller = new AbortController()
  const promise = Effect.runPromise(job, { signal: controller.signal }).then(() => "resolved", () => "rejected")
  setTimeout(() => controller.abort(), 20)
  return promise
}

export const program = Effect.gen(function*() {
  let cancelled = 0
  let aborted = 0
  yield* Console.log("-- callback API -> Effect.callback")
  yield* Console.log(`lookup: ${yield* lookup("feature-x", 5)}`)
  const failed = yield* Effect.flip(lookup("missing", 5))
  yield* Console.log(`typed failure: ${failed.message}`)
  const timedOut = yield* Effect.exit(lookup("slow", 1_000, () => cancelled++).pipe(Effect.timeout("20 millis")))
  yield* Console.log(
    `timeout: ${Exit.isFailure(timedOut) ? "TimeoutError" : "?"}, legacy call cancelled: ${cancelled === 1}`
  )

  yield* Console.log("-- Promise API with AbortSignal -> Effect.tryPromise")
  const query = (sql: string) =>
    Effect.tryPromise({ try: (signal) => slowQuery(sql, signal, () => aborted++), catch: (e) => new Error(String(e)) })
  const fiber = yield* Effect.forkChild(query("select 1"), { startImmediately: true })
  yield* Effect.sleep(20)
  yield* Fiber.interrupt(fiber)
  yield* Console.log(`interrupting the fiber aborted the promise's signal: ${aborted === 1}`)

  yield* Console.log("-- Effect -> Promise with an AbortSignal (Effect.runPromise)")
  const events: Array<string> = []
  const job = Effect.sleep("10 seconds").pipe(
    Effect.onInterrupt(() => Effect.sync(() => events.push("job: interrupted, finalizer ran")))
  )
  const outcome = yield* Effect.promise(() => promiseLand(job))
  for (const e of events) yield* Console.log(e)
  yield* Console.log(`controller.abort() -> the promise ${outcome}`)
})
