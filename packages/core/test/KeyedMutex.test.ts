import { KeyedMutex, Metrics } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Data, Deferred, Effect, Exit, Fiber, Metric, Option, Ref, Scope } from "effect"
import { awaitWithInterrupters, defectOf, isInterrupted, maybeInterruptAnother, start } from "./support.ts"

class Boom extends Data.TaggedError("Boom")<{}> {}

describe("KeyedMutex", () => {
  it.effect("the same key runs one fiber at a time while different keys run in parallel", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<string>()
      const all = yield* ConcurrencyProbe.make
      const perKey = {
        a: yield* ConcurrencyProbe.make,
        b: yield* ConcurrencyProbe.make,
        c: yield* ConcurrencyProbe.make
      }
      const jobs = (["a", "b", "c"] as const).flatMap((key) => [1, 2, 3].map(() => key))
      yield* Effect.forEach(
        jobs,
        (key) => KeyedMutex.withLock(locks, key, all.track(perKey[key].track(Effect.sleep(10)))),
        { concurrency: "unbounded", discard: true }
      ).pipe(VirtualTime.autojump)
      expect((yield* all.stats).peak).toBe(3)
      for (const probe of Object.values(perKey)) expect(yield* probe.stats).toMatchObject({ peak: 1, ended: 3 })
      expect(yield* Clock.currentTimeMillis).toBe(30)
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect("waiters on one key get it in the order they started waiting", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<string>()
      const order = yield* Ref.make<Array<number>>([])
      const release = yield* Deferred.make<void>()
      const holder = yield* start(KeyedMutex.withLock(locks, "k", Deferred.await(release)))
      const waiters: Array<Fiber.Fiber<void>> = []
      for (const i of [2, 0, 3, 1]) {
        waiters.push(yield* start(KeyedMutex.withLock(locks, "k", Ref.update(order, (xs) => [...xs, i]))))
      }
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 1, waiting: 4 })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.joinAll([holder, ...waiters])
      expect(yield* Ref.get(order)).toEqual([2, 0, 3, 1])
    }))

  it.effect(
    "locks for 100,000 distinct keys are all dropped when released, so size returns to 0",
    () =>
      Effect.gen(function*() {
        const locks = yield* KeyedMutex.make<string>()
        let peakSize = 0
        const section = Effect.flatMap(KeyedMutex.stats(locks), (s) =>
          Effect.sync(() => {
            if (s.size > peakSize) peakSize = s.size
          })).pipe(Effect.andThen(Effect.yieldNow))
        yield* Effect.forEach(
          Array.from({ length: 100_000 }, (_, i) => `key-${i}`),
          (key) => KeyedMutex.withLock(locks, key, section),
          { concurrency: 1_000, discard: true }
        )
        expect(peakSize).toBe(1_000)
        expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
      }),
    20_000
  )

  it.effect("interrupted waiters and holders leave no entry behind", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<string>()
      const holding = yield* Deferred.make<void>()
      const holderA = yield* start(
        KeyedMutex.withLock(locks, "a", Effect.andThen(Deferred.succeed(holding, undefined), Effect.never))
      )
      const waiterA = yield* start(KeyedMutex.withLock(locks, "a", Effect.void))
      const scope = yield* Scope.make()
      const holderB = yield* start(Scope.provide(KeyedMutex.lockScoped(locks, "b"), scope))
      const holdingB = yield* Deferred.make<void>()
      const waiterB = yield* start(
        KeyedMutex.withLock(locks, "b", Effect.andThen(Deferred.succeed(holdingB, undefined), Effect.never))
      )
      yield* Deferred.await(holding)
      yield* Fiber.join(holderB)
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 2, waiting: 2 })
      // an interrupted waiter leaves the queue, the key stays while it is held
      yield* Fiber.interrupt(waiterA)
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 2, waiting: 1 })
      // an interrupted holder with nobody waiting drops the key
      yield* Fiber.interrupt(holderA)
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 1, waiting: 1 })
      // the scoped holder releases to the waiter, which is interrupted while holding
      yield* Scope.close(scope, Exit.void)
      yield* Deferred.await(holdingB)
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 1, waiting: 0 })
      yield* Fiber.interrupt(waiterB)
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect("a waiter interrupted after a key was handed to it, before it ran, passes the key on", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<string>()
      const release = yield* Deferred.make<void>()
      const holder = yield* start(KeyedMutex.withLock(locks, "k", Deferred.await(release)))
      const a = yield* start(KeyedMutex.withLock(locks, "k", Effect.succeed("a")))
      const b = yield* start(KeyedMutex.withLock(locks, "k", Effect.succeed("b")))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.interrupt(a)
      expect(yield* Fiber.join(b)).toBe("b")
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect("a key is released when the holder succeeds, fails or dies", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<number>()
      expect(yield* KeyedMutex.withLock(locks, 1, Effect.succeed("ok"))).toBe("ok")
      expect(yield* Effect.exit(KeyedMutex.withLock(locks, 1, Effect.fail(new Boom())))).toEqual(Exit.fail(new Boom()))
      expect(defectOf(yield* Effect.exit(KeyedMutex.withLock(locks, 1, Effect.die("bug"))))).toBe("bug")
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect("locking a key again from its holder dies with KeyedMutexReentryError; other keys can be nested", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<string>()
      expect(yield* KeyedMutex.withLock(locks, "a", KeyedMutex.withLock(locks, "b", Effect.succeed("nested")))).toBe(
        "nested"
      )
      const exit = yield* Effect.exit(KeyedMutex.withLock(locks, "a", KeyedMutex.withLock(locks, "a", Effect.void)))
      const defect = defectOf(exit)
      expect(defect).toBeInstanceOf(KeyedMutex.KeyedMutexReentryError)
      expect(defect).toMatchObject({ key: "a" })
      expect((defect as Error).message).toBe(
        "KeyedMutex: the fiber that holds the lock of key a tried to lock it again; the lock is not re-entrant and this would deadlock"
      )
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect("locking a key again inside Effect.timeout or a joined child dies with KeyedMutexReentryError", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<string>()
      const inChild = [
        <A, E>(effect: Effect.Effect<A, E>) => Effect.timeout(effect, "1 second"),
        <A, E>(effect: Effect.Effect<A, E>) => Effect.flatMap(Effect.forkChild(effect), Fiber.join)
      ]
      for (const wrap of inChild) {
        const exit = yield* Effect.exit(
          KeyedMutex.withLock(locks, "a", wrap(KeyedMutex.withLock(locks, "a", Effect.void)))
        )
          .pipe(VirtualTime.autojump)
        expect(defectOf(exit)).toMatchObject({ _tag: "KeyedMutexReentryError", key: "a" })
        // another key from the same child is fine
        expect(yield* KeyedMutex.withLock(locks, "a", wrap(KeyedMutex.withLock(locks, "b", Effect.succeed("b"))))).toBe(
          "b"
        )
        expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
      }
    }))

  it.effect("withLockIfAvailable runs when the key is free and returns none at once when it is held", () =>
    Effect.gen(function*() {
      const locks = yield* KeyedMutex.make<string>()
      const release = yield* Deferred.make<void>()
      const holder = yield* start(KeyedMutex.withLock(locks, "busy", Deferred.await(release)))
      expect(yield* KeyedMutex.withLockIfAvailable(locks, "busy", Effect.succeed(1))).toEqual(Option.none())
      expect(yield* KeyedMutex.withLockIfAvailable(locks, "free", Effect.succeed(2))).toEqual(Option.some(2))
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 1, waiting: 0 })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect(yield* Effect.succeed(3).pipe(KeyedMutex.withLockIfAvailable(locks, "busy"))).toEqual(Option.some(3))
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect("lockScoped holds a key until the caller's scope closes", () =>
    Effect.gen(function*() {
      const locks = KeyedMutex.makeUnsafe<string>()
      expect(KeyedMutex.isKeyedMutex(locks)).toBe(true)
      expect(KeyedMutex.isKeyedMutex({})).toBe(false)
      const scope = yield* Scope.make()
      yield* Scope.provide(KeyedMutex.lockScoped(locks, "file"), scope)
      const waiter = yield* start(Effect.succeed("after").pipe(KeyedMutex.withLock(locks, "file")))
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 1, waiting: 1 })
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.join(waiter)).toBe("after")
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect("reports keys held, waiters over all keys, acquisitions and wait time as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "KeyedMutex", name: "keyed-metrics" }
      const read = <S>(metric: Metric.Metric<number, S>) => Metric.value(Metric.withAttributes(metric, attrs))
      const locks = yield* KeyedMutex.make<string>({ name: "keyed-metrics", metrics: true })
      yield* Effect.gen(function*() {
        const holders = [
          yield* start(KeyedMutex.withLock(locks, "a", Effect.sleep(10))),
          yield* start(KeyedMutex.withLock(locks, "b", Effect.sleep(20)))
        ]
        const waiters = [
          yield* start(KeyedMutex.withLock(locks, "a", Effect.void)),
          yield* start(KeyedMutex.withLock(locks, "b", Effect.void))
        ]
        const leaver = yield* start(KeyedMutex.withLock(locks, "a", Effect.void))
        expect((yield* read(Metrics.inFlight)).value).toBe(2)
        expect((yield* read(Metrics.waiting)).value).toBe(3)
        yield* Fiber.interrupt(leaver)
        expect((yield* read(Metrics.waiting)).value).toBe(2)
        yield* Fiber.joinAll([...holders, ...waiters])
      }).pipe(VirtualTime.autojump)
      expect((yield* read(Metrics.inFlight)).value).toBe(0)
      expect((yield* read(Metrics.waiting)).value).toBe(0)
      expect((yield* read(Metrics.acquired)).count).toBe(4)
      expect(yield* read(Metrics.waitTime)).toMatchObject({ count: 4, min: 0, max: 20, sum: 30 })
      expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
    }))

  it.effect(
    "random interruptions over a few keys never break per-key exclusion and leave no entry",
    () =>
      Effect.gen(function*() {
        let interrupted = 0
        // seeds 1..100, then again with metrics on: the gauges must end idle too
        for (const metrics of [false, true]) {
          yield* Chaos.forEachSeed(100, (random) =>
            Effect.gen(function*() {
              const name = `random-${random.seed}`
              const locks = yield* KeyedMutex.make<string>(metrics ? { name, metrics } : undefined)
              const inside = new Map<string, number>()
              let violations = 0
              const section = (key: string) =>
                Effect.acquireUseRelease(
                  Effect.sync(() => {
                    const n = (inside.get(key) ?? 0) + 1
                    inside.set(key, n)
                    if (n > 1) violations++
                  }),
                  () => Effect.sleep(random.int(4) * 5),
                  () => Effect.sync(() => inside.set(key, inside.get(key)! - 1))
                )
              const run = Effect.gen(function*() {
                const fibers: Array<Fiber.Fiber<unknown>> = []
                for (let i = 0; i < 12; i++) {
                  const key = random.pick(["a", "b", "c"])
                  const kind = random.int(3)
                  const op = kind === 0
                    ? KeyedMutex.withLock(locks, key, section(key))
                    : kind === 1
                    ? Effect.scoped(Effect.andThen(KeyedMutex.lockScoped(locks, key), section(key)))
                    : KeyedMutex.withLockIfAvailable(locks, key, section(key))
                  const after = maybeInterruptAnother(random, fibers, i, 0.6)
                  fibers.push(
                    yield* Effect.forkChild(Effect.andThen(Effect.sleep(random.int(5) * 5), Effect.andThen(op, after)))
                  )
                }
                return yield* awaitWithInterrupters(fibers, () => random.chance(0.4) ? random.int(12) * 5 : undefined)
              })
              const exits = yield* LeakCheck.fibers(VirtualTime.autojump(run))
              expect(violations).toBe(0)
              expect([...inside.values()].every((n) => n === 0)).toBe(true)
              expect(yield* KeyedMutex.stats(locks)).toEqual({ size: 0, waiting: 0 })
              if (metrics) {
                const attrs = { primitive: "KeyedMutex", name }
                expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value, name).toBe(0)
                expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value, name).toBe(0)
              }
              expect(exits.every((e) => Exit.isSuccess(e) || isInterrupted(e))).toBe(true)
              interrupted += exits.filter(isInterrupted).length
            }))
        }
        expect(interrupted).toBeGreaterThan(100)
      }),
    30_000
  )
})
