/** @internal */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { InterruptOptions, Random } from "../Chaos.ts"
import { SeedFailedError } from "../Chaos.ts"

/** @internal */
export const seeded = (seed: number): Random => {
  let state = seed | 0
  const next = (): number => {
    state = (state + 0x6D2B79F5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return {
    seed,
    next,
    int,
    chance: (p) => next() < p,
    pick: <A>(items: ReadonlyArray<A>): A => {
      if (items.length === 0) throw new RangeError("Chaos.Random.pick: no items")
      return items[int(items.length)] as A
    }
  }
}

const seedList = (seeds: number | Iterable<number>): Array<number> =>
  typeof seeds === "number" ? Array.from({ length: seeds }, (_, i) => i + 1) : Array.from(seeds)

/** @internal */
export const forEachSeed = <E, R>(
  seeds: number | Iterable<number>,
  scenario: (random: Random) => Effect.Effect<void, E, R>
): Effect.Effect<void, SeedFailedError, R> =>
  Effect.forEach(
    seedList(seeds),
    (seed) =>
      Effect.catchCause(
        Effect.suspend(() => scenario(seeded(seed))),
        (cause) => Effect.fail(new SeedFailedError({ seed, failure: Cause.pretty(cause) }))
      ),
    { discard: true }
  )

/** @internal */
export const interruptRandomly = (
  random: Random,
  fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>,
  options?: InterruptOptions
): Effect.Effect<ReadonlyArray<Fiber.Fiber<void>>> =>
  Effect.suspend(() => {
    const probability = options?.probability ?? 0.5
    const within = Duration.toMillis(Duration.fromInputUnsafe(options?.within ?? 100))
    const chosen = fibers.filter(() => random.chance(probability))
    return Effect.forEach(chosen, (fiber) =>
      Effect.forkChild(Effect.andThen(Effect.sleep(Math.floor(random.next() * within)), Fiber.interrupt(fiber)), {
        startImmediately: true
      }))
  })
