import { Election } from "@async-ops/core"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Ref } from "effect"

/** Lets forked fibers reach their next suspension point. */
const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })

describe("Election", () => {
  it.effect("in-process: one holder per key at a time, FIFO, other keys independent", () =>
    Effect.gen(function*() {
      const election = Election.makeLocal()
      const order = yield* Ref.make<Array<string>>([])
      const gate = yield* Deferred.make<void>()
      const job = (name: string) => Effect.andThen(Ref.update(order, (o) => [...o, name]), Deferred.await(gate))
      const a = yield* Effect.forkChild(election.withLeadership("k", job("a")), { startImmediately: true })
      const b = yield* Effect.forkChild(election.withLeadership("k", job("b")), { startImmediately: true })
      const c = yield* Effect.forkChild(election.withLeadership("other", job("c")), { startImmediately: true })
      yield* settle
      expect(yield* Ref.get(order)).toEqual(["a", "c"])
      const stats = yield* election.stats
      expect(stats).toMatchObject({ backend: "local", acquired: 2, lost: 0 })
      expect(stats.leading.toSorted()).toEqual(["k", "other"])
      expect(stats.campaigning).toEqual(["k"])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll([a, b, c])
      expect(yield* Ref.get(order)).toEqual(["a", "c", "b"])
      expect(yield* election.stats).toMatchObject({ leading: [], campaigning: [], acquired: 3 })
    }))

  it.effect("an interrupted leader releases the key and a waiter takes over; an interrupted waiter leaves no trace", () =>
    Effect.gen(function*() {
      const election = Election.makeLocal()
      const leader = yield* Effect.forkChild(election.withLeadership("k", Effect.never), { startImmediately: true })
      const quitter = yield* Effect.forkChild(election.withLeadership("k", Effect.never), { startImmediately: true })
      const next = yield* Effect.forkChild(election.withLeadership("k", Effect.succeed("next")), {
        startImmediately: true
      })
      yield* settle
      yield* Fiber.interrupt(quitter)
      yield* Fiber.interrupt(leader)
      expect(yield* Fiber.join(next)).toBe("next")
      expect((yield* election.stats).leading).toEqual([])
    }))

  it.effect("the default Election is in-process; a provided one replaces it (the one-Layer switch)", () =>
    Effect.gen(function*() {
      expect((yield* Election.stats).backend).toBe("local")
      const calls: Array<string> = []
      const fake: Election.Election = {
        withLeadership: (key, effect) => Effect.andThen(Effect.sync(() => calls.push(key)), effect),
        stats: Effect.succeed({ backend: "fake", leading: [], campaigning: [], acquired: 0, lost: 0 })
      }
      const result = yield* Election.withLeadership("x", Effect.succeed(1)).pipe(
        Effect.provide(Layer.succeed(Election.Election, fake))
      )
      expect(result).toBe(1)
      expect(calls).toEqual(["x"])
    }))

  it.effect("LeaseLostError: one class for elections and distributed limiters, each message says which", () =>
    Effect.gen(function*() {
      const election = new Election.LeaseLostError({ key: "reports", reason: "taken" })
      const limiter = new Election.LeaseLostError({ key: "", reason: "expiring", limiter: "partner-api" })
      expect(election.message).toBe(`Lease of "reports" lost (taken: taken by another holder)`)
      expect(limiter.message).toContain("DistributedLimiter partner-api: lease lost (expiring")
      // One catchTag handles both.
      const caught = yield* Effect.forEach(
        [election, limiter],
        (e) => Effect.fail(e).pipe(Effect.catchTag("LeaseLostError", (l) => Effect.succeed(l.reason)))
      )
      expect(caught).toEqual(["taken", "expiring"])
    }))

  it.effect("runSingleton campaigns again after a LeaseLostError and ends with the job's own exit", () =>
    Effect.gen(function*() {
      let attempts = 0
      const flaky: Election.Election = {
        withLeadership: (key, effect) =>
          Effect.suspend((): Effect.Effect<Effect.Success<typeof effect>, unknown, Effect.Services<typeof effect>> =>
            ++attempts < 3 ? Effect.fail(new Election.LeaseLostError({ key, reason: "expiring" })) : effect
          ) as typeof effect,
        stats: Effect.succeed({ backend: "flaky", leading: [], campaigning: [], acquired: 0, lost: 0 })
      }
      const exit = yield* Effect.exit(
        Election.runSingleton("k", Effect.fail("own" as const)).pipe(
          Effect.provide(Layer.succeed(Election.Election, flaky))
        )
      )
      expect(attempts).toBe(3)
      expect(exit).toStrictEqual(Exit.fail("own"))
    }))
})
