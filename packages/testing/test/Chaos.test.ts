import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"

describe("Chaos", () => {
  it("the same seed gives the same sequence, another seed another one", () => {
    const draw = (seed: number) => {
      const random = Chaos.seeded(seed)
      return Array.from({ length: 20 }, () => random.int(1000))
    }
    expect(draw(7)).toEqual(draw(7))
    expect(draw(7)).not.toEqual(draw(8))
    const random = Chaos.seeded(1)
    const xs = Array.from({ length: 10_000 }, () => random.next())
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...xs)).toBeLessThan(1)
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02)
  })

  it.effect("forEachSeed runs every seed and names the one that failed", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      yield* Chaos.forEachSeed(5, (random) => Effect.sync(() => seen.push(random.seed)))
      expect(seen).toEqual([1, 2, 3, 4, 5])
      const error = yield* Effect.flip(
        Chaos.forEachSeed([10, 11, 12], (random) => random.seed === 11 ? Effect.fail("broken" as const) : Effect.void)
      )
      expect(error.seed).toBe(11)
      expect(error.message).toContain("seed 11 failed")
      expect(error.failure).toContain("broken")
    }))

  it.effect("interruptRandomly interrupts the drawn fibers at random virtual times and nothing leaks", () =>
    Effect.gen(function*() {
      yield* Chaos.forEachSeed(20, (random) =>
        LeakCheck.fibers(VirtualTime.autojump(Effect.gen(function*() {
          const fibers = yield* Effect.forEach(
            Array.from({ length: 10 }),
            () => Effect.forkChild(Effect.sleep(1000), { startImmediately: true })
          )
          const interrupters = yield* Chaos.interruptRandomly(random, fibers, { probability: 0.5, within: 500 })
          yield* Fiber.joinAll(interrupters)
          const exits = yield* Effect.forEach(fibers, Fiber.await)
          const interrupted = exits.filter((e) => Exit.isFailure(e) && Cause.hasInterruptsOnly(e.cause)).length
          expect(interrupted).toBe(interrupters.length)
        }))))
    }))
})
