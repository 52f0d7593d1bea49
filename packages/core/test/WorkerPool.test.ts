import { InvalidOption, Metrics, WorkerPool } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Context,
  Data,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Metric,
  Ref,
  Schedule,
  Scope,
  Stream
} from "effect"
import { start } from "./support.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly item: number }> {}

const tags = <A, E>(letters: ReadonlyArray<WorkerPool.DeadLetter<A, E>>) =>
  letters.map((l) => [l._tag, l.item] as const)

describe("WorkerPool", () => {
  it.effect("every submitted item is handled, by at most `workers` handlers at once", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      const handled = yield* Ref.make<Array<number>>([])
      const stats = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 3,
          capacity: 5,
          handler: (n: number) =>
            probe.track(Effect.sleep(10 * (1 + (n % 3)))).pipe(Effect.andThen(Ref.update(handled, (xs) => [...xs, n])))
        })
        for (let i = 0; i < 20; i++) yield* pool.submit(i)
        yield* pool.drain
        return yield* pool.stats
      })).pipe(VirtualTime.autojump)
      expect((yield* Ref.get(handled)).toSorted((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect((yield* probe.stats).peak).toBe(3)
      expect(stats).toMatchObject({ submitted: 20, done: 20, failed: 0, active: 0, queued: 0, workers: 3 })
    }))

  it.effect("submit suspends while the queue is full, and submitIfAvailable returns false without waiting", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 1,
          handler: (_: number) => Deferred.await(release)
        })
        yield* pool.submit(1) // taken by the worker
        yield* Effect.yieldNow
        yield* pool.submit(2) // queued
        const blocked = yield* start(pool.submit(3))
        expect(blocked.pollUnsafe()).toBeUndefined()
        expect(yield* pool.submitIfAvailable(4)).toBe(false)
        expect(yield* pool.stats).toMatchObject({ active: 1, queued: 1, waitingSubmitters: 1, submitted: 2 })
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(blocked)
        yield* pool.drain
        expect(yield* pool.stats).toMatchObject({ done: 3, submitted: 3, waitingSubmitters: 0 })
        expect(yield* pool.submitIfAvailable(5)).toBe(true)
      }))
    }))

  it.effect("an interrupted submitter's item is never queued nor handled", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const handled: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 1,
          handler: (s: string) => Effect.andThen(Deferred.await(release), Effect.sync(() => handled.push(s)))
        })
        yield* pool.submit("a")
        yield* Effect.yieldNow
        yield* pool.submit("b")
        const ghost = yield* start(pool.submit("ghost"))
        yield* Fiber.interrupt(ghost)
        yield* Deferred.succeed(release, undefined)
        yield* pool.drain
        expect(yield* pool.stats).toMatchObject({ submitted: 2, done: 2, waitingSubmitters: 0 })
      }))
      expect(handled).toEqual(["a", "b"])
    }))

  it.effect("a typed failure is published on the dead-letter stream with its error and counted as failed", () =>
    Effect.gen(function*() {
      const pool = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 10,
          handler: (n: number) => n % 2 === 0 ? Effect.fail(new Boom({ item: n })) : Effect.void
        })
        yield* Effect.forEach([1, 2, 3, 4], pool.submit) // methods are bound
        yield* pool.drain
        expect(yield* pool.stats).toMatchObject({ done: 2, failed: 2, retried: 0 })
        return pool
      }))
      const letters = yield* Stream.runCollect(pool.failures)
      expect(letters.map((l) => l._tag === "Failure" ? [l.item, l.error, l.attempts] : l._tag)).toEqual([
        [2, new Boom({ item: 2 }), 1],
        [4, new Boom({ item: 4 }), 1]
      ])
    }))

  it.effect("a handler defect fails that item only: the worker keeps going", () =>
    Effect.gen(function*() {
      const handled: Array<number> = []
      const pool = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 10,
          handler: (n: number) =>
            Effect.sync(() => {
              if (n === 2) throw new Error("bug on 2")
              if (n === 4) return Effect.die("die on 4")
              handled.push(n)
              return Effect.void
            }).pipe(Effect.flatten)
        })
        yield* pool.submitAll([1, 2, 3, 4, 5])
        yield* pool.drain
        expect(yield* pool.stats).toMatchObject({ done: 3, failed: 2, workers: 1 })
        return pool
      }))
      expect(handled).toEqual([1, 3, 5])
      const letters = yield* Stream.runCollect(pool.failures)
      expect(tags(letters)).toEqual([["Defect", 2], ["Defect", 4]])
      expect(letters[0]?._tag === "Defect" && (letters[0].defect as Error).message).toBe("bug on 2")
      expect(letters[1]?._tag === "Defect" && letters[1].defect).toBe("die on 4")
    }))

  it.effect("a handler that throws synchronously (not inside an Effect) is a defect of that item only", () =>
    Effect.gen(function*() {
      const pool = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 10,
          handler: (n: number): Effect.Effect<void> => {
            if (n === 1) throw new Error("thrown")
            return Effect.void
          }
        })
        yield* pool.submitAll([1, 2])
        yield* pool.drain
        expect(yield* pool.stats).toMatchObject({ done: 1, failed: 1 })
        return pool
      }))
      expect(tags(yield* Stream.runCollect(pool.failures))).toEqual([["Defect", 1]])
    }))

  it.effect("a retry schedule retries typed failures, and an item that keeps failing is published after the last try", () =>
    Effect.gen(function*() {
      const attempts = new Map<string, number>()
      const pool = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 10,
          retry: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 2 })),
          handler: (item: string) =>
            Effect.suspend(() => {
              const n = (attempts.get(item) ?? 0) + 1
              attempts.set(item, n)
              if (item === "flaky" && n < 3) return Effect.fail("not yet")
              if (item === "bad") return Effect.fail(`bad #${n}`)
              if (item === "defect") return Effect.die("no retry for defects")
              return Effect.void
            })
        })
        yield* pool.submitAll(["ok", "flaky", "bad", "defect"])
        yield* pool.drain
        return pool
      })).pipe(VirtualTime.autojump)
      expect(Object.fromEntries(attempts)).toEqual({ ok: 1, flaky: 3, bad: 3, defect: 1 })
      expect(yield* pool.stats).toMatchObject({ done: 2, failed: 2, retried: 4 })
      const letters = yield* Stream.runCollect(pool.failures)
      expect(letters.map((l) => l._tag === "Failure" ? [l.item, l.error, l.attempts] : [l.item, l._tag])).toEqual([
        ["bad", "bad #3", 3],
        ["defect", "Defect"]
      ])
      // flaky: 2 pauses, bad: 2 pauses
      expect(yield* Clock.currentTimeMillis).toBe(400)
    }))

  it.effect("drain waits for every submitted item, including its retries, and leaves the pool open", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        let failedOnce = false
        const pool = yield* WorkerPool.make({
          workers: 2,
          capacity: 10,
          retry: Schedule.spaced("1 second"),
          handler: (n: number) =>
            Effect.andThen(
              Effect.sleep(n),
              Effect.suspend(() => (n === 50 && !failedOnce ? ((failedOnce = true), Effect.fail("once")) : Effect.void))
            )
        })
        yield* pool.submitAll([10, 50, 20])
        yield* pool.drain
        expect(yield* Clock.currentTimeMillis).toBe(1100)
        expect(yield* pool.stats).toMatchObject({ done: 3, retried: 1, state: "open", queued: 0, active: 0 })
        yield* pool.submit(5)
        yield* pool.drain
        expect(yield* pool.stats).toMatchObject({ done: 4 })
      })).pipe(VirtualTime.autojump)
    }))

  it.effect("closing the scope drains queued and running work first, then submit fails with WorkerPoolClosedError", () =>
    Effect.gen(function*() {
      const handled: Array<number> = []
      const pool = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          name: "jobs",
          workers: 2,
          capacity: 10,
          handler: (n: number) => Effect.andThen(Effect.sleep(10), Effect.sync(() => handled.push(n)))
        })
        yield* pool.submitAll([1, 2, 3, 4, 5, 6])
        return pool
      })).pipe(VirtualTime.autojump)
      expect(handled.toSorted()).toEqual([1, 2, 3, 4, 5, 6])
      expect(yield* Clock.currentTimeMillis).toBe(30)
      expect(yield* pool.stats).toMatchObject({ state: "closed", done: 6, queued: 0, active: 0, interrupted: 0 })
      const error = yield* Effect.flip(pool.submit(7))
      expect(error).toBeInstanceOf(WorkerPool.WorkerPoolClosedError)
      expect(error.message).toBe("WorkerPool \"jobs\" is closed")
      expect(yield* Effect.flip(pool.submitIfAvailable(7))).toMatchObject({ _tag: "WorkerPoolClosedError" })
      expect(yield* Effect.flip(pool.submitAll([7]))).toMatchObject({ _tag: "WorkerPoolClosedError" })
      expect(yield* Stream.runCollect(pool.failures)).toEqual([])
    }))

  it.effect("past closeTimeout the rest is cut off: running items are interrupted, queued ones dropped, all reported", () =>
    Effect.gen(function*() {
      const finalized: Array<number> = []
      const pool = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 10,
          closeTimeout: "150 millis",
          handler: (n: number) => Effect.sleep(100).pipe(Effect.onInterrupt(() => Effect.sync(() => finalized.push(n))))
        })
        yield* pool.submitAll([1, 2, 3, 4])
        return pool
      })).pipe(VirtualTime.autojump)
      expect(yield* Clock.currentTimeMillis).toBe(150)
      expect(finalized).toEqual([2])
      expect(yield* pool.stats).toMatchObject({ state: "closed", done: 1, failed: 0, interrupted: 3, active: 0 })
      const letters = yield* Stream.runCollect(pool.failures)
      expect(letters).toEqual([
        { _tag: "Interrupted", item: 3, started: false, attempts: 0 },
        { _tag: "Interrupted", item: 4, started: false, attempts: 0 },
        { _tag: "Interrupted", item: 2, started: true, attempts: 1 }
      ])
    }))

  it.effect("interrupting the fiber that owns the pool still drains the work before the scope ends", () =>
    Effect.gen(function*() {
      const handled: Array<number> = []
      yield* VirtualTime.autojump(Effect.gen(function*() {
        const submitted = yield* Deferred.make<void>()
        const owner = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make({
            workers: 1,
            capacity: 10,
            handler: (n: number) => Effect.andThen(Effect.sleep(10), Effect.sync(() => handled.push(n)))
          })
          yield* pool.submitAll([1, 2, 3])
          yield* Deferred.succeed(submitted, undefined)
          return yield* Effect.never
        })).pipe(Effect.forkChild)
        yield* Deferred.await(submitted)
        yield* Fiber.interrupt(owner)
      }))
      expect(handled).toEqual([1, 2, 3])
      expect(yield* Clock.currentTimeMillis).toBe(30)
    }))

  it.effect("the dead-letter stream can be read while the pool runs, and ends when the pool closes", () =>
    Effect.gen(function*() {
      const letters = yield* VirtualTime.autojump(Effect.gen(function*() {
        const scope = yield* Scope.make()
        const pool = yield* WorkerPool.make({
          workers: 2,
          capacity: 10,
          handler: (n: number) => Effect.andThen(Effect.sleep(n), Effect.fail(n))
        }).pipe(Scope.provide(scope))
        const reader = yield* Effect.forkChild(Stream.runCollect(pool.failures))
        yield* pool.submitAll([30, 10, 20])
        yield* Scope.close(scope, Exit.void)
        return yield* Fiber.join(reader)
      }))
      expect(letters.map((l) => l.item)).toEqual([10, 30, 20])
    }))

  it.effect("failuresCapacity keeps only the newest failures, while stats counts all of them", () =>
    Effect.gen(function*() {
      const pool = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 10,
          failuresCapacity: 2,
          handler: (n: number) => Effect.fail(n)
        })
        yield* pool.submitAll([1, 2, 3, 4])
        yield* pool.drain
        return pool
      }))
      expect((yield* Stream.runCollect(pool.failures)).map((l) => l.item)).toEqual([3, 4])
      expect(yield* pool.stats).toMatchObject({ failed: 4 })
    }))

  it.effect("with order priority, urgent items reach the workers first", () =>
    Effect.gen(function*() {
      const order: Array<string> = []
      const gate = yield* Deferred.make<void>()
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 1,
          capacity: 10,
          order: "priority",
          priority: (job: { readonly name: string; readonly urgency: number }) => job.urgency,
          handler: (job) =>
            Effect.andThen(
              job.name === "first" ? Deferred.await(gate) : Effect.void,
              Effect.sync(() => order.push(job.name))
            )
        })
        yield* pool.submit({ name: "first", urgency: 5 })
        yield* Effect.yieldNow
        yield* pool.submitAll([
          { name: "low", urgency: 9 },
          { name: "urgent", urgency: 0 },
          { name: "normal-a", urgency: 5 },
          { name: "normal-b", urgency: 5 }
        ])
        yield* Deferred.succeed(gate, undefined)
        yield* pool.drain
      }))
      expect(order).toEqual(["first", "urgent", "normal-a", "normal-b", "low"])
    }))

  it.effect("the handler runs with the services of the scope that made the pool", () =>
    Effect.gen(function*() {
      class Sink extends Context.Service<Sink, { readonly put: (n: number) => Effect.Effect<void> }>()("Sink") {}
      const seen: Array<number> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          workers: 2,
          capacity: 4,
          handler: (n: number) => Effect.flatMap(Sink, (sink) => sink.put(n))
        })
        yield* pool.submitAll([1, 2, 3])
        yield* pool.drain
      })).pipe(Effect.provideService(Sink, { put: (n) => Effect.sync(() => seen.push(n)) }))
      expect(seen.toSorted()).toEqual([1, 2, 3])
    }))

  it.effect("stats reports queued, active, done, failed, retried and workers", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          name: "stats",
          workers: 2,
          capacity: 10,
          handler: (n: number) => Effect.andThen(Deferred.await(gate), n < 0 ? Effect.fail(n) : Effect.void)
        })
        expect(yield* pool.stats).toEqual({
          name: "stats",
          state: "open",
          workers: 2,
          queued: 0,
          active: 0,
          waitingSubmitters: 0,
          submitted: 0,
          done: 0,
          failed: 0,
          interrupted: 0,
          retried: 0
        })
        yield* pool.submitAll([1, -2, 3])
        yield* Effect.yieldNow
        expect(yield* pool.stats).toMatchObject({ queued: 1, active: 2, submitted: 3 })
        yield* Deferred.succeed(gate, undefined)
        yield* pool.drain
        expect(yield* pool.stats).toMatchObject({ queued: 0, active: 0, done: 2, failed: 1 })
      }))
    }))

  it.effect("reports queue depth, active handlers, workers, items done and items failed as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "WorkerPool", name: "pool-metrics" }
      const gauge = (metric: Metric.Gauge<number>) =>
        Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (s) => s.value)
      const counter = (metric: Metric.Counter<number>) =>
        Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (s) => s.count)
      const release = yield* Deferred.make<void>()
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          name: "pool-metrics",
          metrics: true,
          workers: 2,
          capacity: 1,
          handler: (n: number) =>
            Effect.andThen(
              Deferred.await(release),
              n === 2 ? Effect.fail(new Boom({ item: n })) : n === 3 ? Effect.die("bad") : Effect.void
            )
        })
        expect(yield* gauge(Metrics.limit)).toBe(2)
        // the two idle workers wait in a take: they are not callers waiting
        expect((yield* pool.stats).workers).toBe(2)
        expect(yield* gauge(Metrics.waiting)).toBe(0)
        yield* pool.submitAll([1, 2])
        yield* Effect.yieldNow
        yield* pool.submit(3)
        const blocked = yield* start(pool.submit(4))
        expect(yield* gauge(Metrics.inFlight)).toBe(2)
        expect(yield* gauge(Metrics.queueDepth)).toBe(1)
        // waiting counts the blocked submitter
        expect(yield* gauge(Metrics.waiting)).toBe(1)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(blocked)
        yield* pool.drain
        expect(yield* gauge(Metrics.inFlight)).toBe(0)
        expect(yield* gauge(Metrics.queueDepth)).toBe(0)
        expect(yield* gauge(Metrics.waiting)).toBe(0)
      }))
      expect(yield* counter(Metrics.acquired)).toBe(2)
      expect(yield* counter(Metrics.rejected)).toBe(2)
    }))

  it.effect("closing a pool leaves no fiber behind", () =>
    Effect.gen(function*() {
      yield* LeakCheck.fibers(
        Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make({
            workers: 4,
            capacity: 2,
            closeTimeout: 25,
            handler: (n: number) => Effect.sleep(n)
          })
          yield* pool.submitAll([10, 20, 30, 40, 50, 60])
        })).pipe(VirtualTime.autojump)
      )
    }))

  it.effect("every submitted item ends as exactly one outcome under random failures, defects, timeouts and interruptions", () =>
    Effect.gen(function*() {
      let cutOff = 0
      let failed = 0
      let closedSubmits = 0
      // seeds 1..60, then again with metrics on: the gauges must end idle too
      for (const metrics of [false, true]) {
        yield* Chaos.forEachSeed(60, (random) =>
          Effect.gen(function*() {
            const name = `random-${random.seed}`
            const done: Array<number> = []
            const accepted: Array<number> = []
            const plan = Array.from({ length: 30 }, () => ({ ms: random.int(4) * 15, outcome: random.int(5) }))
            const pool = yield* LeakCheck.fibers(VirtualTime.autojump(Effect.gen(function*() {
              const scope = yield* Scope.make()
              const pool = yield* WorkerPool.make({
                ...(metrics ? { name, metrics } : {}),
                workers: 1 + random.int(3),
                capacity: 1 + random.int(4),
                ...(random.chance(0.6) ? { closeTimeout: random.int(6) * 10 } : {}),
                ...(random.chance(0.5) ? { retry: Schedule.recurs(1) } : {}),
                handler: (n: number) =>
                  Effect.andThen(
                    Effect.sleep(plan[n]!.ms),
                    Effect.suspend(() => {
                      const outcome = plan[n]!.outcome
                      if (outcome === 0) return Effect.fail(n)
                      if (outcome === 1) return Effect.die(n)
                      done.push(n)
                      return Effect.void
                    })
                  )
              }).pipe(Scope.provide(scope))
              const submitters: Array<Fiber.Fiber<void, WorkerPool.WorkerPoolClosedError>> = []
              for (let s = 0; s < 3; s++) {
                const ids = Array.from({ length: 10 }, (_, i) => s * 10 + i)
                submitters.push(
                  yield* Effect.forkChild(Effect.forEach(ids, (id) =>
                    Effect.andThen(
                      Effect.sleep(random.int(3) * 5),
                      Effect.andThen(pool.submit(id), Effect.sync(() => accepted.push(id)))
                    ), { discard: true }))
                )
              }
              // interrupt one submitter at a random time, then close the pool at a random time: submits still
              // running fail, the work is drained within closeTimeout, the rest is cut off
              yield* Effect.sleep(random.int(10) * 10)
              yield* Fiber.interrupt(random.pick(submitters))
              yield* Effect.sleep(random.int(10) * 10)
              yield* Scope.close(scope, Exit.void)
              const exits = yield* Effect.forEach(submitters, Fiber.await)
              closedSubmits += exits.filter((e) => Exit.isFailure(e) && !Cause.hasInterruptsOnly(e.cause)).length
              return pool
            })))
            const stats = yield* pool.stats
            const letters = yield* Stream.runCollect(pool.failures)
            expect(stats.submitted).toBe(accepted.length)
            expect(stats.done + stats.failed + stats.interrupted).toBe(accepted.length)
            expect(stats.failed + stats.interrupted).toBe(letters.length)
            expect(stats.done).toBe(done.length)
            const outcomes = [...done, ...letters.map((l) => l.item)].toSorted((a, b) => a - b)
            expect(outcomes).toEqual(accepted.toSorted((a, b) => a - b))
            expect(stats).toMatchObject({ state: "closed", active: 0, queued: 0, waitingSubmitters: 0 })
            if (metrics) {
              const attrs = { primitive: "WorkerPool", name }
              const gauge = (metric: Metric.Gauge<number>) =>
                Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (state) => state.value)
              const counter = (metric: Metric.Counter<number>) =>
                Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (state) => state.count)
              expect(yield* gauge(Metrics.queueDepth), name).toBe(0)
              expect(yield* gauge(Metrics.waiting), name).toBe(0)
              expect(yield* gauge(Metrics.inFlight), name).toBe(0)
              expect(yield* counter(Metrics.acquired), name).toBe(stats.done)
              expect(yield* counter(Metrics.rejected), name).toBe(stats.failed)
            }
            cutOff += stats.interrupted
            failed += stats.failed
          }))
      }
      // the schedules did exercise every path
      expect(cutOff).toBeGreaterThan(20)
      expect(failed).toBeGreaterThan(50)
      expect(closedSubmits).toBeGreaterThan(10)
    }))

  describe("options", () => {
    const handler = (_: number) => Effect.void
    const check = (options: WorkerPool.Options<number, never, never>, option: string) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(WorkerPool.make(options)))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(Effect.scoped(WorkerPool.make(options)))
        expect(error).toBeInstanceOf(InvalidOption.InvalidOptionError)
        expect(error).toMatchObject({ module: "WorkerPool.make", option })
      })

    it.effect("workers must be an integer >= 1", () =>
      Effect.gen(function*() {
        yield* check({ workers: 0, capacity: 1, handler }, "workers")
        yield* check({ workers: 2.5, capacity: 1, handler }, "workers")
        yield* check({ workers: undefined as never, capacity: 1, handler }, "workers")
      }))

    it.effect("capacity must be an integer >= 1 or \"unbounded\"", () =>
      Effect.gen(function*() {
        yield* check({ workers: 1, capacity: 0, handler }, "capacity")
        yield* check({ workers: 1, capacity: undefined as never, handler }, "capacity")
        const stats = yield* Effect.scoped(Effect.flatMap(
          WorkerPool.make({ workers: 1, capacity: "unbounded", handler }),
          (pool) => pool.stats
        ))
        expect(stats.workers).toBe(1)
      }))

    it.effect("handler must be a function", () => check({ workers: 1, capacity: 1, handler: 42 as never }, "handler"))

    it.effect("retry must be a Schedule", () =>
      check({ workers: 1, capacity: 1, handler, retry: { times: 3 } as never }, "retry"))

    it.effect("closeTimeout must be a duration >= 0", () =>
      Effect.gen(function*() {
        yield* check({ workers: 1, capacity: 1, handler, closeTimeout: -1 }, "closeTimeout")
        yield* check({ workers: 1, capacity: 1, handler, closeTimeout: "soon" as never }, "closeTimeout")
      }))

    it.effect("failuresCapacity must be an integer >= 1 or \"unbounded\"", () =>
      check({ workers: 1, capacity: 1, handler, failuresCapacity: 0 }, "failuresCapacity"))

    it.effect("order must be fifo, lifo or priority", () =>
      check({ workers: 1, capacity: 1, handler, order: "random" as never }, "order"))

    it.effect("priority is required with order priority", () =>
      check({ workers: 1, capacity: 1, handler, order: "priority" }, "priority"))
  })
})

describe("WorkerPool.isWorkerPool", () => {
  it.effect("tells a pool from other values", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ workers: 1, capacity: 1, handler: (_: number) => Effect.void })
      expect(WorkerPool.isWorkerPool(pool)).toBe(true)
      expect(WorkerPool.isWorkerPool({ submit: pool.submit })).toBe(false)
      expect(WorkerPool.isWorkerPool(undefined)).toBe(false)
    })))
})
