/**
 * Replaces Python's `await loop.run_in_executor(None, blocking_fn, *args)` / `await asyncio.to_thread(fn)` for
 * blocking calls with no async API (here `crypto.pbkdf2Sync` and `fs.readFileSync`) with `Offload`: the function
 * runs on a worker thread, so the event loop keeps running every other fiber. The worker imports the module named
 * in `module` and calls its exports by name; this file is its own task module (the exports below), so the example
 * is one file. Run on the event loop, the same call stops a 10 ms heartbeat dead.
 */
import * as Offload from "@async-ops/service/Offload"
import { Console, Effect, Fiber, Ref } from "effect"
import { createHash, pbkdf2Sync } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

// ---- the task module: plain functions the workers call (arguments and results are structured-cloned) ----

/** A password hash: CPU-bound and synchronous (hundreds of milliseconds). */
export const hashPassword = (password: string, salt: string): string =>
  pbkdf2Sync(password, salt, 400_000, 32, "sha256").toString("hex")

/** Reads a file synchronously and returns its SHA-256. */
export const digestFile = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex")

// ---- the program ----

/** Counts heartbeat ticks (every 10 ms) while `work` runs. */
const ticksDuring = <A, E>(work: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const ticks = yield* Ref.make(0)
    const beat = yield* Effect.forkChild(
      Effect.forever(Effect.sleep(10).pipe(Effect.andThen(Ref.update(ticks, (n) => n + 1)))),
      { startImmediately: true }
    )
    const value = yield* work
    yield* Fiber.interrupt(beat)
    return [value, yield* Ref.get(ticks)] as const
  })

type Tasks = { readonly hashPassword: typeof hashPassword; readonly digestFile: typeof digestFile }

export const program = Effect.scoped(Effect.gen(function*() {
  yield* Console.log("-- pbkdf2Sync on the event loop (like a blocking call in a coroutine)")
  const [onLoop, blockedTicks] = yield* ticksDuring(Effect.sync(() => hashPassword("hunter2", "salt")))
  yield* Console.log(`heartbeat ticks during the call: ${blockedTicks}`)

  yield* Console.log("-- the same call on a worker thread")
  const pool = yield* Offload.make<Tasks>({ module: new URL(import.meta.url), size: 1, name: "blocking-io" })
  const [offloaded, ticks] = yield* ticksDuring(pool.call("hashPassword", "hunter2", "salt"))
  yield* Console.log(`heartbeat kept ticking during the call: ${ticks >= 3}`)
  yield* Console.log(`same hash both ways: ${offloaded === onLoop}`)

  yield* Console.log("-- readFileSync + sha256 on a worker thread")
  const path = fileURLToPath(import.meta.url)
  yield* Console.log(`digest equals the main thread's: ${(yield* pool.call("digestFile", path)) === digestFile(path)}`)
  const stats = yield* pool.stats
  yield* Console.log(`pool: threads=${stats.threads} completed=${stats.completed} failed=${stats.failed}`)
}))
