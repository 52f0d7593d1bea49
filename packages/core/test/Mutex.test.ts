import { Deadline, Metrics, Mutex } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Data, Deferred, Effect, Exit, Fiber, Metric, Option, Ref, Scope } from "effect"
import {
  awaitWithInterrupters,
  defectOf,
  holdUntilReleased,
  isInterrupted,
  maybeInterruptAnother,
  start
} from "./support.ts"

class Boom extends Data.TaggedError("Boom")<{}> {}

describe("Mutex", () => {
  it.effect("only one fiber holds the lock at a time", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const probe = yield* ConcurrencyProbe.make
      yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        (i) => Mutex.withLock(mutex, probe.track(Effect.sleep(10), `t${i}`)),
        { concurrency: "unbounded", discard: true }
      ).pipe(VirtualTime.autojump)
      expect(yield* probe.stats).toMatchObject({ peak: 1, ended: 10, current: 0 })
      expect(yield* Clock.currentTimeMillis).toBe(100)
    }))

  it.effect("waiters get the lock in the order they started waiting", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const order = yield* Ref.make<Array<number>>([])
      const release = yield* Deferred.make<void>()
      const holder = yield* start(Mutex.withLock(mutex, Deferred.await(release)))
      const waiters: Array<Fiber.Fiber<void>> = []
      for (const i of [3, 1, 4, 0, 2]) {
        waiters.push(yield* start(Mutex.withLock(mutex, Ref.update(order, (xs) => [...xs, i]))))
      }
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: true, waiting: 5 })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.joinAll(waiters)
      expect(yield* Ref.get(order)).toEqual([3, 1, 4, 0, 2])
    }))

  it.effect("a release hands the lock to the longest waiter, so a newcomer cannot take it first", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const release = yield* Deferred.make<void>()
      const holder = yield* start(Mutex.withLock(mutex, Deferred.await(release)))
      const waiter = yield* start(Mutex.withLock(mutex, Effect.succeed("waiter")))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      // The waiter has not run yet, but the lock is already its own.
      expect(yield* Mutex.withLockIfAvailable(mutex, Effect.succeed("newcomer"))).toEqual(Option.none())
      expect(yield* Fiber.join(waiter)).toBe("waiter")
      expect(yield* Mutex.withLockIfAvailable(mutex, Effect.succeed("newcomer"))).toEqual(Option.some("newcomer"))
    }))

  it.effect("an interrupted waiter leaves the queue and never gets the lock", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const ran = yield* Ref.make<Array<string>>([])
      const release = yield* Deferred.make<void>()
      const holder = yield* start(Mutex.withLock(mutex, Deferred.await(release)))
      const a = yield* start(Mutex.withLock(mutex, Ref.update(ran, (xs) => [...xs, "a"])))
      const b = yield* start(Mutex.withLock(mutex, Ref.update(ran, (xs) => [...xs, "b"])))
      const c = yield* start(Mutex.withLock(mutex, Ref.update(ran, (xs) => [...xs, "c"])))
      yield* Fiber.interrupt(b)
      expect(isInterrupted(yield* Fiber.await(b))).toBe(true)
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: true, waiting: 2 })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.joinAll([holder, a, c])
      expect(yield* Ref.get(ran)).toEqual(["a", "c"])
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("a waiter interrupted after the lock was handed to it, before it ran, passes the lock on", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const ran = yield* Ref.make<Array<string>>([])
      const release = yield* Deferred.make<void>()
      const holder = yield* start(Mutex.withLock(mutex, Deferred.await(release)))
      const a = yield* start(Mutex.withLock(mutex, Ref.update(ran, (xs) => [...xs, "a"])))
      const b = yield* start(Mutex.withLock(mutex, Ref.update(ran, (xs) => [...xs, "b"])))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      // The lock now belongs to `a`, which has not run yet: interrupting it in this window must not lose the lock.
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: true, waiting: 1 })
      yield* Fiber.interrupt(a)
      expect(isInterrupted(yield* Fiber.await(a))).toBe(true)
      yield* Fiber.join(b)
      expect(yield* Ref.get(ran)).toEqual(["b"])
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("the lock is released when the holder succeeds, fails, dies or is interrupted", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      expect(yield* Mutex.withLock(mutex, Effect.succeed(1))).toBe(1)
      expect((yield* Mutex.stats(mutex)).locked).toBe(false)

      expect(yield* Effect.exit(Mutex.withLock(mutex, Effect.fail(new Boom())))).toEqual(Exit.fail(new Boom()))
      expect((yield* Mutex.stats(mutex)).locked).toBe(false)

      const died = yield* Effect.exit(Mutex.withLock(mutex, Effect.die("bug")))
      expect(defectOf(died)).toBe("bug")
      expect((yield* Mutex.stats(mutex)).locked).toBe(false)

      const lockedInFinalizer = yield* Ref.make(false)
      const holding = yield* Deferred.make<void>()
      const holder = yield* start(Mutex.withLock(
        mutex,
        Deferred.succeed(holding, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.ensuring(Effect.flatMap(Mutex.stats(mutex), (s) => Ref.set(lockedInFinalizer, s.locked)))
        )
      ))
      const next = yield* start(Mutex.withLock(mutex, Effect.succeed("next")))
      yield* Deferred.await(holding)
      yield* Fiber.interrupt(holder)
      expect(yield* Ref.get(lockedInFinalizer)).toBe(true)
      expect(yield* Fiber.join(next)).toBe("next")
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("locking again from the fiber that holds the lock dies with MutexReentryError instead of deadlocking", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      for (const again of [Mutex.withLock(mutex, Effect.void), Mutex.withLockIfAvailable(mutex, Effect.void)]) {
        const exit = yield* Effect.exit(Mutex.withLock(mutex, again))
        const defect = defectOf(exit)
        expect(defect).toBeInstanceOf(Mutex.MutexReentryError)
        expect((defect as Error).message).toBe(
          "Mutex: the fiber that holds the lock tried to lock it again; Mutex is not re-entrant and this would deadlock"
        )
        expect((yield* Mutex.stats(mutex)).locked).toBe(false)
      }
      const scoped = yield* Effect.exit(Effect.scoped(Effect.andThen(Mutex.lockScoped(mutex), Mutex.lockScoped(mutex))))
      expect(defectOf(scoped)).toBeInstanceOf(Mutex.MutexReentryError)
      expect((yield* Mutex.stats(mutex)).locked).toBe(false)
    }))

  it.effect("a fiber forked inside the section that runs after the section ended waits its turn like any other", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const release = yield* Deferred.make<void>()
      const other = yield* start(Deferred.await(release))
      const child = yield* Mutex.withLock(mutex, Effect.forkChild(Mutex.withLock(mutex, Effect.succeed("child"))))
      // the section is over: the child, which has not run yet, is not its holder any more
      const holder = yield* start(Mutex.withLock(mutex, Fiber.join(other)))
      yield* Effect.yieldNow
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: true, waiting: 1 })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect(yield* Fiber.join(child)).toBe("child")
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  const inChildren: ReadonlyArray<readonly [string, (effect: Effect.Effect<void>) => Effect.Effect<unknown, unknown>]> =
    [
      ["Effect.timeout", (effect: Effect.Effect<void>) => Effect.timeout(effect, "1 second")],
      // race keeps waiting for another racer when one fails: return the exit to see the defect
      ["Effect.race", (effect: Effect.Effect<void>) => Effect.flatten(Effect.race(Effect.exit(effect), Effect.never))],
      ["Deadline.within", (effect: Effect.Effect<void>) => Deadline.within(effect, "1 second")],
      [
        "Effect.forkChild + Fiber.join",
        (effect: Effect.Effect<void>) => Effect.flatMap(Effect.forkChild(effect), Fiber.join)
      ]
    ]
  for (const [name, inChild] of inChildren) {
    it.effect(`locking again inside ${name} (another fiber of the holder) dies with MutexReentryError`, () =>
      Effect.gen(function*() {
        const mutex = yield* Mutex.make
        for (const again of [Mutex.withLock(mutex, Effect.void), Effect.scoped(Mutex.lockScoped(mutex))]) {
          const exit = yield* Effect.exit(Mutex.withLock(mutex, inChild(again))).pipe(VirtualTime.autojump)
          expect(defectOf(exit)).toBeInstanceOf(Mutex.MutexReentryError)
          expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
        }
        const scoped = yield* Effect.exit(Effect.scoped(Effect.andThen(
          Mutex.lockScoped(mutex),
          inChild(Effect.asVoid(Mutex.withLockIfAvailable(mutex, Effect.void)))
        ))).pipe(VirtualTime.autojump)
        expect(defectOf(scoped)).toBeInstanceOf(Mutex.MutexReentryError)
        expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
      }))
  }

  it.effect("withLockIfAvailable runs the effect when the lock is free and returns none at once when it is held", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      expect(yield* Mutex.withLockIfAvailable(mutex, Effect.succeed(1))).toEqual(Option.some(1))
      const release = yield* Deferred.make<void>()
      const holder = yield* start(Mutex.withLock(mutex, Deferred.await(release)))
      const ran = yield* Ref.make(false)
      expect(yield* Mutex.withLockIfAvailable(mutex, Ref.set(ran, true))).toEqual(Option.none())
      expect(yield* Ref.get(ran)).toBe(false)
      expect((yield* Mutex.stats(mutex)).waiting).toBe(0)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      // released also when the effect fails
      const failed = yield* Effect.exit(Mutex.withLockIfAvailable(mutex, Effect.fail(new Boom())))
      expect(failed).toEqual(Exit.fail(new Boom()))
      expect((yield* Mutex.stats(mutex)).locked).toBe(false)
    }))

  it.effect("lockScoped holds the lock until the caller's scope closes", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const scope = yield* Scope.make()
      yield* Scope.provide(Mutex.lockScoped(mutex), scope)
      const waiter = yield* start(Mutex.withLock(mutex, Effect.succeed("after")))
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: true, waiting: 1 })
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.join(waiter)).toBe("after")
      expect((yield* Mutex.stats(mutex)).locked).toBe(false)
    }))

  it.effect("lockScoped interrupted while waiting leaves the queue and adds no finalizer", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const release = yield* Deferred.make<void>()
      const holder = yield* start(Mutex.withLock(mutex, Deferred.await(release)))
      const scope = yield* Scope.make()
      const waiting = yield* start(Scope.provide(Mutex.lockScoped(mutex), scope))
      expect((yield* Mutex.stats(mutex)).waiting).toBe(1)
      yield* Fiber.interrupt(waiting)
      expect((yield* Mutex.stats(mutex)).waiting).toBe(0)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("stats counts acquisitions and those that had to wait", () =>
    Effect.gen(function*() {
      const mutex = Mutex.makeUnsafe()
      expect(Mutex.isMutex(mutex)).toBe(true)
      expect(Mutex.isMutex({})).toBe(false)
      expect(yield* Mutex.stats(mutex)).toEqual({ locked: false, waiting: 0, acquired: 0, contended: 0 })
      yield* Effect.all([1, 2, 3].map(() => Mutex.withLock(mutex, Effect.sleep(10))), { concurrency: "unbounded" })
        .pipe(VirtualTime.autojump)
      expect(yield* Mutex.stats(mutex)).toEqual({ locked: false, waiting: 0, acquired: 3, contended: 2 })
    }))

  it.effect("reports in flight, waiting, acquisitions and wait time as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "Mutex", name: "mutex-metrics" }
      const read = <S>(metric: Metric.Metric<number, S>) => Metric.value(Metric.withAttributes(metric, attrs))
      const mutex = yield* Mutex.makeWith({ name: "mutex-metrics", metrics: true })
      yield* Effect.gen(function*() {
        const holder = yield* start(Mutex.withLock(mutex, Effect.sleep(25)))
        const waiter = yield* start(Mutex.withLock(mutex, Effect.void))
        const leaver = yield* start(Mutex.withLock(mutex, Effect.void))
        expect((yield* read(Metrics.inFlight)).value).toBe(1)
        expect((yield* read(Metrics.waiting)).value).toBe(2)
        yield* Fiber.interrupt(leaver)
        expect((yield* read(Metrics.waiting)).value).toBe(1)
        yield* Fiber.joinAll([holder, waiter])
      }).pipe(VirtualTime.autojump)
      expect((yield* read(Metrics.inFlight)).value).toBe(0)
      expect((yield* read(Metrics.waiting)).value).toBe(0)
      expect((yield* read(Metrics.acquired)).count).toBe(2)
      // one sample per acquisition, on the fiber's (virtual) clock: 0 for the holder, 25 ms for the waiter
      expect(yield* read(Metrics.waitTime)).toMatchObject({ count: 2, min: 0, max: 25 })
      // a lock made without options reports nothing; one made with makeUnsafe reports to the default registry
      yield* Mutex.withLock(yield* Mutex.make, Effect.void)
      expect(
        (yield* Metric.value(Metric.withAttributes(Metrics.acquired, { primitive: "Mutex", name: "Mutex" })))
          .count
      ).toBe(0)
      yield* Mutex.withLock(Mutex.makeUnsafe({ name: "mutex-unsafe", metrics: true }), Effect.void)
      expect(
        (yield* Metric.value(Metric.withAttributes(Metrics.acquired, { primitive: "Mutex", name: "mutex-unsafe" })))
          .count
      ).toBe(1)
    }))

  it.effect("the data-last form composes with pipe", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      expect(yield* Effect.succeed(2).pipe(Mutex.withLock(mutex))).toBe(2)
      expect(yield* Effect.succeed(3).pipe(Mutex.withLockIfAvailable(mutex))).toEqual(Option.some(3))
      expect(yield* mutex.withLock(Effect.succeed(4))).toBe(4)
    }))

  it.effect("100,000 fibers waiting on one mutex all get it, in order", () =>
    Effect.gen(function*() {
      const n = 100_000
      const mutex = yield* Mutex.make
      let next = 0
      let outOfOrder = 0
      // a holder keeps the lock while the waiters queue (forked from outside its section: a fiber forked inside
      // would be part of the section, and taking the lock there dies with MutexReentryError)
      const { release, fiber: holder } = yield* holdUntilReleased(Mutex.withLock(mutex))
      const fibers: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < n; i++) {
        fibers.push(
          yield* start(Mutex.withLock(
            mutex,
            Effect.sync(() => {
              if (next++ !== i) outOfOrder++
            })
          ))
        )
      }
      expect((yield* Mutex.stats(mutex)).waiting).toBe(n)
      yield* release
      yield* Fiber.join(holder)
      yield* Fiber.joinAll(fibers)
      expect(next).toBe(n)
      expect(outOfOrder).toBe(0)
      expect(yield* Mutex.stats(mutex)).toEqual({ locked: false, waiting: 0, acquired: n + 1, contended: n })
    }), 5_000)

  it.effect(
    "random interruptions of waiters and holders never break exclusion and leave nothing held",
    () =>
      Effect.gen(function*() {
        let interrupted = 0
        let succeeded = 0
        // seeds 1..100, then again with metrics on: the gauges must end idle too
        for (const metrics of [false, true]) {
          yield* Chaos.forEachSeed(100, (random) =>
            Effect.gen(function*() {
              const name = `random-${random.seed}`
              const mutex = metrics ? yield* Mutex.makeWith({ name, metrics }) : yield* Mutex.make
              const probe = yield* ConcurrencyProbe.make
              const completed = yield* Ref.make(0)
              const run = Effect.gen(function*() {
                const fibers: Array<Fiber.Fiber<unknown>> = []
                for (let i = 0; i < 12; i++) {
                  const section = probe.track(Effect.sleep(random.int(4) * 5)).pipe(
                    Effect.andThen(Ref.update(completed, (n) => n + 1))
                  )
                  const kind = random.int(3)
                  const op = kind === 0
                    ? Mutex.withLock(mutex, section)
                    : kind === 1
                    ? Effect.scoped(Effect.andThen(Mutex.lockScoped(mutex), section))
                    : Mutex.withLockIfAvailable(mutex, section)
                  // Some fibers interrupt another one right after releasing, in the same turn: if the victim is the
                  // waiter the lock was just handed to, it is interrupted before it could observe the grant.
                  const after = maybeInterruptAnother(random, fibers, i, 0.6)
                  fibers.push(
                    yield* Effect.forkChild(Effect.andThen(Effect.sleep(random.int(5) * 5), Effect.andThen(op, after)))
                  )
                }
                return yield* awaitWithInterrupters(fibers, () => random.chance(0.5) ? random.int(12) * 5 : undefined)
              })
              const exits = yield* LeakCheck.fibers(VirtualTime.autojump(run))
              const probeStats = yield* probe.stats
              expect(probeStats.peak).toBeLessThanOrEqual(1)
              expect(probeStats.current).toBe(0)
              expect(yield* Mutex.stats(mutex)).toMatchObject({ locked: false, waiting: 0 })
              if (metrics) {
                const attrs = { primitive: "Mutex", name }
                expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value, name).toBe(0)
                expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value, name).toBe(0)
                expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count, name)
                  .toBe((yield* Mutex.stats(mutex)).acquired)
              }
              // every section that started ended, completed or interrupted; nothing else happened to the fibers
              expect(exits.every((e) => Exit.isSuccess(e) || isInterrupted(e))).toBe(true)
              const succeededSections = yield* Ref.get(completed)
              expect(succeededSections).toBeLessThanOrEqual(probeStats.ended)
              interrupted += exits.filter(isInterrupted).length
              succeeded += succeededSections
            }))
        }
        // the schedules did exercise both paths
        expect(interrupted).toBeGreaterThan(100)
        expect(succeeded).toBeGreaterThan(100)
      }),
    30_000
  )
})
