/**
 * Effects that `yield*` runs on the spot. Inside `Effect.gen`, `yield* effect` asks the effect for an iterator at
 * the moment the generator reaches it, that is, when the effect runs; the generator driver continues inline,
 * without a round trip through the fiber's run loop, when what the iterator yields is already an `Exit`. An eager
 * effect answers that iterator with the result of `run()` itself, so an operation that can complete at once (a take
 * that finds an item, an offer that finds room, a permit that is free) costs one function call in a generator, as a
 * synchronous `get_nowait` would in Python. Run any other way (`pipe`, `flatMap`, `Effect.runPromise`), it is
 * `Effect.suspend(run)`: the same `run()` at the same point, so the semantics do not depend on how it is run.
 *
 * Measured (effect 4.1.5, 1M `yield*` of an effect that succeeds at once, in one `Effect.gen`): 384-567 ms for
 * `Effect.suspend(() => Exit)` against 836-1,487 ms in the same runs, about 2.3x. W3 (issue 16) is the workload.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { SingleShotGen } from "effect/Utils"

/**
 * An effect that runs `run()` when it runs and continues with the effect `run()` returns; under `yield*` the result
 * of `run()` is handed to the generator directly (an `Exit` then continues inline).
 *
 * @internal
 */
export const eager = <A, E, R>(run: () => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const effect = Effect.suspend(run)
  ;(effect as { [Symbol.iterator]: unknown })[Symbol.iterator] = () => new SingleShotGen(run())
  return effect
}
