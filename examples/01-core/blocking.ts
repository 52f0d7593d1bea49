/**
 * Replaces the seed's warning "never `time.sleep()` or `requests.get()` inside a coroutine": a synchronous call
 * (here `Atomics.wait`, Node's `time.sleep`; `fs.readFileSync` and `execSync` are the same) stalls every fiber on
 * the event loop, while `Effect.sleep` suspends only the fiber that sleeps. CPU-bound work stays responsive when it
 * yields between chunks (or moves to a worker thread).
 */
import { Console, Effect, Fiber, Ref } from "effect"

const heartbeat = (ticks: Ref.Ref<number>) =>
  Effect.forever(Effect.sleep(10).pipe(Effect.andThen(Ref.update(ticks, (n) => n + 1))))

/** A real 50 ms block of the whole thread, like `time.sleep(0.05)`. */
const blockingSleep = Effect.sync(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50))

const measure = (label: string, work: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const ticks = yield* Ref.make(0)
    const beat = yield* Effect.forkChild(heartbeat(ticks), { startImmediately: true })
    yield* work
    yield* Fiber.interrupt(beat)
    yield* Console.log(`${label}: heartbeat ticked ${yield* Ref.get(ticks)} times`)
  })

/** CPU-bound work in 5 chunks; `Effect.yieldNow` between chunks lets other fibers run. */
const crunch = (cooperative: boolean) =>
  Effect.forEach([1, 2, 3, 4, 5], () =>
    Effect.sync(() => {
      let x = 0
      for (let i = 0; i < 200_000; i++) x += i % 7
      return x
    }).pipe(Effect.andThen(cooperative ? Effect.sleep(11) : Effect.void)), { discard: true })

export const program = Effect.gen(function*() {
  yield* measure("blocking sleep (Atomics.wait 50 ms)", blockingSleep)
  yield* measure("Effect.sleep(55 ms)", Effect.sleep(55))
  yield* measure("CPU loop, no yield", crunch(false))
  yield* measure("CPU loop, sleeping 11 ms between chunks", crunch(true))
})
