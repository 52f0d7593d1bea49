import { Condition, Deadline, Metrics, Mutex } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Option, Ref } from "effect"
import { awaitWithInterrupters, defectOf, isInterrupted, maybeInterruptAnother, settle, start } from "./support.ts"

/** Effect's combinators that run an effect in another fiber, each cutting it after 500 ms. */
const forkingCombinators: ReadonlyArray<
  readonly [string, (effect: Effect.Effect<void>) => Effect.Effect<unknown, unknown>]
> = [
  ["Effect.timeout", (effect) => Effect.timeout(effect, "500 millis")],
  ["Effect.race", (effect) => Effect.race(effect, Effect.sleep("500 millis"))],
  ["Deadline.within", (effect) => Deadline.within(effect, "500 millis")]
]

describe("Condition", () => {
  it.effect("wait releases the lock while waiting and holds it again when it returns", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const lockedAfterWait = yield* Ref.make(false)
      const waiter = yield* start(Condition.withLock(
        condition,
        Condition.wait(condition).pipe(
          Effect.andThen(Effect.flatMap(Mutex.stats(condition.mutex), (s) => Ref.set(lockedAfterWait, s.locked)))
        )
      ))
      // the waiter released the lock: another fiber can take it without waiting
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 1 })
      expect(yield* Mutex.withLockIfAvailable(condition.mutex, Condition.notify(condition))).toEqual(
        Option.some(undefined)
      )
      yield* Fiber.join(waiter)
      expect(yield* Ref.get(lockedAfterWait)).toBe(true)
      expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("a woken waiter takes the lock back only when the notifier releases it", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const log = yield* Ref.make<Array<string>>([])
      const mark = (s: string) => Ref.update(log, (xs) => [...xs, s])
      const waiter = yield* start(
        Condition.withLock(condition, Effect.andThen(Condition.wait(condition), mark("woke")))
      )
      yield* Condition.withLock(
        condition,
        Effect.gen(function*() {
          yield* Condition.notify(condition)
          yield* Effect.yieldNow
          yield* mark("notifier still holds the lock")
        })
      )
      yield* Fiber.join(waiter)
      expect(yield* Ref.get(log)).toEqual(["notifier still holds the lock", "woke"])
    }))

  it.effect("waitFor re-checks the predicate after every wake-up and returns once it holds", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const count = yield* Ref.make(0)
      const checked = yield* Effect.all(Array.from({ length: 4 }, () => Deferred.make<number>()))
      let checks = 0
      const predicate = Effect.flatMap(
        Ref.get(count),
        (n) => Effect.as(Deferred.succeed(checked[checks++]!, n), n >= 3)
      )
      const waiter = yield* start(Condition.withLock(condition, Condition.waitFor(condition, predicate)))
      for (let i = 1; i <= 3; i++) {
        // the waiter checked (and saw i - 1) and went back to waiting
        expect(yield* Deferred.await(checked[i - 1]!)).toBe(i - 1)
        expect(waiter.pollUnsafe()).toBeUndefined()
        yield* Condition.withLock(condition, Effect.andThen(Ref.set(count, i), Condition.notifyAll(condition)))
      }
      yield* Fiber.join(waiter)
      expect(yield* Deferred.await(checked[3]!)).toBe(3)
      expect(checks).toBe(4)
    }))

  it.effect("waitFor accepts a plain function and returns at once if it already holds", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      let ready = true
      yield* Condition.withLock(condition, condition.waitFor(() => ready))
      ready = false
      const waiter = yield* start(Condition.withLock(condition, condition.waitFor(() => ready)))
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 1 })
      ready = true
      yield* Condition.withLock(condition, Condition.notifyAll(condition))
      yield* Fiber.join(waiter)
    }))

  it.effect("notify(n) wakes the n longest waiters in order; notify() wakes one", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const woke = yield* Ref.make<Array<number>>([])
      const waiters: Array<Fiber.Fiber<void>> = []
      for (const i of [3, 0, 2, 1]) {
        waiters.push(
          yield* start(
            Condition.withLock(
              condition,
              Effect.andThen(Condition.wait(condition), Ref.update(woke, (xs) => [...xs, i]))
            )
          )
        )
      }
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 4 })
      yield* Condition.withLock(condition, Condition.notify(condition, 2))
      yield* Fiber.joinAll(waiters.slice(0, 2))
      expect(yield* Ref.get(woke)).toEqual([3, 0])
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 2 })
      yield* Condition.withLock(condition, Condition.notify(condition))
      yield* Fiber.join(waiters[2]!)
      expect(yield* Ref.get(woke)).toEqual([3, 0, 2])
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 1 })
      // more than are waiting wakes those that are
      yield* Condition.withLock(condition, Condition.notify(condition, 10))
      yield* Fiber.join(waiters[3]!)
      expect(yield* Ref.get(woke)).toEqual([3, 0, 2, 1])
    }))

  it.effect("notifyAll wakes every waiter, and they take the lock back one at a time in order", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const woke = yield* Ref.make<Array<number>>([])
      let inside = 0
      let peak = 0
      const waiters: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < 5; i++) {
        waiters.push(
          yield* start(Condition.withLock(
            condition,
            Condition.wait(condition).pipe(
              Effect.andThen(Effect.sync(() => {
                inside++
                peak = Math.max(peak, inside)
              })),
              Effect.andThen(Effect.yieldNow),
              Effect.andThen(Ref.update(woke, (xs) => [...xs, i])),
              Effect.andThen(Effect.sync(() => {
                inside--
              }))
            )
          ))
        )
      }
      yield* Condition.withLock(condition, Condition.notifyAll(condition))
      yield* Fiber.joinAll(waiters)
      expect(yield* Ref.get(woke)).toEqual([0, 1, 2, 3, 4])
      expect(peak).toBe(1)
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 0 })
    }))

  it.effect("an interrupted waiter takes the lock back before the interruption propagates", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const log = yield* Ref.make<Array<string>>([])
      const mark = (s: string) => Ref.update(log, (xs) => [...xs, s])
      const waiter = yield* start(Condition.withLock(
        condition,
        Condition.wait(condition).pipe(
          Effect.ensuring(
            Effect.flatMap(Mutex.stats(condition.mutex), (s) => mark(`finalizer sees locked=${s.locked}`))
          )
        )
      ))
      let interrupting: Fiber.Fiber<void> | undefined
      yield* Condition.withLock(
        condition,
        Effect.gen(function*() {
          // interrupt the waiter while this fiber holds the lock: the waiter must wait for it before ending
          interrupting = yield* start(Fiber.interrupt(waiter))
          yield* Effect.yieldNow
          expect(interrupting.pollUnsafe()).toBeUndefined()
          yield* mark("notifier releases")
        })
      )
      yield* Fiber.join(interrupting!)
      expect(isInterrupted(yield* Fiber.await(waiter))).toBe(true)
      expect(yield* Ref.get(log)).toEqual(["notifier releases", "finalizer sees locked=true"])
      expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 0 })
    }))

  it.effect("a notification received by a waiter interrupted before it woke goes to the next waiter", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const a = yield* start(Condition.withLock(condition, Condition.wait(condition)))
      const b = yield* start(Condition.withLock(condition, Effect.as(Condition.wait(condition), "b woke")))
      const interrupting = yield* Condition.withLock(
        condition,
        Effect.gen(function*() {
          yield* Condition.notify(condition)
          // `a` was notified but has not run: interrupting it now must not swallow the notification
          const interrupting = yield* start(Fiber.interrupt(a))
          expect(yield* Condition.stats(condition)).toEqual({ waiting: 0 })
          return interrupting
        })
      )
      yield* Fiber.join(interrupting)
      expect(isInterrupted(yield* Fiber.await(a))).toBe(true)
      expect(yield* Fiber.join(b)).toBe("b woke")
      expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("a waiter notified and then interrupted while it takes the lock back hands the notification on", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const items = yield* Ref.make<Array<string>>([])
      const consume = (name: string) =>
        Condition.withLock(
          condition,
          Effect.gen(function*() {
            yield* Condition.waitFor(condition, Effect.map(Ref.get(items), (xs) => xs.length > 0))
            const [item] = yield* Ref.getAndSet(items, [])
            return `${name} got ${item}`
          })
        )
      const a = yield* start(consume("a"))
      const b = yield* start(consume("b"))
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 2 })
      const interrupting = yield* Condition.withLock(
        condition,
        Effect.gen(function*() {
          yield* Ref.set(items, ["item"])
          yield* Condition.notify(condition)
          // `a` observes its notification and queues for the lock this fiber holds: interrupt it there
          yield* settle
          expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: true, waiting: 1 })
          expect(yield* Condition.stats(condition)).toEqual({ waiting: 1 })
          return yield* start(Fiber.interrupt(a))
        })
      )
      yield* Fiber.join(interrupting)
      expect(isInterrupted(yield* Fiber.await(a))).toBe(true)
      // `b` is woken in `a`'s place and consumes the item (before the fix it slept on)
      expect(yield* VirtualTime.autojump(Effect.timeoutOption(Fiber.join(b), "1 minute"))).toEqual(
        Option.some("b got item")
      )
      expect(yield* Ref.get(items)).toEqual([])
      expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 0 })
    }))

  for (const [name, cut] of forkingCombinators) {
    it.effect(`wait inside ${name} keeps the lock's ownership: cut short, it returns holding the lock`, () =>
      Effect.gen(function*() {
        const condition = yield* Condition.make()
        const [outcome, lockedAfter] = yield* Condition.withLock(
          condition,
          Effect.all([Effect.exit(cut(Condition.wait(condition))), Mutex.stats(condition.mutex)])
        ).pipe(VirtualTime.autojump)
        expect(defectOf(outcome)).toBeUndefined()
        expect(lockedAfter).toMatchObject({ locked: true, waiting: 0 })
        expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
        expect(yield* Condition.stats(condition)).toEqual({ waiting: 0 })
      }))

    it.effect(`wait inside ${name} is woken by notify and returns holding the lock`, () =>
      Effect.gen(function*() {
        const condition = yield* Condition.make()
        const waiter = yield* start(Condition.withLock(
          condition,
          Effect.andThen(cut(Condition.wait(condition)), Mutex.stats(condition.mutex))
        ))
        yield* settle
        expect(yield* Condition.stats(condition)).toEqual({ waiting: 1 })
        yield* Condition.withLock(condition, Condition.notify(condition))
        expect(yield* Fiber.join(waiter)).toMatchObject({ locked: true })
        expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
      }))
  }

  it.effect("wait and notify in a child forked and joined under the lock act for the lock's holder", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const inChild = <A, E>(effect: Effect.Effect<A, E>) => Effect.flatMap(Effect.forkChild(effect), Fiber.join)
      const waiter = yield* start(Condition.withLock(
        condition,
        Effect.andThen(inChild(Condition.wait(condition)), Effect.succeed("woke"))
      ))
      yield* settle
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 1 })
      yield* Condition.withLock(condition, inChild(Condition.notifyAll(condition)))
      expect(yield* Fiber.join(waiter)).toBe("woke")
      expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("waitFor and notify have data-last forms that behave as the data-first ones", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const ready = yield* Ref.make(false)
      const waiters = [
        yield* start(Condition.withLock(condition, Condition.waitFor(Ref.get(ready))(condition))),
        yield* start(Condition.withLock(condition, Condition.waitFor(() => true)(condition)))
      ]
      expect(yield* Condition.stats(condition)).toEqual({ waiting: 1 })
      yield* Condition.withLock(condition, Effect.andThen(Ref.set(ready, true), Condition.notify(1)(condition)))
      yield* Fiber.joinAll(waiters)
      expect(yield* Effect.flip(Condition.withLock(condition, Condition.notify(0)(condition)))).toMatchObject({
        _tag: "InvalidOptionError",
        option: "n"
      })
      expect(defectOf(yield* Effect.exit(Condition.notify(2)(condition)))).toBeInstanceOf(Condition.LockNotHeldError)
      expect(Condition.isCondition(condition)).toBe(true)
      expect(Condition.isCondition(condition.mutex)).toBe(false)
    }))

  it.effect("a fiber forked under the lock that runs after the lock was released does not hold it", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const child = yield* Condition.withLock(condition, Effect.forkChild(Effect.exit(Condition.notify(condition))))
      expect(defectOf(yield* Fiber.join(child))).toBeInstanceOf(Condition.LockNotHeldError)
    }))

  it.effect("wait, waitFor, notify and notifyAll without holding the lock die with LockNotHeldError", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      const cases = [
        ["wait", Condition.wait(condition)],
        ["waitFor", Condition.waitFor(condition, () => true)],
        ["notify", Condition.notify(condition)],
        ["notifyAll", Condition.notifyAll(condition)]
      ] as const
      for (const [operation, effect] of cases) {
        const defect = defectOf(yield* Effect.exit(effect))
        expect(defect).toBeInstanceOf(Condition.LockNotHeldError)
        expect((defect as Error).message).toBe(
          `Condition.${operation}: the calling fiber does not hold the condition's lock; call it inside Condition.withLock (or Mutex.withLock on the condition's mutex)`
        )
      }
      // held by another fiber is not held by the caller
      const release = yield* Deferred.make<void>()
      const holder = yield* start(Condition.withLock(condition, Deferred.await(release)))
      expect(defectOf(yield* Effect.exit(Condition.wait(condition)))).toBeInstanceOf(Condition.LockNotHeldError)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
    }))

  it.effect("notify with an n that is not an integer >= 1 fails with InvalidOptionError naming n", () =>
    Effect.gen(function*() {
      const condition = yield* Condition.make()
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(Condition.withLock(condition, Condition.notify(condition, bad)))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("n")
        expect(error.message).toContain("Condition.notify: option n must be an integer >= 1")
      }
    }))

  it.effect("conditions made on one mutex share it, and a lock taken with Mutex.withLock serves them", () =>
    Effect.gen(function*() {
      const mutex = yield* Mutex.make
      const notEmpty = yield* Condition.make(mutex)
      const notFull = Condition.makeUnsafe(mutex)
      expect(notEmpty.mutex).toBe(mutex)
      expect(notFull.mutex).toBe(mutex)
      expect(Condition.isCondition(notEmpty)).toBe(true)
      expect(Condition.isCondition(mutex)).toBe(false)
      const items = yield* Ref.make<Array<number>>([])
      const capacity = 2
      const put = (n: number) =>
        Mutex.withLock(
          mutex,
          Effect.gen(function*() {
            yield* Condition.waitFor(notFull, Effect.map(Ref.get(items), (xs) => xs.length < capacity))
            yield* Ref.update(items, (xs) => [...xs, n])
            yield* Condition.notify(notEmpty)
          })
        )
      const take = Mutex.withLock(
        mutex,
        Effect.gen(function*() {
          yield* Condition.waitFor(notEmpty, Effect.map(Ref.get(items), (xs) => xs.length > 0))
          const [head, ...rest] = yield* Ref.get(items)
          yield* Ref.set(items, rest)
          yield* Condition.notify(notFull)
          return head!
        })
      )
      const [, taken] = yield* Effect.all([
        Effect.forEach([1, 2, 3, 4, 5, 6], put, { discard: true }),
        Effect.forEach([1, 2, 3, 4, 5, 6], () => take)
      ], { concurrency: "unbounded" })
      expect(taken).toEqual([1, 2, 3, 4, 5, 6])
    }))

  it.effect("reports the fibers waiting to be notified as a metric when asked, with or without a mutex given", () =>
    Effect.gen(function*() {
      const waitingOf = (name: string) =>
        Effect.map(
          Metric.value(Metric.withAttributes(Metrics.waiting, { primitive: "Condition", name })),
          (state) => state.value
        )
      const condition = yield* Condition.make({ name: "condition-metrics", metrics: true })
      const waiters: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < 3; i++) waiters.push(yield* start(Condition.withLock(condition, Condition.wait(condition))))
      expect(yield* waitingOf("condition-metrics")).toBe(3)
      yield* Fiber.interrupt(waiters[0]!)
      expect(yield* waitingOf("condition-metrics")).toBe(2)
      yield* Condition.withLock(condition, Condition.notify(condition))
      expect(yield* waitingOf("condition-metrics")).toBe(1)
      yield* Condition.withLock(condition, Condition.notifyAll(condition))
      expect(yield* waitingOf("condition-metrics")).toBe(0)
      yield* Fiber.joinAll(waiters.slice(1))
      // bound to a given mutex, from either constructor
      const mutex = yield* Mutex.make
      const shared = yield* Condition.make(mutex, { name: "condition-shared", metrics: true })
      const unsafe = Condition.makeUnsafe(mutex, { name: "condition-unsafe", metrics: true })
      expect(shared.mutex).toBe(mutex)
      expect(unsafe.mutex).toBe(mutex)
      const waiter = yield* start(Mutex.withLock(mutex, Condition.wait(unsafe)))
      expect(yield* waitingOf("condition-unsafe")).toBe(1)
      expect(yield* waitingOf("condition-shared")).toBe(0)
      yield* Mutex.withLock(mutex, Condition.notify(unsafe))
      yield* Fiber.join(waiter)
      expect(yield* waitingOf("condition-unsafe")).toBe(0)
    }))

  it.effect(
    "random interruptions of waiters and notifiers leave the lock free and nobody waiting",
    () =>
      Effect.gen(function*() {
        let interrupted = 0
        // seeds 1..100, then again with metrics on: the gauges must end idle too
        for (const metrics of [false, true]) {
          yield* Chaos.forEachSeed(100, (random) =>
            Effect.gen(function*() {
              const name = `random-${random.seed}`
              const condition = yield* Condition.make(metrics ? { name, metrics } : undefined)
              let level = 0
              let violations = 0
              const run = Effect.gen(function*() {
                const fibers: Array<Fiber.Fiber<unknown>> = []
                for (let i = 0; i < 12; i++) {
                  const target = random.int(4)
                  const op = random.chance(0.5)
                    ? Condition.withLock(
                      condition,
                      Condition.waitFor(condition, () => level >= target).pipe(
                        Effect.andThen(Effect.sleep(random.int(3) * 5)),
                        // the lock is held after waitFor, also when interrupted
                        Effect.ensuring(Effect.flatMap(Mutex.stats(condition.mutex), (s) =>
                          Effect.sync(() => {
                            if (!s.locked) violations++
                          })))
                      )
                    )
                    : Condition.withLock(
                      condition,
                      Effect.sleep(random.int(3) * 5).pipe(
                        Effect.andThen(Effect.sync(() => level++)),
                        Effect.andThen(
                          random.chance(0.5) ? Condition.notifyAll(condition) : Condition.notify(condition)
                        )
                      )
                    )
                  const after = maybeInterruptAnother(random, fibers, i, 0.5)
                  fibers.push(
                    yield* Effect.forkChild(Effect.andThen(Effect.sleep(random.int(5) * 5), Effect.andThen(op, after)))
                  )
                }
                // Waiters whose target is never reached wait forever: interrupt everything still running at the end.
                return yield* awaitWithInterrupters(fibers, () => random.chance(0.4) ? random.int(12) * 5 : 200)
              })
              const exits = yield* LeakCheck.fibers(VirtualTime.autojump(run))
              expect(violations).toBe(0)
              expect(yield* Mutex.stats(condition.mutex)).toMatchObject({ locked: false, waiting: 0 })
              expect(yield* Condition.stats(condition)).toEqual({ waiting: 0 })
              if (metrics) {
                const attrs = { primitive: "Condition", name }
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
