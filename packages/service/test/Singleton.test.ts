import { Election } from "@async-ops/core"
import * as Periodic from "@async-ops/service/Periodic"
import * as Supervisor from "@async-ops/service/Supervisor"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber, Layer, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"

/** Lets forked fibers reach their next suspension point (trap 18 of EFFECT4.md). */
const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })
const advance = (millis: number) => Effect.andThen(TestClock.adjust(millis), settle)

/** Records `name@time` for each run start. */
const recorder = Effect.map(Ref.make<Array<string>>([]), (log) => ({
  log,
  task: (name: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.update(log, (l) => [...l, `${name}@${now}`]))
}))

/**
 * An election whose lease the test takes away: `lose` fails the current holder with LeaseLostError (as a Redis
 * election does when a refresh fails), after interrupting its job.
 */
const losableElection = Effect.gen(function*() {
  const local = Election.makeLocal()
  const lose = yield* Ref.make(yield* Deferred.make<void>())
  const election: Election.Election = {
    withLeadership: (key, effect) =>
      local.withLeadership(
        key,
        Effect.flatMap(Ref.get(lose), (signal) =>
          Effect.raceFirst(
            effect,
            Effect.andThen(
              Deferred.await(signal),
              Effect.fail(new Election.LeaseLostError({ key, reason: "expiring" }))
            )
          ))
      ),
    stats: local.stats
  }
  const takeLease = Effect.gen(function*() {
    const current = yield* Ref.getAndSet(lose, yield* Deferred.make<void>())
    yield* Deferred.succeed(current, undefined)
  })
  return { election, takeLease }
})

describe("singleton jobs (in-process Election)", () => {
  it.effect("Periodic: of two tasks with one key only the leader ticks; the other takes over when it stops", () =>
    Effect.gen(function*() {
      const { log, task } = yield* recorder
      const scopeA = yield* Scope.make()
      yield* Periodic.make(task("a"), { every: "10 seconds", singleton: "report" }).pipe(Scope.provide(scopeA))
      const b = yield* Periodic.make(task("b"), { every: "10 seconds", singleton: "report" })
      yield* settle
      yield* advance(25_000)
      expect(yield* Ref.get(log)).toEqual(["a@10000", "a@20000"])
      expect((yield* b.stats).nextRunAt).toBeUndefined()
      yield* Scope.close(scopeA, Exit.void)
      yield* settle
      yield* advance(20_000)
      // b leads from 25 s, its schedule starting then
      expect(yield* Ref.get(log)).toEqual(["a@10000", "a@20000", "b@35000", "b@45000"])
    }))

  it.effect("Periodic: a stopping leader with onStop await keeps the lease until its run ends; no overlap", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<Array<string>>([])
      const job = (name: string) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(log, (l) => [...l, `${name} start@${now}`])
          yield* Effect.sleep("5 seconds")
          yield* Ref.update(log, (l) => [...l, `${name} end@${now + 5000}`])
        })
      const scopeA = yield* Scope.make()
      yield* Periodic.make(job("a"), { every: "10 seconds", singleton: "k", onStop: "await" }).pipe(
        Scope.provide(scopeA)
      )
      yield* Periodic.make(job("b"), { every: "10 seconds", singleton: "k", runOnStart: true })
      yield* settle
      yield* advance(11_000) // a runs from 10 s to 15 s
      const closing = yield* Effect.forkChild(Scope.close(scopeA, Exit.void))
      yield* settle
      yield* advance(4_000)
      yield* Fiber.join(closing)
      yield* advance(1_000)
      expect(yield* Ref.get(log)).toEqual(["a start@10000", "a end@15000", "b start@15000"])
    }))

  it.effect("Periodic: a lost lease interrupts the run in progress and the task campaigns again", () =>
    Effect.gen(function*() {
      const { election, takeLease } = yield* losableElection
      const started = yield* Ref.make(0)
      const interrupted = yield* Ref.make(0)
      const slow = Effect.andThen(Ref.update(started, (n) => n + 1), Effect.sleep("1 minute")).pipe(
        Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1))
      )
      const periodic = yield* Periodic.make(slow, { every: "10 seconds", singleton: "job" }).pipe(
        Effect.provide(Layer.succeed(Election.Election, election))
      )
      yield* settle
      yield* advance(10_000)
      expect(yield* Ref.get(started)).toBe(1)
      yield* takeLease
      yield* settle
      expect(yield* Ref.get(interrupted)).toBe(1)
      expect((yield* periodic.stats).running).toBe(false)
      // campaigned again and leads again: the schedule restarts
      yield* advance(10_000)
      expect(yield* Ref.get(started)).toBe(2)
      expect((yield* periodic.stats).failures).toBe(0)
    }))

  it.effect("Periodic: an empty singleton key is rejected with InvalidOptionError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Periodic.make(Effect.void, { every: 1000, singleton: "" }))
      expect(error._tag).toBe("InvalidOptionError")
      expect(error.message).toContain("singleton")
    }))

  it.effect("Supervisor: tasks with one singleton key run one at a time; stopping the leader hands over", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      const running = yield* Ref.make<Array<string>>([])
      const job = (name: string) =>
        Effect.andThen(Ref.update(running, (r) => [...r, name]), Effect.never).pipe(
          Effect.ensuring(Ref.update(running, (r) => r.filter((n) => n !== name)))
        )
      yield* sup.start("a", job("a"), { singleton: "feed" })
      yield* sup.start("b", job("b"), { singleton: "feed" })
      yield* settle
      expect(yield* Ref.get(running)).toEqual(["a"])
      yield* sup.stop("a")
      yield* settle
      expect(yield* Ref.get(running)).toEqual(["b"])
      const error = yield* Effect.flip(sup.start("c", Effect.void, { singleton: 42 as unknown as string }))
      expect(error._tag).toBe("InvalidOptionError")
    }))

  it.effect("Supervisor: a lost lease re-campaigns without counting a restart", () =>
    Effect.gen(function*() {
      const { election, takeLease } = yield* losableElection
      const sup = yield* Supervisor.make()
      const runs = yield* Ref.make(0)
      yield* sup.start("a", Effect.andThen(Ref.update(runs, (n) => n + 1), Effect.never), { singleton: "k" }).pipe(
        Effect.provide(Layer.succeed(Election.Election, election))
      )
      yield* settle
      yield* takeLease
      yield* settle
      expect(yield* Ref.get(runs)).toBe(2)
      expect(yield* sup.get("a")).toMatchObject({ state: "running", restarts: 0 })
    }))
})
