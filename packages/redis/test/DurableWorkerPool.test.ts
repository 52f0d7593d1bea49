import { DurableWorkerPool } from "@async-ops/redis"
import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Effect, Exit, Fiber, Ref, Schedule, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"

class Boom extends Data.TaggedError("Boom")<{ readonly n: number }> {}

const Item = Schema.Struct({ n: Schema.Number })

/** Lets forked fibers reach their next suspension point. */
const settle = Effect.forEach(Array.from({ length: 50 }), () => Effect.yieldNow, { discard: true })

describe("DurableWorkerPool (in-memory store: the same code as on Redis, one Layer apart)", () => {
  it.effect("every submitted item is processed once by the local workers, never more than `workers` at once", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<number>>([])
      let active = 0
      let peak = 0
      const pool = yield* DurableWorkerPool.make({
        name: "jobs",
        schema: Item,
        workers: 3,
        handler: ({ n }) =>
          Effect.gen(function*() {
            active++
            peak = Math.max(peak, active)
            yield* Effect.yieldNow
            yield* Ref.update(seen, (s) => [...s, n])
            active--
          })
      })
      const ids = yield* pool.submitAll(Array.from({ length: 20 }, (_, n) => ({ n })))
      expect(new Set(ids).size).toBe(20)
      while ((yield* Ref.get(seen)).length < 20) yield* Effect.yieldNow
      yield* pool.drain
      expect((yield* Ref.get(seen)).toSorted((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n))
      expect(peak).toBe(3)
      expect(yield* pool.stats).toMatchObject({ submitted: 20, taken: 20, done: 20, failed: 0, active: 0 })
    }).pipe(Effect.provide(DurableWorkerPool.layerMemory)))

  it.effect("a failing item is retried on the schedule and reaches the dead letters after maxAttempts", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make<Array<number>>([])
      const scope = yield* Scope.make()
      const pool = yield* DurableWorkerPool.make({
        name: "flaky",
        schema: Item,
        workers: 2,
        maxAttempts: 3,
        retrySchedule: Schedule.spaced("1 second"),
        handler: ({ n }, delivery) =>
          n === 7
            ? Effect.andThen(Ref.update(attempts, (a) => [...a, delivery.attempts]), Effect.fail(new Boom({ n })))
            : Effect.void
      }).pipe(Scope.provide(scope))
      const letters = yield* pool.failures.pipe(Stream.runCollect, Effect.forkChild)
      yield* pool.submitAll([{ n: 1 }, { n: 7 }, { n: 2 }])
      yield* settle
      expect(yield* Ref.get(attempts)).toEqual([1])
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* Ref.get(attempts)).toEqual([1, 2])
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* Ref.get(attempts)).toEqual([1, 2, 3])
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(yield* Ref.get(attempts)).toEqual([1, 2, 3])
      expect(yield* pool.stats).toMatchObject({ done: 2, failed: 1, retried: 2 })
      yield* Scope.close(scope, Exit.void)
      const dead = yield* Fiber.join(letters)
      expect(dead).toHaveLength(1)
      expect(dead[0]).toMatchObject({ _tag: "Failure", item: { n: 7 }, error: new Boom({ n: 7 }), attempts: 3 })
    }).pipe(Effect.provide(DurableWorkerPool.layerMemory)))

  it.effect("closing past closeTimeout hands the held item back uncounted; the next pool takes it as attempt 1", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const first = yield* DurableWorkerPool.make({
        name: "handover",
        schema: Item,
        workers: 1,
        closeTimeout: "5 seconds",
        handler: () => Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
      }).pipe(Scope.provide(scope))
      yield* first.submit({ n: 1 })
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      expect((yield* first.stats).state).toBe("closing")
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(closing)
      expect(yield* first.stats).toMatchObject({ state: "closed", handedBack: 1, done: 0, failed: 0 })
      expect(yield* Effect.flip(first.submit({ n: 2 }))).toMatchObject({ _tag: "WorkerPoolClosedError" })
      const got = yield* Deferred.make<number>()
      yield* DurableWorkerPool.make({
        name: "handover",
        schema: Item,
        workers: 1,
        handler: (_, delivery) => Deferred.succeed(got, delivery.attempts)
      })
      expect(yield* Deferred.await(got)).toBe(1)
    }).pipe(Effect.provide(DurableWorkerPool.layerMemory)))

  it.effect("a graceful close lets held items finish and stops taking new ones", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const finished = yield* Ref.make(0)
      const scope = yield* Scope.make()
      const pool = yield* DurableWorkerPool.make({
        name: "graceful",
        schema: Item,
        workers: 1,
        handler: () =>
          Effect.andThen(
            Deferred.succeed(started, undefined),
            Effect.andThen(Deferred.await(release), Ref.update(finished, (n) => n + 1))
          )
      }).pipe(Scope.provide(scope))
      yield* pool.submitAll([{ n: 1 }, { n: 2 }])
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(closing)
      expect(yield* Ref.get(finished)).toBe(1)
      expect(yield* pool.stats).toMatchObject({ state: "closed", taken: 1, done: 1, handedBack: 0 })
    }).pipe(Effect.provide(DurableWorkerPool.layerMemory)))

  it.effect("bad options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const base = { name: "q", schema: Item, workers: 1, handler: () => Effect.void }
      for (
        const [option, bad] of [
          ["name", { ...base, name: "" }],
          ["workers", { ...base, workers: 0 }],
          ["maxAttempts", { ...base, maxAttempts: 0.5 }],
          ["schema", { ...base, schema: 42 as unknown as typeof Item }],
          ["closeTimeout", { ...base, closeTimeout: -1 }]
        ] as const
      ) {
        const error = yield* Effect.flip(DurableWorkerPool.make(bad))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.message).toContain(option)
      }
    }).pipe(Effect.scoped, Effect.provide(DurableWorkerPool.layerMemory)))
})
