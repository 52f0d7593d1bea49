import { LeakCheck } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"

describe("LeakCheck", () => {
  it.effect("passes when every forked fiber ended", () =>
    Effect.gen(function*() {
      const [value, counts] = yield* LeakCheck.track(Effect.gen(function*() {
        const f = yield* Effect.forkChild(Effect.succeed(1))
        return yield* Fiber.join(f)
      }))
      expect(value).toBe(1)
      expect(counts).toEqual({ started: 1, ended: 1, alive: 0 })
    }))

  it.effect("fails with FiberLeakError for a detached fiber left running", () =>
    Effect.gen(function*() {
      let leaked: Fiber.Fiber<never> | undefined
      const error = yield* Effect.flip(LeakCheck.fibers(Effect.gen(function*() {
        leaked = yield* Effect.forkDetach(Effect.never)
      })))
      expect(error._tag).toBe("FiberLeakError")
      expect(error.alive).toBe(1)
      yield* Fiber.interrupt(leaked!)
    }))

  it.effect("checks leaks when the effect fails too", () =>
    Effect.gen(function*() {
      let leaked: Fiber.Fiber<never> | undefined
      const error = yield* Effect.flip(LeakCheck.fibers(Effect.gen(function*() {
        leaked = yield* Effect.forkDetach(Effect.never)
        return yield* Effect.fail("boom" as const)
      })))
      expect(error).toMatchObject({ _tag: "FiberLeakError" })
      yield* Fiber.interrupt(leaked!)
    }))

  it.effect("fibers interrupted when their scope closes are not leaks", () =>
    Effect.gen(function*() {
      yield* LeakCheck.fibers(Effect.scoped(Effect.gen(function*() {
        yield* Effect.forkScoped(Effect.never)
        yield* Effect.forkScoped(Effect.never)
      })))
    }))

  it.effect("forkChild children still running after the effect are leaks (their parent fiber lives on)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(LeakCheck.fibers(Effect.gen(function*() {
        yield* Effect.forkChild(Effect.never)
      })))
      expect(error.alive).toBe(1)
    }))
})
