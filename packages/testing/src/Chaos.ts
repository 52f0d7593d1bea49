/**
 * Seeded chaos for property tests over interruption points: a small deterministic PRNG (mulberry32), a runner that
 * repeats a scenario over many seeds and says which seed failed, and random interruption of fibers at random
 * virtual times. The reliability bar of async-ops ("random interruption of holders and waiters leaks nothing") is
 * tested with it, and users can test their own services the same way.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as internal from "./internal/chaos.ts"

/**
 * A deterministic source of random numbers: the same seed gives the same sequence.
 *
 * @category models
 * @since 0.1.0
 */
export interface Random {
  readonly seed: number
  /** A number in [0, 1). */
  readonly next: () => number
  /** An integer in [0, n). */
  readonly int: (n: number) => number
  /** `true` with probability `p`. */
  readonly chance: (p: number) => boolean
  /** One of `items` (which must not be empty). */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

/**
 * A scenario failed for one seed: rerun it with `Chaos.seeded(seed)` to reproduce.
 *
 * @category errors
 * @since 0.1.0
 */
export class SeedFailedError extends Data.TaggedError("SeedFailedError")<{
  readonly seed: number
  /** The failure, pretty-printed (assertion message, typed error or defect). */
  readonly failure: string
}> {
  override get message(): string {
    return `seed ${this.seed} failed: ${this.failure}`
  }
}

/**
 * A {@link Random} from a seed (mulberry32: 32 bits of state, fast, good enough for test schedules).
 *
 * @example
 * ```ts
 * import { Chaos } from "@async-ops/testing"
 *
 * const a = Chaos.seeded(42)
 * const b = Chaos.seeded(42)
 * a.int(100) === b.int(100) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const seeded: (seed: number) => Random = internal.seeded

/**
 * Runs `scenario` once per seed, in order, and stops at the first seed that fails, failing with
 * {@link SeedFailedError} naming it.
 *
 * **When to use**: property tests over schedules: each seed draws its own hold times, arrival order and
 * interruption points from the `Random` it is given.
 *
 * **Gotchas**: `seeds` as a number `n` means seeds 1..n. Keep each run on virtual time (`VirtualTime.autojump`)
 * so that hundreds of seeds take milliseconds, not minutes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Chaos } from "@async-ops/testing"
 *
 * const property = Chaos.forEachSeed(100, (random) =>
 *   Effect.sync(() => {
 *     if (random.int(10) > 9) throw new Error("impossible")
 *   })
 * )
 * ```
 *
 * @category runners
 * @since 0.1.0
 */
export const forEachSeed: <E, R>(
  seeds: number | Iterable<number>,
  scenario: (random: Random) => Effect.Effect<void, E, R>
) => Effect.Effect<void, SeedFailedError, R> = internal.forEachSeed

/**
 * Options of {@link interruptRandomly}.
 *
 * @category models
 * @since 0.1.0
 */
export interface InterruptOptions {
  /** The chance that a given fiber is interrupted, in [0, 1]. Default 0.5. */
  readonly probability?: number | undefined
  /** Interruptions happen at a random time in [0, within). Default 100 milliseconds. */
  readonly within?: Duration.Input | undefined
}

/**
 * Forks, for each fiber drawn with `probability`, an interrupter that sleeps a random time in `[0, within)` and
 * then interrupts it. Returns the interrupter fibers, to join once the scenario is over.
 *
 * **When to use**: to hit waiters and holders at arbitrary points; combine it with fibers that interrupt each
 * other in the same scheduler turn to reach "granted but not yet resumed" races, which timers alone rarely hit.
 *
 * @category combinators
 * @since 0.1.0
 */
export const interruptRandomly: (
  random: Random,
  fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>,
  options?: InterruptOptions
) => Effect.Effect<ReadonlyArray<Fiber.Fiber<void>>> = internal.interruptRandomly
