import { KeyedLimiter, Metrics } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric, Option, Ref } from "effect"
import { holdUntilReleased, isInterrupted, runRandomCallers, start } from "./support.ts"

/** Holds a permit of `key` until released. */
const holdKey = <K>(limiter: KeyedLimiter.KeyedLimiter<K>, key: K) =>
  holdUntilReleased((effect) => limiter.withPermit(key, effect))

describe("KeyedLimiter", () => {
  it.effect("perKey and global that are not integers >= 1 fail with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const perKey = yield* Effect.flip(KeyedLimiter.make({ perKey: bad }))
        expect(perKey.option).toBe("perKey")
        expect(perKey.message).toContain("KeyedLimiter.make: option perKey must be an integer >= 1")
        const global = yield* Effect.flip(KeyedLimiter.make({ perKey: 1, global: bad }))
        expect(global.option).toBe("global")
      }
      expect((yield* (yield* KeyedLimiter.make({ perKey: 2 })).stats).limit).toBe(Number.POSITIVE_INFINITY)
    }))

  it.effect("a mixed workload never exceeds the cap of any key nor the global cap, and reaches both", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 3, global: 8 })
      const keys = ["a", "b", "c", "d", "e"]
      const global = yield* ConcurrencyProbe.make
      const perKey = new Map<string, ConcurrencyProbe.ConcurrencyProbe>()
      for (const key of keys) perKey.set(key, yield* ConcurrencyProbe.make)
      // skewed: half the calls go to "a", the rest spread over the other keys
      const calls = Array.from({ length: 3_000 }, (_, i) => ({
        key: i % 2 === 0 ? "a" : keys[1 + ((i >> 1) % 4)]!,
        ms: 1 + ((i * 7919) % 17)
      }))
      yield* VirtualTime.autojump(
        Effect.forEach(
          calls,
          ({ key, ms }) => limiter.withPermit(key, global.track(perKey.get(key)!.track(Effect.sleep(ms)))),
          { concurrency: "unbounded", discard: true }
        )
      )
      expect((yield* global.stats).peak).toBe(8)
      for (const key of keys) expect((yield* perKey.get(key)!.stats).peak, key).toBe(3)
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0, keys: 0, acquired: 3_000 })
    }))

  it.effect("a caller held by its own key's cap does not hold up another key (fairness rule)", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 1, global: 2 })
      const a1 = yield* holdKey(limiter, "a")
      const c1 = yield* holdKey(limiter, "c")
      const order = yield* Ref.make<Array<string>>([])
      // a2 arrives first but key "a" is at its cap; b1 arrives later, its key has room, the global cap is full
      const a2 = yield* start(limiter.withPermit("a", Ref.update(order, (xs) => [...xs, "a2"])))
      const b1 = yield* start(limiter.withPermit(
        "b",
        Ref.update(order, (xs) => [...xs, "b1"]).pipe(
          Effect.andThen(Effect.never)
        )
      ))
      expect(yield* limiter.stats).toMatchObject({ inFlight: 2, waiting: 2, keys: 3 })
      // a global permit frees up: it goes to b1, not to a2, which is still held by its key
      yield* c1.release
      yield* Fiber.join(c1.fiber)
      yield* Effect.yieldNow
      expect(yield* Ref.get(order)).toEqual(["b1"])
      expect(yield* limiter.stats).toMatchObject({ inFlight: 2, waiting: 1 })
      // a1 ends: a2 takes its key slot and the global permit a1 gave back
      yield* a1.release
      yield* Fiber.join(a2)
      expect(yield* Ref.get(order)).toEqual(["b1", "a2"])
      yield* Fiber.interrupt(b1)
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0, keys: 0 })
    }))

  it.effect("callers whose key has room get global permits in arrival order", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 5, global: 1 })
      const held = yield* holdKey(limiter, "x")
      const order = yield* Ref.make<Array<string>>([])
      const fibers = []
      for (const key of ["b", "a", "c", "a", "b"]) {
        fibers.push(yield* start(limiter.withPermit(key, Ref.update(order, (xs) => [...xs, key]))))
      }
      yield* held.release
      yield* Fiber.joinAll(fibers)
      expect(yield* Ref.get(order)).toEqual(["b", "a", "c", "a", "b"])
    }))

  it.effect("callers of one key are admitted in arrival order", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 1 })
      const held = yield* holdKey(limiter, "k")
      const order = yield* Ref.make<Array<number>>([])
      const fibers = []
      for (let i = 0; i < 5; i++) {
        fibers.push(yield* start(limiter.withPermit("k", Ref.update(order, (xs) => [...xs, i]))))
      }
      // another key is not affected by k's queue
      expect(yield* limiter.withPermit("other", Effect.succeed("free"))).toBe("free")
      yield* held.release
      yield* Fiber.joinAll(fibers)
      expect(yield* Ref.get(order)).toEqual([0, 1, 2, 3, 4])
    }))

  it.effect(
    "keys with no holder and no waiter are evicted: 100,000 keys, then stats.keys is back to 0",
    () =>
      Effect.gen(function*() {
        const limiter = yield* KeyedLimiter.make<number>({ perKey: 1, global: 1_000 })
        let peakKeys = 0
        yield* Effect.forEach(
          Array.from({ length: 100_000 }, (_, i) => i),
          (key) =>
            limiter.withPermit(
              key,
              Effect.flatMap(limiter.stats, (s) =>
                Effect.sync(() => {
                  peakKeys = Math.max(peakKeys, s.keys)
                })).pipe(Effect.andThen(Effect.yieldNow))
            ),
          { concurrency: "unbounded", discard: true }
        )
        const stats = yield* limiter.stats
        expect(stats).toMatchObject({ keys: 0, inFlight: 0, waiting: 0, acquired: 100_000 })
        // keys waiting for the global cap are in memory while they wait, no more
        expect(peakKeys).toBeGreaterThan(1_000)
        expect(peakKeys).toBeLessThanOrEqual(100_000)
      }),
    30_000
  )

  it.effect("an interrupted waiter leaves no trace, whether it waited for its key or for the global cap", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 1, global: 1 })
      const held = yield* holdKey(limiter, "a")
      const onKey = yield* start(limiter.withPermit("a", Effect.void)) // waits for key "a"
      const onGlobal = yield* start(limiter.withPermit("b", Effect.void)) // waits for the global cap
      expect(yield* limiter.stats).toMatchObject({ waiting: 2, keys: 2 })
      yield* Fiber.interrupt(onGlobal)
      expect(yield* limiter.stats).toMatchObject({ waiting: 1, keys: 1 })
      yield* Fiber.interrupt(onKey)
      expect(yield* limiter.stats).toMatchObject({ waiting: 0, keys: 1, inFlight: 1 })
      yield* held.release
      yield* Fiber.join(held.fiber)
      expect(yield* limiter.stats).toMatchObject({ waiting: 0, keys: 0, inFlight: 0, acquired: 1 })
    }))

  it.effect("a waiter leaving the global queue gives its key slot to the next caller of that key", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 1, global: 1 })
      const held = yield* holdKey(limiter, "x")
      const first = yield* start(limiter.withPermit("b", Effect.succeed("first")))
      const second = yield* start(limiter.withPermit("b", Effect.succeed("second")))
      yield* Fiber.interrupt(first)
      yield* held.release
      expect(yield* Fiber.join(second)).toBe("second")
      expect((yield* limiter.stats).keys).toBe(0)
    }))

  it.effect("a waiter interrupted after its grant and before it ran passes both permits on", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 1, global: 1 })
      const victim = yield* Deferred.make<Fiber.Fiber<void>>()
      const release = yield* Deferred.make<void>()
      const blocker = yield* start(
        limiter.withPermit("a", Deferred.await(release)).pipe(
          Effect.andThen(Deferred.await(victim)),
          Effect.flatMap((fiber) => Effect.sync(() => fiber.interruptUnsafe()))
        )
      )
      const first = yield* start(limiter.withPermit("a", Effect.void))
      const second = yield* start(limiter.withPermit("a", Effect.succeed("second")))
      yield* Deferred.succeed(victim, first)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(blocker)
      expect(isInterrupted(yield* Fiber.await(first))).toBe(true)
      expect(yield* Fiber.join(second)).toBe("second")
      expect(yield* limiter.stats).toMatchObject({ inFlight: 0, waiting: 0, keys: 0 })
    }))

  it.effect("withPermitIfAvailable needs room in the key and the global cap, and nobody waiting ahead", () =>
    Effect.gen(function*() {
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 1, global: 2 })
      expect(yield* limiter.withPermitIfAvailable("a", Effect.succeed(1))).toEqual(Option.some(1))
      const held = yield* holdKey(limiter, "a")
      expect(yield* limiter.withPermitIfAvailable("a", Effect.succeed(2))).toEqual(Option.none())
      expect(yield* limiter.withPermitIfAvailable("b", Effect.succeed(3))).toEqual(Option.some(3))
      const other = yield* holdKey(limiter, "c")
      expect(yield* limiter.withPermitIfAvailable("b", Effect.succeed(4))).toEqual(Option.none())
      yield* held.release
      yield* other.release
      yield* Fiber.join(held.fiber)
      yield* Fiber.join(other.fiber)
      expect(yield* limiter.stats).toMatchObject({ keys: 0, rejected: 2, acquired: 4 })
    }))

  it.effect("reports in flight and waiting over all keys as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "KeyedLimiter", name: "hosts" }
      const limiter = yield* KeyedLimiter.make<string>({ perKey: 1, global: 2, name: "hosts", metrics: true })
      const a = yield* holdKey(limiter, "a")
      const b = yield* holdKey(limiter, "b")
      const waiter = yield* start(limiter.withPermit("a", Effect.void))
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(2)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.limit, attrs))).value).toBe(2)
      yield* a.release
      yield* b.release
      yield* Fiber.join(waiter)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count).toBe(3)
    }))

  it.effect("random schedules over a few keys with interruptions leave no key, holder or waiter behind", () =>
    Effect.gen(function*() {
      const seen = { interruptedWaiting: 0, completed: 0 }
      yield* Chaos.forEachSeed(150, (random) =>
        Effect.gen(function*() {
          const perKey = 1 + random.int(2)
          const globalCap = random.chance(0.3) ? undefined : 1 + random.int(4)
          const limiter = yield* KeyedLimiter.make<number>({ perKey, global: globalCap })
          const global = yield* ConcurrencyProbe.make
          const probes = [yield* ConcurrencyProbe.make, yield* ConcurrencyProbe.make, yield* ConcurrencyProbe.make]
          yield* runRandomCallers(random, (hold) => {
            const key = random.int(3)
            return limiter.withPermit(key, global.track(probes[key]!.track(Effect.sleep(hold)))).pipe(
              Effect.onInterrupt(() =>
                Effect.sync(() => {
                  seen.interruptedWaiting++
                })
              )
            )
          }, { onCompleted: () => seen.completed++ })
          const stats = yield* limiter.stats
          expect(stats).toMatchObject({ inFlight: 0, waiting: 0, keys: 0 })
          if (globalCap !== undefined) expect((yield* global.stats).peak).toBeLessThanOrEqual(globalCap)
          for (const probe of probes) expect((yield* probe.stats).peak).toBeLessThanOrEqual(perKey)
        }))
      expect(seen.interruptedWaiting).toBeGreaterThan(100)
      expect(seen.completed).toBeGreaterThan(500)
    }))
})
