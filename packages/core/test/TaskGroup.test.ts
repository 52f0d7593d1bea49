import { Metrics, TaskGroup } from "@async-ops/core"
import { ConcurrencyProbe, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Context, Data, Deferred, Effect, Exit, Fiber, Metric, Option, Ref } from "effect"

class Boom extends Data.TaggedError("Boom")<{ readonly n: number }> {}
class Other extends Data.TaggedError("Other")<{}> {}

const failuresOf = <E>(cause: Cause.Cause<E>): Array<unknown> =>
  cause.reasons.filter(Cause.isFailReason).map((r) => r.error)

const defectsOf = <E>(cause: Cause.Cause<E>): Array<unknown> =>
  cause.reasons.filter(Cause.isDieReason).map((r) => r.defect)

describe("TaskGroup", () => {
  it.effect("results of children are reachable through their handles after the group ends", () =>
    Effect.gen(function*() {
      const [a, b] = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          const a = yield* group.spawn(Effect.sleep(20).pipe(Effect.as("a")))
          const b = yield* group.spawn(Effect.sleep(10).pipe(Effect.as(2)))
          return [a, b] as const
        })
      ).pipe(VirtualTime.autojump)
      expect(a.pollUnsafe()).toEqual(Exit.succeed("a"))
      expect(yield* a.join).toBe("a")
      expect(yield* b.join).toBe(2)
      expect(yield* Clock.currentTimeMillis).toBe(20)
    }))

  it.effect("the group waits for every child even when the body returns first", () =>
    Effect.gen(function*() {
      const done = yield* Ref.make<Array<string>>([])
      const result = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.sleep(1000).pipe(Effect.andThen(Ref.update(done, (xs) => [...xs, "slow"]))))
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Ref.update(done, (xs) => [...xs, "fast"]))))
          return "body"
        })
      ).pipe(VirtualTime.autojump)
      expect(result).toBe("body")
      expect(yield* Ref.get(done)).toEqual(["fast", "slow"])
      expect(yield* Clock.currentTimeMillis).toBe(1000)
    }))

  it.effect("a child may spawn into the group, and the group waits for grandchildren", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<number>>([])
      yield* TaskGroup.scoped((group) => {
        const node = (depth: number): Effect.Effect<void, TaskGroup.TaskGroupAbortingError> =>
          Effect.gen(function*() {
            yield* Effect.sleep(10)
            yield* Ref.update(seen, (xs) => [...xs, depth])
            if (depth < 3) {
              // the spawning task ends right away: the grandchildren belong to the group, not to it
              yield* group.spawn(node(depth + 1))
              yield* group.spawn(node(depth + 1))
            }
          })
        return group.spawn(node(0))
      }).pipe(VirtualTime.autojump)
      const xs = yield* Ref.get(seen)
      expect(xs.length).toBe(1 + 2 + 4 + 8)
      expect(yield* Clock.currentTimeMillis).toBe(40)
    }))

  it.effect("one failing child interrupts its siblings and the body, runs their finalizers, and fails with that failure only", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<Array<string>>([])
      const mark = (name: string) => Ref.update(finalized, (xs) => [...xs, name])
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(mark("sibling-1"))))
          yield* group.spawn(Effect.sleep(5000).pipe(Effect.ensuring(mark("sibling-2"))))
          yield* group.spawn(Effect.sleep(100).pipe(Effect.andThen(Effect.fail(new Boom({ n: 1 })))))
          return yield* Effect.never.pipe(Effect.ensuring(mark("body")))
        })
      ).pipe(Effect.exit, VirtualTime.autojump)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(exit.cause.reasons.length).toBe(1)
        expect(failuresOf(exit.cause)).toEqual([new Boom({ n: 1 })])
        expect(Cause.hasInterrupts(exit.cause)).toBe(false)
      }
      expect((yield* Ref.get(finalized)).toSorted()).toEqual(["body", "sibling-1", "sibling-2"])
      expect(yield* Clock.currentTimeMillis).toBe(100)
    }))

  it.effect("two children failing in the same scheduler turn both appear in the Cause", () =>
    Effect.gen(function*() {
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.fail(new Boom({ n: 1 })))
          yield* group.spawn(Effect.fail(new Boom({ n: 2 })))
          yield* group.spawn(Effect.never)
        })
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(failuresOf(exit.cause)).toEqual([new Boom({ n: 1 }), new Boom({ n: 2 })])
        expect(Cause.hasInterrupts(exit.cause)).toBe(false)
      }
    }))

  it.effect("a failing body interrupts the children and the group fails with the body's error", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(Ref.update(finalized, (n) => n + 1))))
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(Ref.update(finalized, (n) => n + 1))))
          yield* Effect.sleep(50)
          return yield* new Other()
        })
      ).pipe(Effect.exit, VirtualTime.autojump)
      expect(exit).toEqual(Exit.fail(new Other()))
      expect(yield* Ref.get(finalized)).toBe(2)
    }))

  it.effect("interrupting the group's fiber interrupts every child, runs their finalizers, and the group ends interrupted", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const fiber = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          for (let i = 0; i < 3; i++) {
            yield* group.spawn(Effect.never.pipe(Effect.ensuring(Ref.update(finalized, (n) => n + 1))))
          }
          yield* group.spawn(Deferred.succeed(started, undefined))
          return yield* Effect.never
        })
      ).pipe(Effect.forkChild)
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      expect(yield* Ref.get(finalized)).toBe(3)
    }))

  it.effect("concurrency 2 never runs more than two children and still runs all of them, in spawn order", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      const stats = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          for (let i = 0; i < 10; i++) {
            yield* group.spawn(probe.track(Effect.sleep(10 * ((i % 3) + 1)), `t${i}`))
          }
          return yield* group.stats
        }), { concurrency: 2 }).pipe(VirtualTime.autojump)
      expect(stats.running + stats.pending).toBe(10)
      expect(stats.running).toBeLessThanOrEqual(2)
      const probeStats = yield* probe.stats
      expect(probeStats.peak).toBe(2)
      expect(probeStats.ended).toBe(10)
      const timeline = yield* probe.timeline
      expect(timeline.map((s) => s.label)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`))
    }))

  it.effect("supervise mode lets siblings finish and reports every failure when the group ends", () =>
    Effect.gen(function*() {
      const finished = yield* Ref.make<Array<string>>([])
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Effect.fail(new Boom({ n: 1 })))))
          yield* group.spawn(Effect.sleep(30).pipe(Effect.andThen(Ref.update(finished, (xs) => [...xs, "slow"]))))
          yield* group.spawn(Effect.sleep(20).pipe(Effect.andThen(Effect.fail(new Boom({ n: 2 })))))
          return "body"
        }), { mode: "supervise" }).pipe(Effect.exit, VirtualTime.autojump)
      expect(yield* Ref.get(finished)).toEqual(["slow"])
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(failuresOf(exit.cause)).toEqual([new Boom({ n: 1 }), new Boom({ n: 2 })])
      expect(yield* Clock.currentTimeMillis).toBe(30)
    }))

  it.effect("spawning after the group ended dies with a message naming the group as closed", () =>
    Effect.gen(function*() {
      const escaped = yield* TaskGroup.scoped((group) => Effect.succeed(group), { name: "uploads" })
      const exit = yield* Effect.exit(escaped.spawn(Effect.void))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const defect = exit.cause.reasons.find(Cause.isDieReason)?.defect
        expect(defect).toBeInstanceOf(TaskGroup.TaskGroupClosedError)
        expect((defect as Error).message).toBe(
          "TaskGroup \"uploads\" is closed: spawn was called after the group ended"
        )
      }
      expect((yield* escaped.stats).state).toBe("closed")
    }))

  it.effect("a 10,000-child group completes and leaves no fiber", () =>
    Effect.gen(function*() {
      const total = yield* Ref.make(0)
      const stats = yield* LeakCheck.fibers(
        TaskGroup.scoped((group) =>
          Effect.gen(function*() {
            for (let i = 0; i < 10_000; i++) {
              yield* group.spawn(Effect.sleep(i % 7).pipe(Effect.andThen(Ref.update(total, (n) => n + 1))))
            }
            return group
          })
        ).pipe(Effect.flatMap((group) => group.stats), VirtualTime.autojump)
      )
      expect(yield* Ref.get(total)).toBe(10_000)
      expect(stats).toMatchObject({ state: "closed", running: 0, pending: 0, succeeded: 10_000, failed: 0 })
    }), 60_000) // 10,000 tasks under virtual time: seconds on a busy 2-core machine

  it.effect(
    "a 10,000-child group at concurrency 100 completes, peaks at 100 and leaves no fiber",
    () =>
      Effect.gen(function*() {
        const probe = yield* ConcurrencyProbe.make
        yield* LeakCheck.fibers(
          TaskGroup.scoped((group) =>
            Effect.gen(function*() {
              for (let i = 0; i < 10_000; i++) yield* group.spawn(probe.track(Effect.sleep(1 + (i % 5))))
            }), { concurrency: 100 }).pipe(VirtualTime.autojump)
        )
        expect(yield* probe.stats).toMatchObject({ peak: 100, ended: 10_000, current: 0 })
      }),
    60_000
  ) // 10,000 tasks under virtual time: seconds on a busy 2-core machine

  it.effect("interrupting a task through its handle does not fail the group", () =>
    Effect.gen(function*() {
      const result = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          const forever = yield* group.spawn(Effect.never)
          const ok = yield* group.spawn(Effect.sleep(10).pipe(Effect.as(1)))
          yield* forever.interrupt
          const exit = yield* forever.await
          return [Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause), yield* ok.join] as const
        })
      ).pipe(VirtualTime.autojump)
      expect(result).toEqual([true, 1])
    }))

  it.effect("a task interrupted while waiting for a slot never starts", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make<Array<string>>([])
      const stats = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Ref.update(started, (xs) => [...xs, "first"]))))
          const waiting = yield* group.spawn(Ref.update(started, (xs) => [...xs, "cancelled"]))
          yield* group.spawn(Ref.update(started, (xs) => [...xs, "third"]))
          yield* waiting.interrupt
          const exit = yield* waiting.await
          expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
          return group
        }), { concurrency: 1 }).pipe(Effect.flatMap((g) => g.stats), VirtualTime.autojump)
      expect(yield* Ref.get(started)).toEqual(["first", "third"])
      expect(stats).toMatchObject({ succeeded: 2, interrupted: 1, pending: 0 })
    }))

  it.effect("waiting spawns are dropped, not started, when a failure cancels the group", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Effect.fail(new Boom({ n: 0 })))))
          for (let i = 0; i < 5; i++) yield* group.spawn(Ref.update(started, (n) => n + 1))
        }), { concurrency: 1 }).pipe(Effect.exit, VirtualTime.autojump)
      expect(exit).toEqual(Exit.fail(new Boom({ n: 0 })))
      expect(yield* Ref.get(started)).toBe(0)
    }))

  it.effect("reports running tasks, spawns waiting for a slot, the limit and tasks started as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "TaskGroup", name: "group-metrics" }
      const gauge = (metric: Metric.Gauge<number>) =>
        Effect.map(Metric.value(Metric.withAttributes(metric, attrs)), (s) => s.value)
      const started = Effect.map(Metric.value(Metric.withAttributes(Metrics.acquired, attrs)), (s) => s.count)
      const release = yield* Deferred.make<void>()
      yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          for (let i = 0; i < 4; i++) yield* group.spawn(Deferred.await(release))
          const dropped = yield* group.spawn(Deferred.await(release))
          expect(yield* gauge(Metrics.limit)).toBe(2)
          expect(yield* gauge(Metrics.inFlight)).toBe(2)
          expect(yield* gauge(Metrics.waiting)).toBe(3)
          expect(yield* started).toBe(2)
          yield* dropped.interrupt
          expect(yield* gauge(Metrics.waiting)).toBe(2)
          yield* Deferred.succeed(release, undefined)
        }), { name: "group-metrics", concurrency: 2, metrics: true })
      expect(yield* gauge(Metrics.inFlight)).toBe(0)
      expect(yield* gauge(Metrics.waiting)).toBe(0)
      expect(yield* started).toBe(4)
    }))

  it.effect("tasks run with the services of the fiber that spawned them", () =>
    Effect.gen(function*() {
      class Tenant extends Context.Service<Tenant, string>()("Tenant") {}
      const seen = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          const a = yield* group.spawn(Effect.gen(function*() {
            return yield* Tenant
          })).pipe(Effect.provideService(Tenant, "acme"))
          return yield* a.join
        }), { concurrency: 1 })
      expect(seen).toBe("acme")
    }))

  it.effect("typed errors of tasks reach the group's error type", () =>
    Effect.gen(function*() {
      const program = TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.fail(new Boom({ n: 7 })))
          yield* group.spawn(Effect.fail(new Other()))
          return 1
        })
      )
      // compile-time: the error union names both task errors
      // (and TaskGroupAbortingError, which a spawn in the body can fail with)
      const recovered: Effect.Effect<number | string, TaskGroup.TaskGroupAbortingError> = program.pipe(
        Effect.catchTags({
          Boom: (e) => Effect.succeed(`boom ${e.n}`),
          Other: () => Effect.succeed("other"),
          InvalidOptionError: (e) => Effect.succeed(e.message)
        })
      )
      expect(yield* recovered).toBe("boom 7")
    }))

  it.effect("invalid concurrency fails with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(TaskGroup.scoped(() => Effect.void, { concurrency: bad }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("concurrency")
        expect(error.message).toContain("TaskGroup.scoped: option concurrency")
      }
    }))

  it.effect("a task aborted by fail-fast whose finalizer dies: the group keeps the defect and no interruption", () =>
    Effect.gen(function*() {
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(Effect.die("task cleanup failed"))))
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Effect.fail(new Boom({ n: 1 })))))
          return yield* Effect.never
        })
      ).pipe(Effect.exit, VirtualTime.autojump)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(Cause.hasInterrupts(exit.cause)).toBe(false)
        expect(defectsOf(exit.cause)).toEqual(["task cleanup failed"])
        expect(failuresOf(exit.cause)).toEqual([new Boom({ n: 1 })])
      }
    }))

  it.effect("the body aborted by fail-fast whose finalizer dies: the group keeps the defect and no interruption", () =>
    Effect.gen(function*() {
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Effect.fail(new Boom({ n: 1 })))))
          return yield* Effect.never.pipe(Effect.ensuring(Effect.die("body cleanup failed")))
        })
      ).pipe(Effect.exit, VirtualTime.autojump)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(Cause.hasInterrupts(exit.cause)).toBe(false)
        expect(defectsOf(exit.cause)).toEqual(["body cleanup failed"])
        expect(failuresOf(exit.cause)).toEqual([new Boom({ n: 1 })])
      }
    }))

  it.effect("spawning from a task's finalizer while a failure aborts the group fails with TaskGroupAbortingError", () =>
    Effect.gen(function*() {
      const spawned: Array<Exit.Exit<unknown, unknown>> = []
      let ran = false
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(
            group.spawn(Effect.sync(() => {
              ran = true
            })).pipe(Effect.exit, Effect.flatMap((e) => Effect.sync(() => spawned.push(e))))
          )))
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Effect.fail(new Boom({ n: 1 })))))
        }), { name: "uploads" }).pipe(Effect.exit, VirtualTime.autojump)
      expect(exit).toEqual(Exit.fail(new Boom({ n: 1 })))
      expect(spawned).toEqual([Exit.fail(new TaskGroup.TaskGroupAbortingError({ group: "uploads" }))])
      expect(ran).toBe(false)
      const error = new TaskGroup.TaskGroupAbortingError({ group: "uploads" })
      expect(error.message).toBe("TaskGroup \"uploads\" is aborting: the task was not started")
    }))

  it.effect("the body's own TaskGroupAbortingError does not appear in the group's cause", () =>
    Effect.gen(function*() {
      const exit = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.fail(new Boom({ n: 1 })))
          // The failure is recorded in the next turn; the body keeps spawning until it is interrupted.
          for (let i = 0; i < 3; i++) yield* Effect.yieldNow
          return yield* group.spawn(Effect.void)
        })
      ).pipe(Effect.exit)
      expect(exit).toEqual(Exit.fail(new Boom({ n: 1 })))
    }))

  it.effect("cancel from a task interrupts the body and every task, runs finalizers, and succeeds with None", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make<Array<string>>([])
      const mark = (name: string) => Ref.update(finalized, (xs) => [...xs, name])
      const result = yield* TaskGroup.cancellable((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(mark("sibling"))))
          yield* group.spawn(
            Effect.sleep(10).pipe(
              Effect.andThen(group.cancel),
              Effect.andThen(mark("after cancel")),
              Effect.ensuring(mark("canceller"))
            )
          )
          return yield* Effect.never.pipe(Effect.as("body"), Effect.ensuring(mark("body")))
        })
      ).pipe(VirtualTime.autojump)
      expect(result).toEqual(Option.none())
      expect((yield* Ref.get(finalized)).toSorted()).toEqual(["body", "canceller", "sibling"])
      expect(yield* Clock.currentTimeMillis).toBe(10)
    }))

  it.effect("cancel after the body returned succeeds with Some of the body's value", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(0)
      const result = yield* TaskGroup.cancellable((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1))))
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(group.cancel)))
          return "body"
        })
      ).pipe(VirtualTime.autojump)
      expect(result).toEqual(Option.some("body"))
      expect(yield* Ref.get(interrupted)).toBe(1)
    }))

  it.effect("cancel from the body drops waiting spawns, and spawning afterwards fails with TaskGroupAbortingError", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make<Array<number>>([])
      const afterCancel: Array<Exit.Exit<unknown, unknown>> = []
      const result = yield* TaskGroup.cancellable((group) =>
        Effect.gen(function*() {
          for (let i = 0; i < 4; i++) {
            yield* group.spawn(Ref.update(started, (xs) => [...xs, i]).pipe(Effect.andThen(Effect.never)))
          }
          yield* Effect.sleep(5)
          expect(yield* group.stats).toMatchObject({ state: "open", running: 2, pending: 2 })
          yield* group.cancel.pipe(
            Effect.ensuring(
              group.spawn(Effect.void).pipe(Effect.exit, Effect.flatMap((e) => Effect.sync(() => afterCancel.push(e))))
            )
          )
          return "unreachable"
        }), { concurrency: 2, name: "cancelled" }).pipe(VirtualTime.autojump)
      expect(result).toEqual(Option.none())
      expect(yield* Ref.get(started)).toEqual([0, 1])
      expect(afterCancel).toEqual([Exit.fail(new TaskGroup.TaskGroupAbortingError({ group: "cancelled" }))])
    }))

  it.effect("a failure wins over a cancel, and a finalizer that dies during a cancel fails the group", () =>
    Effect.gen(function*() {
      const failed = yield* TaskGroup.cancellable((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(Effect.ignore(group.cancel))))
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(Effect.fail(new Boom({ n: 2 })))))
          return "body"
        })
      ).pipe(Effect.exit, VirtualTime.autojump)
      expect(failed).toEqual(Exit.fail(new Boom({ n: 2 })))
      const died = yield* TaskGroup.cancellable((group) =>
        Effect.gen(function*() {
          yield* group.spawn(Effect.never.pipe(Effect.ensuring(Effect.die("cleanup failed"))))
          yield* group.spawn(Effect.sleep(10).pipe(Effect.andThen(group.cancel)))
          return "body"
        })
      ).pipe(Effect.exit, VirtualTime.autojump)
      expect(Exit.isFailure(died)).toBe(true)
      if (Exit.isFailure(died)) {
        expect(defectsOf(died.cause)).toEqual(["cleanup failed"])
        expect(Cause.hasInterrupts(died.cause)).toBe(false)
      }
    }))

  it.effect("cancelling a group that has ended does nothing", () =>
    Effect.gen(function*() {
      const escaped = yield* TaskGroup.cancellable((group) => Effect.succeed(group))
      const group = Option.getOrThrow(escaped)
      yield* group.cancel
      expect((yield* group.stats).state).toBe("closed")
    }))

  it.effect("a spawned task starts on a later turn than its spawn, and tasks start in spawn order", () =>
    Effect.gen(function*() {
      const order: Array<string> = []
      yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          const a = yield* group.spawn(Effect.sync(() => {
            order.push("a")
            return "a"
          }))
          yield* group.spawn(Effect.sync(() => order.push("b")))
          expect(a.pollUnsafe()).toBeUndefined()
          order.push("body")
          yield* Effect.yieldNow
          order.push("body after a turn")
          expect(a.pollUnsafe()).toEqual(Exit.succeed("a"))
        })
      )
      expect(order).toEqual(["body", "a", "b", "body after a turn"])
    }))

  it.effect("isTaskGroup recognises a group", () =>
    Effect.gen(function*() {
      const [plain, cancellable] = yield* TaskGroup.scoped((group) =>
        Effect.map(TaskGroup.cancellable((inner) => Effect.succeed(TaskGroup.isTaskGroup(inner))), (c) =>
          [TaskGroup.isTaskGroup(group), c] as const)
      )
      expect(plain).toBe(true)
      expect(cancellable).toEqual(Option.some(true))
      expect(TaskGroup.isTaskGroup({
        spawn: () =>
          Effect.void
      })).toBe(false)
      expect(TaskGroup.isTaskGroup(undefined)).toBe(false)
    }))

  it.effect("a task interrupted through its handle before its first turn never runs", () =>
    Effect.gen(function*() {
      let ran = false
      const stats = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          const task = yield* group.spawn(Effect.sync(() => {
            ran = true
          }))
          yield* task.interrupt
          const exit = yield* task.await
          expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
          return group
        })
      ).pipe(Effect.flatMap((group) => group.stats))
      expect(ran).toBe(false)
      expect(stats).toMatchObject({ state: "closed", running: 0, succeeded: 0, interrupted: 1 })
    }))

  it.effect("a task that cancels the group in its first run: it ends as it ran, the unstarted ones never run", () =>
    Effect.gen(function*() {
      let ran = false
      const [result, stats] = yield* Effect.gen(function*() {
        let escaped: TaskGroup.CancellableTaskGroup | undefined
        const result = yield* TaskGroup.cancellable((group) =>
          Effect.gen(function*() {
            escaped = group
            yield* group.spawn(group.cancel)
            yield* group.spawn(Effect.sync(() => {
              ran = true
            }))
            return yield* Effect.never
          })
        )
        return [result, yield* escaped!.stats] as const
      })
      expect(result).toEqual(Option.none())
      expect(ran).toBe(false)
      expect(stats).toMatchObject({ state: "closed", running: 0, succeeded: 1, interrupted: 1, failed: 0 })
    }))

  it.effect("a task that cancels the group in its first run and then suspends is interrupted there", () =>
    Effect.gen(function*() {
      const after = yield* Ref.make(false)
      const result = yield* TaskGroup.cancellable((group) =>
        Effect.gen(function*() {
          yield* group.spawn(group.cancel.pipe(Effect.andThen(Effect.never), Effect.ensuring(Ref.set(after, true))))
          return yield* Effect.never
        })
      )
      expect(result).toEqual(Option.none())
      expect(yield* Ref.get(after)).toBe(true)
    }))
})
