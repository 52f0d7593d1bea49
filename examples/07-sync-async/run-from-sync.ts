/**
 * Replaces Python's ways of calling async code from sync code (`asyncio.run(coro)` at the entry point,
 * `loop.run_until_complete`, `asyncio.run_coroutine_threadsafe(coro, loop).result()` from another thread) with
 * Effect's `ManagedRuntime`: build the services (a Layer) once, call `runPromise` / `runSync` from plain code as
 * often as needed (Express handlers, CLI callbacks, a legacy class), and `dispose()` at exit so every finalizer
 * runs, like closing the loop. `legacyMain` below is plain non-Effect TypeScript; `program` only runs it and prints
 * what it recorded.
 */
import { Console, Context, Effect, Exit, Layer, ManagedRuntime } from "effect"

/** A service the plain code needs: built once by the runtime, closed on dispose. */
class Greeter extends Context.Service<Greeter, {
  readonly greet: (name: string) => Effect.Effect<string>
  readonly calls: Effect.Effect<number>
}>()("examples/Greeter") {}

const greeterLayer = (log: (line: string) => void) =>
  Layer.effect(
    Greeter,
    Effect.gen(function*() {
      log("layer: greeter opened (once)")
      yield* Effect.addFinalizer(() => Effect.sync(() => log("layer: greeter closed (on dispose)")))
      let calls = 0
      return Greeter.of({
        greet: (name) =>
          Effect.sleep(5).pipe(Effect.andThen(Effect.sync(() => {
            calls++
            return `hello ${name}`
          }))),
        calls: Effect.sync(() => calls)
      })
    })
  )

/** Plain code with no Effect in sight except the runtime's `run*` calls. */
export const legacyMain = async (log: (line: string) => void): Promise<void> => {
  const runtime = ManagedRuntime.make(greeterLayer(log))
  try {
    log(`runPromise: ${await runtime.runPromise(Greeter.use((g) => g.greet("Ada")))}`)
    const many = await Promise.all(["Grace", "Linus"].map((n) => runtime.runPromise(Greeter.use((g) => g.greet(n)))))
    log(`runPromise x2 at once: ${many.join(", ")}`)
    log(`runSync of a synchronous effect: ${runtime.runSync(Greeter.use((g) => g.calls))} calls so far`)
    try {
      runtime.runSync(Greeter.use((g) => g.greet("Sync")))
      log("runSync of an asynchronous effect: returned")
    } catch {
      log("runSync of an asynchronous effect: throws (use runPromise)")
    }
    const exit = await runtime.runPromiseExit(Effect.fail("invalid input"))
    log(`runPromiseExit of a failure: ${Exit.isFailure(exit) ? "Failure, no throw" : "Success"}`)
    try {
      await runtime.runPromise(Effect.fail("invalid input"))
    } catch {
      log("runPromise of a failure: rejects")
    }
  } finally {
    await runtime.dispose()
    log("disposed")
  }
}

export const program = Effect.gen(function*() {
  const lines: Array<string> = []
  yield* Effect.promise(() => legacyMain((line) => lines.push(line)))
  for (const line of lines) yield* Console.log(line)
})
