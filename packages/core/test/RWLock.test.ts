import { Deadline, Metrics, RWLock } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Data, Deferred, Effect, Exit, Fiber, Metric, Ref, Scope } from "effect"
import { awaitWithInterrupters, defectOf, isInterrupted, maybeInterruptAnother, start } from "./support.ts"

class Boom extends Data.TaggedError("Boom")<{}> {}

const idle = { readers: 0, writer: false, waitingReaders: 0, waitingWriters: 0 }

/** Counts readers and writers inside, and records any moment where a writer was not alone. */
const makeRoom = Effect.sync(() => {
  let readers = 0
  let writers = 0
  let violations = 0
  let peakReaders = 0
  const enter = (kind: "read" | "write") =>
    Effect.sync(() => {
      if (kind === "read") {
        readers++
        if (readers > peakReaders) peakReaders = readers
        if (writers > 0) violations++
      } else {
        writers++
        if (writers > 1 || readers > 0) violations++
      }
    })
  const leave = (kind: "read" | "write") =>
    Effect.sync(() => {
      if (kind === "read") readers--
      else writers--
    })
  return {
    use: <A, E, R>(kind: "read" | "write", effect: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(enter(kind), () => effect, () => leave(kind)),
    report: () => ({ readers, writers, violations, peakReaders })
  }
})

describe("RWLock", () => {
  it.effect("many readers hold the lock at once", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const probe = yield* ConcurrencyProbe.make
      yield* Effect.forEach(
        [1, 2, 3, 4, 5],
        () => RWLock.withReadLock(lock, probe.track(Effect.sleep(10))),
        { concurrency: "unbounded", discard: true }
      ).pipe(VirtualTime.autojump)
      expect((yield* probe.stats).peak).toBe(5)
      expect(yield* Clock.currentTimeMillis).toBe(10)
    }))

  it.effect("a writer runs alone: no reader or other writer overlaps it", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const room = yield* makeRoom
      yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) =>
          i % 3 === 0
            ? RWLock.withWriteLock(lock, room.use("write", Effect.sleep(10)))
            : RWLock.withReadLock(lock, room.use("read", Effect.sleep(10))),
        { concurrency: "unbounded", discard: true }
      ).pipe(VirtualTime.autojump)
      expect(room.report()).toMatchObject({ readers: 0, writers: 0, violations: 0 })
      expect(room.report().peakReaders).toBeGreaterThan(1)
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("a waiting writer blocks new readers, so a stream of readers cannot starve it", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const log = yield* Ref.make<Array<string>>([])
      const at = (label: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(log, (xs) => [...xs, `${label}@${t}`]))
      // A reader arrives every 5 ms and reads for 10 ms, so readers always overlap: without writer preference the
      // writer, arriving at 7 ms, would wait until the stream ends (105 ms).
      const readers = Array.from({ length: 20 }, (_, i) =>
        Effect.sleep(i * 5).pipe(
          Effect.andThen(RWLock.withReadLock(lock, Effect.andThen(at(`r${i}`), Effect.sleep(10))))
        ))
      const writer = Effect.sleep(7).pipe(
        Effect.andThen(RWLock.withWriteLock(lock, Effect.andThen(at("w"), Effect.sleep(10))))
      )
      yield* Effect.all([...readers, writer], { concurrency: "unbounded", discard: true }).pipe(VirtualTime.autojump)
      const entries = yield* Ref.get(log)
      // r0 (0-10) and r1 (5-15) were in when the writer came; r2 (arriving at 10) queued behind it.
      expect(entries.slice(0, 3)).toEqual(["r0@0", "r1@5", "w@15"])
      expect(entries[3]).toBe("r2@25")
    }))

  it.effect("when a writer releases, every reader that queued meanwhile gets in together, before the next writer", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const log = yield* Ref.make<Array<string>>([])
      const mark = (label: string) => Ref.update(log, (xs) => [...xs, label])
      const release = yield* Deferred.make<void>()
      const readersDone = yield* Deferred.make<void>()
      const w1 = yield* start(RWLock.withWriteLock(lock, Deferred.await(release)))
      const r1 = yield* start(RWLock.withReadLock(lock, Effect.andThen(mark("r1"), Deferred.await(readersDone))))
      const w2 = yield* start(RWLock.withWriteLock(lock, mark("w2")))
      const r2 = yield* start(RWLock.withReadLock(lock, Effect.andThen(mark("r2"), Deferred.await(readersDone))))
      expect(yield* RWLock.stats(lock)).toEqual({ readers: 0, writer: true, waitingReaders: 2, waitingWriters: 1 })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(w1)
      // r1 and r2 (which queued after w2) are in together; w2 waits for both
      expect(yield* RWLock.stats(lock)).toEqual({ readers: 2, writer: false, waitingReaders: 0, waitingWriters: 1 })
      yield* Deferred.succeed(readersDone, undefined)
      yield* Fiber.joinAll([r1, w2, r2])
      expect(yield* Ref.get(log)).toEqual(["r1", "r2", "w2"])
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("writers get the lock in the order they started waiting", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const order = yield* Ref.make<Array<number>>([])
      const release = yield* Deferred.make<void>()
      const reader = yield* start(RWLock.withReadLock(lock, Deferred.await(release)))
      const writers: Array<Fiber.Fiber<void>> = []
      for (const i of [2, 0, 1]) {
        writers.push(yield* start(RWLock.withWriteLock(lock, Ref.update(order, (xs) => [...xs, i]))))
      }
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.joinAll([reader, ...writers])
      expect(yield* Ref.get(order)).toEqual([2, 0, 1])
    }))

  it.effect("an interrupted waiting writer lets the readers queued behind it in", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const release = yield* Deferred.make<void>()
      const r0 = yield* start(RWLock.withReadLock(lock, Deferred.await(release)))
      const w = yield* start(RWLock.withWriteLock(lock, Effect.void))
      const r1 = yield* start(RWLock.withReadLock(lock, Effect.succeed("r1")))
      expect(yield* RWLock.stats(lock)).toEqual({ readers: 1, writer: false, waitingReaders: 1, waitingWriters: 1 })
      yield* Fiber.interrupt(w)
      expect(isInterrupted(yield* Fiber.await(w))).toBe(true)
      // r1 got in while r0 still reads
      expect(yield* Fiber.join(r1)).toBe("r1")
      expect((yield* RWLock.stats(lock)).readers).toBe(1)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(r0)
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("an interrupted waiting reader never gets the lock", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const ran = yield* Ref.make(false)
      const release = yield* Deferred.make<void>()
      const w = yield* start(RWLock.withWriteLock(lock, Deferred.await(release)))
      const r = yield* start(RWLock.withReadLock(lock, Ref.set(ran, true)))
      yield* Fiber.interrupt(r)
      expect((yield* RWLock.stats(lock)).waitingReaders).toBe(0)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(w)
      expect(yield* Ref.get(ran)).toBe(false)
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("a writer interrupted after the lock was handed to it, before it ran, passes the lock on", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const ran = yield* Ref.make<Array<string>>([])
      const release = yield* Deferred.make<void>()
      const r0 = yield* start(RWLock.withReadLock(lock, Deferred.await(release)))
      const w1 = yield* start(RWLock.withWriteLock(lock, Ref.update(ran, (xs) => [...xs, "w1"])))
      const w2 = yield* start(RWLock.withWriteLock(lock, Ref.update(ran, (xs) => [...xs, "w2"])))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(r0)
      expect(yield* RWLock.stats(lock)).toEqual({ readers: 0, writer: true, waitingReaders: 0, waitingWriters: 1 })
      yield* Fiber.interrupt(w1)
      yield* Fiber.join(w2)
      expect(yield* Ref.get(ran)).toEqual(["w2"])
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("a reader interrupted after being let in, before it ran, gives its share back", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const release = yield* Deferred.make<void>()
      const w1 = yield* start(RWLock.withWriteLock(lock, Deferred.await(release)))
      const r = yield* start(RWLock.withReadLock(lock, Effect.void))
      const w2 = yield* start(RWLock.withWriteLock(lock, Effect.succeed("w2")))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(w1)
      expect(yield* RWLock.stats(lock)).toEqual({ readers: 1, writer: false, waitingReaders: 0, waitingWriters: 1 })
      yield* Fiber.interrupt(r)
      expect(yield* Fiber.join(w2)).toBe("w2")
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("the lock is released when a reader or a writer succeeds, fails, dies or is interrupted", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      for (const with_ of [RWLock.withReadLock(lock), RWLock.withWriteLock(lock)]) {
        expect(yield* with_(Effect.succeed(1))).toBe(1)
        expect(yield* Effect.exit(with_(Effect.fail(new Boom())))).toEqual(Exit.fail(new Boom()))
        expect(defectOf(yield* Effect.exit(with_(Effect.die("bug"))))).toBe("bug")
        expect(yield* RWLock.stats(lock)).toEqual(idle)
        const holding = yield* Deferred.make<void>()
        const holder = yield* start(with_(Effect.andThen(Deferred.succeed(holding, undefined), Effect.never)))
        yield* Deferred.await(holding)
        yield* Fiber.interrupt(holder)
        expect(yield* RWLock.stats(lock)).toEqual(idle)
      }
    }))

  it.effect("taking the lock again inside Effect.timeout, Deadline.within or a joined child dies with RWLockReentryError", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const inChild: ReadonlyArray<(effect: Effect.Effect<void>) => Effect.Effect<unknown, unknown>> = [
        (effect: Effect.Effect<void>) => Effect.timeout(effect, "1 second"),
        (effect: Effect.Effect<void>) => Deadline.within(effect, "1 second"),
        (effect: Effect.Effect<void>) => Effect.flatMap(Effect.forkChild(effect), Fiber.join)
      ]
      const cases = [
        [RWLock.withReadLock(lock), RWLock.withWriteLock(lock), "write", "read"],
        [RWLock.withWriteLock(lock), RWLock.withReadLock(lock), "read", "write"],
        [RWLock.withWriteLock(lock), RWLock.withWriteLock(lock), "write", "write"],
        [RWLock.withReadLock(lock), RWLock.withReadLock(lock), "read", "read"]
      ] as const
      for (const wrap of inChild) {
        for (const [outer, inner, requested, held] of cases) {
          const exit = yield* Effect.exit(outer(wrap(inner(Effect.void)))).pipe(VirtualTime.autojump)
          const defect = defectOf(exit)
          expect(defect).toBeInstanceOf(RWLock.RWLockReentryError)
          expect(defect).toMatchObject({ requested, held })
          expect(yield* RWLock.stats(lock)).toEqual(idle)
        }
      }
    }))

  it.effect("taking the lock again from a fiber that holds it dies with RWLockReentryError", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const cases = [
        [RWLock.withReadLock(lock), RWLock.withReadLock(lock), "read", "read"],
        [RWLock.withReadLock(lock), RWLock.withWriteLock(lock), "write", "read"],
        [RWLock.withWriteLock(lock), RWLock.withReadLock(lock), "read", "write"],
        [RWLock.withWriteLock(lock), RWLock.withWriteLock(lock), "write", "write"]
      ] as const
      for (const [outer, inner, requested, held] of cases) {
        const defect = defectOf(yield* Effect.exit(outer(inner(Effect.void))))
        expect(defect).toBeInstanceOf(RWLock.RWLockReentryError)
        expect(defect).toMatchObject({ requested, held })
        expect((defect as Error).message).toBe(
          `RWLock: a fiber holding the ${held} lock tried to take the ${requested} lock; RWLock is not re-entrant and this would deadlock`
        )
        expect(yield* RWLock.stats(lock)).toEqual(idle)
      }
      // also when other readers hold the lock alongside
      const release = yield* Deferred.make<void>()
      const other = yield* start(RWLock.withReadLock(lock, Deferred.await(release)))
      for (const inner of [RWLock.withReadLock(lock), RWLock.withWriteLock(lock)]) {
        const defect = defectOf(yield* Effect.exit(RWLock.withReadLock(lock, inner(Effect.void))))
        expect(defect).toBeInstanceOf(RWLock.RWLockReentryError)
        expect((yield* RWLock.stats(lock)).readers).toBe(1)
      }
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(other)
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("the scoped variants hold the lock until the caller's scope closes", () =>
    Effect.gen(function*() {
      const lock = yield* RWLock.make
      const readScope = yield* Scope.make()
      yield* Scope.provide(RWLock.readLockScoped(lock), readScope)
      const writer = yield* start(RWLock.withWriteLock(lock, Effect.succeed("w")))
      expect(yield* RWLock.stats(lock)).toEqual({ readers: 1, writer: false, waitingReaders: 0, waitingWriters: 1 })
      yield* Scope.close(readScope, Exit.void)
      expect(yield* Fiber.join(writer)).toBe("w")

      const writeScope = yield* Scope.make()
      yield* Scope.provide(RWLock.writeLockScoped(lock), writeScope)
      const reader = yield* start(RWLock.withReadLock(lock, Effect.succeed("r")))
      expect(yield* RWLock.stats(lock)).toEqual({ readers: 0, writer: true, waitingReaders: 1, waitingWriters: 0 })
      yield* Scope.close(writeScope, Exit.void)
      expect(yield* Fiber.join(reader)).toBe("r")
      expect(yield* RWLock.stats(lock)).toEqual(idle)
    }))

  it.effect("reports holders, waiters, acquisitions and wait time as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "RWLock", name: "rwlock-metrics" }
      const read = <S>(metric: Metric.Metric<number, S>) => Metric.value(Metric.withAttributes(metric, attrs))
      const lock = yield* RWLock.makeWith({ name: "rwlock-metrics", metrics: true })
      yield* Effect.gen(function*() {
        const readers = [
          yield* start(RWLock.withReadLock(lock, Effect.sleep(25))),
          yield* start(RWLock.withReadLock(lock, Effect.sleep(25)))
        ]
        const writer = yield* start(RWLock.withWriteLock(lock, Effect.sleep(5)))
        const late = yield* start(RWLock.withReadLock(lock, Effect.void))
        const leaver = yield* start(RWLock.withWriteLock(lock, Effect.void))
        // in flight = readers + writer; waiting = waiting readers + writers
        expect((yield* read(Metrics.inFlight)).value).toBe(2)
        expect((yield* read(Metrics.waiting)).value).toBe(3)
        yield* Fiber.interrupt(leaver)
        expect((yield* read(Metrics.waiting)).value).toBe(2)
        yield* Fiber.joinAll(readers)
        expect((yield* read(Metrics.inFlight)).value).toBe(1)
        expect((yield* read(Metrics.waiting)).value).toBe(1)
        yield* Fiber.joinAll([writer, late])
      }).pipe(VirtualTime.autojump)
      expect((yield* read(Metrics.inFlight)).value).toBe(0)
      expect((yield* read(Metrics.waiting)).value).toBe(0)
      expect((yield* read(Metrics.acquired)).count).toBe(4)
      // the two readers did not wait; the writer waited 25 ms, the late reader 25 + 5 ms
      expect(yield* read(Metrics.waitTime)).toMatchObject({ count: 4, min: 0, max: 30, sum: 55 })
    }))

  it.effect("the data-last forms compose with pipe, and isRWLock recognises a lock", () =>
    Effect.gen(function*() {
      const lock = RWLock.makeUnsafe()
      expect(RWLock.isRWLock(lock)).toBe(true)
      expect(RWLock.isRWLock({})).toBe(false)
      expect(yield* Effect.succeed(1).pipe(RWLock.withReadLock(lock))).toBe(1)
      expect(yield* Effect.succeed(2).pipe(RWLock.withWriteLock(lock))).toBe(2)
      expect(yield* lock.withReadLock(Effect.succeed(3))).toBe(3)
    }))

  it.effect(
    "random interruptions of readers and writers never break exclusion and leave nothing held",
    () =>
      Effect.gen(function*() {
        let interrupted = 0
        // seeds 1..100, then again with metrics on: the gauges must end idle too
        for (const metrics of [false, true]) {
          yield* Chaos.forEachSeed(100, (random) =>
            Effect.gen(function*() {
              const name = `random-${random.seed}`
              const lock = metrics ? yield* RWLock.makeWith({ name, metrics }) : yield* RWLock.make
              const room = yield* makeRoom
              const run = Effect.gen(function*() {
                const fibers: Array<Fiber.Fiber<unknown>> = []
                for (let i = 0; i < 12; i++) {
                  const kind = random.chance(0.35) ? "write" : "read"
                  const section = room.use(kind, Effect.sleep(random.int(4) * 5))
                  const scoped = random.chance(0.3)
                  const op = kind === "write"
                    ? scoped
                      ? Effect.scoped(Effect.andThen(RWLock.writeLockScoped(lock), section))
                      : RWLock.withWriteLock(lock, section)
                    : scoped
                    ? Effect.scoped(Effect.andThen(RWLock.readLockScoped(lock), section))
                    : RWLock.withReadLock(lock, section)
                  // Some fibers interrupt another one right after releasing, in the same turn (possibly a fiber the
                  // lock was just handed to).
                  const after = maybeInterruptAnother(random, fibers, i, 0.6)
                  fibers.push(
                    yield* Effect.forkChild(Effect.andThen(Effect.sleep(random.int(5) * 5), Effect.andThen(op, after)))
                  )
                }
                return yield* awaitWithInterrupters(fibers, () => random.chance(0.4) ? random.int(12) * 5 : undefined)
              })
              const exits = yield* LeakCheck.fibers(VirtualTime.autojump(run))
              expect(room.report()).toMatchObject({ readers: 0, writers: 0, violations: 0 })
              expect(yield* RWLock.stats(lock)).toEqual(idle)
              if (metrics) {
                const attrs = { primitive: "RWLock", name }
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
