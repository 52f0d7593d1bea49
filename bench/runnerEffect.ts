/**
 * The child side for Effect systems: runs an Effect as the timed work of {@link bench} and gives the Effect form of
 * the bounded workload's unit of work. Kept apart from `runner.ts` so that Promise-only systems never load Effect
 * (their peak RSS must not include it).
 */
import * as Effect from "effect/Effect"
import { type Args, bench } from "./runner.ts"

/** Runs `work(args)` with `Effect.runPromise` as the timed work of a system. */
export const benchEffect = (work: (args: Args) => Effect.Effect<number, unknown>): void =>
  bench((args) => Effect.runPromise(work(args)))

/**
 * Succeeds with `value` after one macrotask (`setImmediate`), like `runner.ts`'s `immediate` for promises. No
 * cancellation hook, as a promise has none: the work is the same in every system.
 */
export const immediateEffect = <A>(value: A): Effect.Effect<A> =>
  Effect.callback<A>((resume) => {
    setImmediate(() => resume(Effect.succeed(value)))
  })
