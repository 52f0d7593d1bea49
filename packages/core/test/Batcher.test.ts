import { Batcher, Metrics } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Context, Data, type Duration, Effect, Exit, Fiber, Metric, Scope } from "effect"
import { TestClock } from "effect/testing"
import { randomInterruptions, settle, start } from "./support.ts"

class DbDown extends Data.TaggedError("DbDown")<{}> {}

/** A lookup that records the keys and virtual time of every call and returns `v<key>` as [key, value] pairs. */
const recorder = (options?: { readonly latency?: number; readonly skip?: ReadonlyArray<number> }) => {
  const lookups: Array<{ readonly keys: ReadonlyArray<number>; readonly at: number }> = []
  const interrupted: Array<ReadonlyArray<number>> = []
  const lookup = (keys: ReadonlyArray<number>) =>
    Effect.gen(function*() {
      lookups.push({ keys, at: yield* Clock.currentTimeMillis })
      if (options?.latency !== undefined) yield* Effect.sleep(options.latency)
      return keys.filter((k) => !options?.skip?.includes(k)).map((k) => [k, `v${k}`] as const)
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(keys))))
  return { lookups, interrupted, lookup }
}

const errorTag = <A, E extends { readonly _tag: string }>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) return "ok"
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" ? error.value._tag : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "defect"
}

