import { VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber } from "effect"

describe("VirtualTime.autojump", () => {
  it.effect("runs a sleeping effect to completion without adjust", () =>
    Effect.gen(function*() {
      const result = yield* VirtualTime.autojump(Effect.sleep("1 hour").pipe(Effect.as("done")))
      expect(result).toBe("done")
      expect(yield* Clock.currentTimeMillis).toBe(3_600_000)
    }))

  it.effect("wakes sleepers in time order across forked fibers", () =>
    Effect.gen(function*() {
      const order: Array<string> = []
      yield* VirtualTime.autojump(Effect.gen(function*() {
        const a = yield* Effect.forkChild(Effect.sleep(300).pipe(Effect.tap(() => Effect.sync(() => order.push("a")))))
        const b = yield* Effect.forkChild(Effect.sleep(100).pipe(Effect.tap(() => Effect.sync(() => order.push("b")))))
        const c = yield* Effect.forkChild(Effect.gen(function*() {
          // needs several scheduler turns before it sleeps: trap 18 of EFFECT4.md
          for (let i = 0; i < 50; i++) yield* Effect.yieldNow
          yield* Effect.sleep(200)
          order.push("c")
        }))
        yield* Fiber.joinAll([a, b, c])
      }))
      expect(order).toEqual(["b", "c", "a"])
      expect(yield* Clock.currentTimeMillis).toBe(300)
    }))

  it.effect("fails with AutojumpStalledError on a deadlock instead of hanging", () =>
    Effect.gen(function*() {
      const never = yield* Deferred.make<void>()
      const error = yield* Effect.flip(VirtualTime.autojump(Deferred.await(never), { stallTimeout: 20 }))
      expect(error._tag).toBe("AutojumpStalledError")
    }))

  it.effect("fails with AutojumpLimitError when the effect sleeps forever", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        VirtualTime.autojump(Effect.forever(Effect.sleep(1000)), { maxJumps: 10 })
      )
      expect(error._tag).toBe("AutojumpLimitError")
      expect(yield* Clock.currentTimeMillis).toBe(10_000)
    }))

  it.effect("keeps the effect's typed failure", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(VirtualTime.autojump(Effect.sleep(5).pipe(Effect.andThen(Effect.fail("boom")))))
      expect(error).toBe("boom")
    }))
})