describe("Batcher", () => {
  it.effect("a maxBatchSize that is not an integer >= 1 fails with InvalidOptionError naming maxBatchSize", () =>
    Effect.gen(function*() {
      const { lookup } = recorder()
      for (const bad of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(Batcher.make({ maxBatchSize: bad, maxDelay: 10, lookup }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("maxBatchSize")
        expect(error.message).toContain("Batcher.make: option maxBatchSize must be an integer >= 1")
      }
    }))

  it.effect("a maxDelay that is not a finite duration >= 0 fails with InvalidOptionError naming maxDelay", () =>
    Effect.gen(function*() {
      const { lookup } = recorder()
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, "Infinity", "soon"] as const) {
        const error = yield* Effect.flip(Batcher.make({ maxBatchSize: 10, maxDelay: bad as Duration.Input, lookup }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("maxDelay")
      }
    }))

  it.effect("a lookup that is not a function fails with InvalidOptionError naming lookup", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Batcher.make({ maxBatchSize: 10, maxDelay: 10, lookup: undefined as unknown as () => Effect.Effect<[]> })
      )
      expect(error._tag).toBe("InvalidOptionError")
      expect(error.option).toBe("lookup")
    }))

  it.effect("10 concurrent gets within the delay make one lookup, maxDelay after the first get", () =>
    Effect.gen(function*() {
      const { lookup, lookups } = recorder()
      const batcher = yield* Batcher.make({ maxBatchSize: 100, maxDelay: 10, lookup })
      const values = yield* VirtualTime.autojump(
        Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (k) => batcher.get(k), { concurrency: "unbounded" })
      )
      expect(values).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`))
      expect(lookups).toEqual([{ keys: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], at: 10 }])
    }))

  it.effect("maxBatchSize 4 with 10 gets makes 3 lookups of 4, 4 and 2: full batches go at once", () =>
    Effect.gen(function*() {
      const { lookup, lookups } = recorder()
      const batcher = yield* Batcher.make({ maxBatchSize: 4, maxDelay: 10, lookup })
      yield* VirtualTime.autojump(
        Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (k) => Batcher.get(batcher, k), {
          concurrency: "unbounded"
        })
      )
      expect(lookups.map(({ at, keys }) => [keys.length, at])).toEqual([[4, 0], [4, 0], [2, 10]])
      expect(yield* Batcher.stats(batcher)).toMatchObject({ gets: 10, batches: 3, keys: 10, meanBatchSize: 10 / 3 })
    }))

  it.effect("gets of one key in a batch share one lookup entry and do not count against maxBatchSize", () =>
    Effect.gen(function*() {
      const { lookup, lookups } = recorder()
      const batcher = yield* Batcher.make({ maxBatchSize: 3, maxDelay: 10, lookup })
      const values = yield* VirtualTime.autojump(
        Effect.forEach([1, 1, 2, 2, 2, 3], (k) => batcher.get(k), { concurrency: "unbounded" })
      )
      expect(values).toEqual(["v1", "v1", "v2", "v2", "v2", "v3"])
      // the third distinct key fills the batch: one lookup, at once
      expect(lookups).toEqual([{ keys: [1, 2, 3], at: 0 }])
      expect(yield* batcher.stats).toMatchObject({ gets: 6, batches: 1, keys: 3, deduplicated: 3 })
    }))

  it.effect("a key missing from the result fails its callers with BatchKeyNotFoundError, and only them", () =>
    Effect.gen(function*() {
      const { lookup } = recorder({ skip: [2] })
      const batcher = yield* Batcher.make({ maxBatchSize: 10, maxDelay: 5, lookup, name: "users" })
      const exits = yield* VirtualTime.autojump(
        Effect.forEach([1, 2, 3, 2], (k) => Effect.exit(batcher.get(k)), { concurrency: "unbounded" })
      )
      expect(exits.map(errorTag)).toEqual(["ok", "BatchKeyNotFoundError", "ok", "BatchKeyNotFoundError"])
      const error = Cause.findErrorOption((exits[1] as Exit.Failure<string, unknown>).cause)
      expect(error._tag === "Some" && error.value).toMatchObject({ name: "users", key: 2 })
      expect(exits[0]).toEqual(Exit.succeed("v1"))
    }))

  it.effect("a lookup may return a Map or [key, value] pairs", () =>
    Effect.gen(function*() {
      const batcher = yield* Batcher.make({
        maxBatchSize: 10,
        maxDelay: 0,
        lookup: (keys: ReadonlyArray<string>) => Effect.succeed(new Map(keys.map((k) => [k, k.length])))
      })
      const both = Effect.all([batcher.get("a"), batcher.pipe(Batcher.get("bcd"))], { concurrency: "unbounded" })
      expect(yield* both).toEqual([1, 3])
    }))

  it.effect("a failing lookup fails every caller of its batch with its error, and the next batch works", () =>
    Effect.gen(function*() {
      let fail = true
      const batcher = yield* Batcher.make({
        maxBatchSize: 10,
        maxDelay: 5,
        lookup: (keys: ReadonlyArray<number>) =>
          fail ? Effect.fail(new DbDown()) : Effect.succeed(keys.map((k) => [k, k * 2] as const))
      })
      const exits = yield* VirtualTime.autojump(
        Effect.forEach([1, 2, 2], (k) => Effect.exit(batcher.get(k)), { concurrency: "unbounded" })
      )
      expect(exits).toEqual([Exit.fail(new DbDown()), Exit.fail(new DbDown()), Exit.fail(new DbDown())])
      fail = false
      expect(yield* VirtualTime.autojump(batcher.get(4))).toBe(8)
    }))

  it.effect("interrupting a caller does not break its batch; a key nobody else wants is left out", () =>
    Effect.gen(function*() {
      const { lookup, lookups } = recorder()
      const batcher = yield* Batcher.make({ maxBatchSize: 10, maxDelay: 10, lookup })
      const a = yield* start(batcher.get(1))
      const b = yield* start(batcher.get(2))
      const c = yield* start(batcher.get(2))
      const d = yield* start(batcher.get(3))
      yield* TestClock.adjust(5)
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      yield* TestClock.adjust(5)
      expect([yield* Fiber.join(c), yield* Fiber.join(d)]).toEqual(["v2", "v3"])
      expect(lookups).toEqual([{ keys: [2, 3], at: 10 }])
    }))

  it.effect("interrupting some callers of a running lookup lets it finish for the others", () =>
    Effect.gen(function*() {
      const { lookup, interrupted } = recorder({ latency: 100 })
      const batcher = yield* Batcher.make({ maxBatchSize: 2, maxDelay: 10, lookup })
      const a = yield* start(batcher.get(1))
      const b = yield* start(batcher.get(2))
      yield* TestClock.adjust(50)
      yield* Fiber.interrupt(a)
      yield* TestClock.adjust(50)
      expect(yield* Fiber.join(b)).toBe("v2")
      expect(interrupted).toEqual([])
    }))

  it.effect("interrupting every caller of a running lookup interrupts the lookup", () =>
    Effect.gen(function*() {
      const { lookup, interrupted } = recorder({ latency: 100 })
      const batcher = yield* Batcher.make({ maxBatchSize: 2, maxDelay: 10, lookup })
      const a = yield* start(batcher.get(1))
      const b = yield* start(batcher.get(2))
      yield* TestClock.adjust(50)
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      yield* settle
      expect(interrupted).toEqual([[1, 2]])
      expect(yield* batcher.stats).toMatchObject({ inFlight: 0, waiting: 0, batches: 1 })
    }))

  it.effect("interrupting every caller of a batch still collecting drops the batch: no lookup", () =>
    Effect.gen(function*() {
      const { lookup, lookups } = recorder()
      const batcher = yield* Batcher.make({ maxBatchSize: 10, maxDelay: 10, lookup })
      const a = yield* start(batcher.get(1))
      const b = yield* start(batcher.get(2))
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      yield* TestClock.adjust(100)
      expect(lookups).toEqual([])
      expect(yield* batcher.stats).toMatchObject({ batches: 0, waiting: 0, collecting: 0 })
    }))

  it.effect("closing the scope fails waiting callers with BatcherClosedError, stops lookups, refuses gets", () =>
    Effect.gen(function*() {
      const { lookup, interrupted } = recorder({ latency: 100 })
      const scope = yield* Scope.make()
      const batcher = yield* Batcher.make({ maxBatchSize: 2, maxDelay: 50, lookup }).pipe(Scope.provide(scope))
      const running = [yield* start(batcher.get(1)), yield* start(batcher.get(2))] // full: looked up at once
      const collecting = yield* start(batcher.get(3))
      yield* TestClock.adjust(10)
      yield* Scope.close(scope, Exit.void)
      for (const fiber of [...running, collecting]) {
        expect(errorTag(yield* Fiber.await(fiber))).toBe("BatcherClosedError")
      }
      expect(interrupted).toEqual([[1, 2]])
      expect(yield* Effect.flip(batcher.get(4))).toBeInstanceOf(Batcher.BatcherClosedError)
      expect(yield* batcher.stats).toMatchObject({ inFlight: 0, waiting: 0, batches: 1 })
    }))

  it.effect("closing the scope leaves no fiber behind", () =>
    Effect.gen(function*() {
      const { lookup } = recorder({ latency: 1000 })
      const exits = yield* LeakCheck.fibers(
        Effect.scoped(Effect.gen(function*() {
          const batcher = yield* Batcher.make({ maxBatchSize: 2, maxDelay: 1000, lookup })
          return [yield* start(batcher.get(1)), yield* start(batcher.get(2)), yield* start(batcher.get(3))]
        })).pipe(Effect.flatMap((fibers) => Effect.forEach(fibers, Fiber.await)))
      )
      expect(exits.map(errorTag)).toEqual(["BatcherClosedError", "BatcherClosedError", "BatcherClosedError"])
    }))

  it.effect("the lookup runs with the services of the fiber that made the batcher", () =>
    Effect.gen(function*() {
      class Prefix extends Context.Service<Prefix, string>()("Prefix") {}
      const batcher = yield* Batcher.make({
        maxBatchSize: 10,
        maxDelay: 0,
        lookup: (keys: ReadonlyArray<number>) => Effect.map(Prefix, (p) => keys.map((k) => [k, `${p}${k}`] as const))
      }).pipe(Effect.provideService(Prefix, "user-"))
      expect(yield* batcher.get(7)).toBe("user-7")
      expect(Batcher.isBatcher(batcher)).toBe(true)
    }))

  it.effect("with metrics on, waiting and in-flight gauges follow the batches", () =>
    Effect.gen(function*() {
      const { lookup } = recorder({ latency: 100 })
      const batcher = yield* Batcher.make({ maxBatchSize: 2, maxDelay: 10, lookup, name: "users", metrics: true })
      const attrs = { primitive: "Batcher", name: "users" }
      const fibers = [yield* start(batcher.get(1)), yield* start(batcher.get(2)), yield* start(batcher.get(3))]
      yield* settle
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(3)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.queueDepth, attrs))).value).toBe(1)
      yield* TestClock.adjust(200)
      yield* Fiber.joinAll(fibers)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(0)
    }))

  it.effect(
    "random gets with random interruptions: every caller is answered and nothing is left",
    () =>
      Effect.gen(function*() {
        yield* Chaos.forEachSeed(150, (random) =>
          Effect.gen(function*() {
            const maxBatchSize = 1 + random.int(5)
            const maxDelay = random.int(20)
            const latency = random.int(30)
            const failEvery = 2 + random.int(4)
            let calls = 0
            const answers: Array<string> = []
            const lookupSizes: Array<number> = []
            const run = Effect.scoped(Effect.gen(function*() {
              const batcher = yield* Batcher.make({
                maxBatchSize,
                maxDelay,
                lookup: (keys: ReadonlyArray<number>) =>
                  Effect.gen(function*() {
                    lookupSizes.push(keys.length)
                    yield* Effect.sleep(latency)
                    if (++calls % failEvery === 0) return yield* new DbDown()
                    return keys.filter((k) => k % 7 !== 0).map((k) => [k, k] as const)
                  })
              })
              const fibers: Array<Fiber.Fiber<unknown>> = []
              const gets = 1 + random.int(30)
              for (let i = 0; i < gets; i++) {
                const key = random.int(10)
                fibers.push(
                  yield* Effect.forkChild(
                    Effect.sleep(random.int(100)).pipe(
                      Effect.andThen(batcher.get(key)),
                      Effect.exit,
                      Effect.flatMap((exit) => Effect.sync(() => answers.push(errorTag(exit))))
                    )
                  )
                )
              }
              yield* Effect.forEach(
                randomInterruptions(random, fibers, random.int(gets), 150),
                (interruption) => Effect.forkChild(interruption)
              )
              yield* Fiber.awaitAll(fibers)
              return yield* batcher.stats
            }))
            const stats = yield* LeakCheck.fibers(VirtualTime.autojump(run))
            expect(stats).toMatchObject({ waiting: 0, inFlight: 0, collecting: 0 })
            expect(stats.batches).toBe(lookupSizes.length)
            for (const size of lookupSizes) expect(size).toBeLessThanOrEqual(maxBatchSize)
            for (const answer of answers) expect(["ok", "BatchKeyNotFoundError", "DbDown"]).toContain(answer)
          }))
      }),
    60_000
  )
})
