import * as Health from "@async-ops/service/Health"
import * as Supervisor from "@async-ops/service/Supervisor"
import { LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Data, Deferred, Effect, Exit, Fiber, Layer, Metric, Ref, Schedule, Scope } from "effect"
import { TestClock } from "effect/testing"

class Crash extends Data.TaggedError("Crash")<{ readonly n: number }> {
  override get message() {
    return `crash #${this.n}`
  }
}

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/** A task that records the virtual time of each run and fails at once. */
const crashing = (runs: Ref.Ref<ReadonlyArray<number>>) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const all = yield* Ref.updateAndGet(runs, (r) => [...r, now])
    return yield* new Crash({ n: all.length })
  })

/** Waits (virtual time) until the task reaches one of `states`. */
const until = (sup: Supervisor.Supervisor, name: string, states: ReadonlyArray<Supervisor.TaskState>) =>
  VirtualTime.autojump(
    Effect.gen(function*() {
      while (!states.includes((yield* sup.get(name)).state)) yield* Effect.sleep("50 millis")
    })
  )

describe("Supervisor", () => {
  it.effect("restarts a crashing task on its backoff schedule and marks it failed past the cap", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make({ name: "workers" })
      const runs = yield* Ref.make<ReadonlyArray<number>>([])
      yield* sup.start("flaky", crashing(runs), {
        restart: Schedule.exponential("100 millis"),
        maxRestarts: { count: 3, within: "1 minute" }
      })
      yield* until(sup, "flaky", ["failed"])
      // first run at 0, restarts after 100, 200, 400 ms; the 4th failure exceeds the cap
      expect(yield* Ref.get(runs)).toEqual([0, 100, 300, 700])
      const info = yield* sup.get("flaky")
      expect(info).toEqual({
        name: "flaky",
        state: "failed",
        restarts: 3,
        lastError: "Crash: crash #4",
        startedAt: 700,
        createdAt: 0,
        endedAt: 700
      })
      expect(yield* sup.stats).toEqual({
        name: "workers",
        tasks: 1,
        starting: 0,
        running: 0,
        restarting: 0,
        stopped: 0,
        failed: 1,
        completed: 0,
        restarts: 3
      })
    }))

  it.effect("restarts older than the window do not count against the cap", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      const runs = yield* Ref.make<ReadonlyArray<number>>([])
      // crashes every 10 s; at most 1 restart per 15 s: the restart 10 s before each crash is still in the window
      yield* sup.start(
        "slow-crash",
        Effect.andThen(Effect.sleep("10 seconds"), crashing(runs)),
        { restart: Schedule.spaced("1 second"), maxRestarts: { count: 1, within: "15 seconds" } }
      )
      yield* until(sup, "slow-crash", ["failed"])
      // crash at 10 s -> restart at 11 s; crash at 21 s: restart at 11 s is within 15 s -> failed
      expect(yield* Ref.get(runs)).toEqual([10_000, 21_000])
      const sup2 = yield* Supervisor.make({ name: "wide" })
      const runs2 = yield* Ref.make<ReadonlyArray<number>>([])
      yield* sup2.start(
        "slow-crash",
        Effect.andThen(Effect.sleep("10 seconds"), crashing(runs2)),
        { restart: Schedule.spaced("1 second"), maxRestarts: { count: 1, within: "5 seconds" } }
      )
      // with a 5 s window every restart has aged out by the next crash: it keeps restarting
      yield* VirtualTime.autojump(Effect.sleep("60 seconds"))
      expect((yield* sup2.get("slow-crash")).restarts).toBe(5)
      expect((yield* sup2.get("slow-crash")).state).toBe("running")
    }))

  it.effect("restart: false fails the task at its first failure; a defect counts as a failure", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make({ restart: false })
      yield* sup.start("once", Effect.die(new Error("kaput")))
      yield* until(sup, "once", ["failed"])
      const info = yield* sup.get("once")
      expect([info.state, info.restarts, info.lastError]).toEqual(["failed", 0, "defect: kaput"])
    }))

  it.effect("a schedule that ends marks the task failed", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      const runs = yield* Ref.make<ReadonlyArray<number>>([])
      yield* sup.start("limited", crashing(runs), { restart: Schedule.recurs(2) })
      yield* until(sup, "limited", ["failed"])
      expect((yield* Ref.get(runs)).length).toBe(3)
      expect((yield* sup.get("limited")).restarts).toBe(2)
    }))

  it.effect("a task that returns is completed and not restarted", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      yield* sup.start("job", Effect.sleep("5 seconds"))
      expect((yield* sup.get("job")).state).toBe("running")
      yield* until(sup, "job", ["completed"])
      const info = yield* sup.get("job")
      expect([info.state, info.endedAt, info.restarts]).toEqual(["completed", 5000, 0])
    }))

  it.effect("shows restarting while it waits for the delay", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      const runs = yield* Ref.make<ReadonlyArray<number>>([])
      yield* sup.start("flaky", crashing(runs), { restart: Schedule.spaced("1 second") })
      yield* settle
      expect((yield* sup.get("flaky")).state).toBe("restarting")
      yield* TestClock.adjust("1 second")
      yield* settle
      expect((yield* Ref.get(runs)).length).toBe(2)
    }))

  it.effect("a duplicate live name fails with DuplicateTaskError; an ended one can be started again", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make({ name: "sup" })
      yield* sup.start("a", Effect.never)
      const error = yield* Effect.flip(sup.start("a", Effect.void))
      expect(error._tag).toBe("DuplicateTaskError")
      expect(error.message).toBe("sup: a task named \"a\" is already running")
      yield* sup.stop("a")
      yield* sup.start("a", Effect.never)
      expect((yield* sup.get("a")).state).toBe("running")
      expect((yield* sup.list).length).toBe(1)
    }))

  it.effect("stop interrupts the task, runs its finalizers and marks it stopped", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      const released = yield* Ref.make(false)
      yield* sup.start("svc", Effect.never.pipe(Effect.ensuring(Ref.set(released, true))))
      yield* settle
      yield* sup.stop("svc", { timeout: "1 second" })
      expect(yield* Ref.get(released)).toBe(true)
      expect((yield* sup.get("svc")).state).toBe("stopped")
      yield* sup.stop("svc") // already ended: nothing to do
      expect((yield* Effect.flip(sup.stop("nope")))._tag).toBe("TaskNotFoundError")
    }))

  it.effect("stop interrupts a task waiting for its restart delay", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      const runs = yield* Ref.make<ReadonlyArray<number>>([])
      yield* sup.start("flaky", crashing(runs), { restart: Schedule.spaced("1 hour") })
      yield* settle
      expect((yield* sup.get("flaky")).state).toBe("restarting")
      yield* sup.stop("flaky")
      expect((yield* sup.get("flaky")).state).toBe("stopped")
    }))

  it.effect("stop past its timeout fails with StopTimeoutError instead of hanging", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make({ name: "sup" })
      // A finalizer that blocks until released (a slow flush). Note: under TestClock, Effect.sleep inside an
      // interrupted fiber's finalizer does not block in effect 4.1, so the test holds it with a Deferred.
      const release = yield* Deferred.make<void>()
      yield* sup.start("stubborn", Effect.never.pipe(Effect.onInterrupt(() => Deferred.await(release))))
      yield* settle
      const stopping = yield* Effect.forkChild(Effect.flip(sup.stop("stubborn", { timeout: "2 seconds" })))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(stopping)
      expect(error._tag).toBe("StopTimeoutError")
      expect(error.message).toBe(
        "sup: task \"stubborn\" did not stop within 2s (it was interrupted and is still finishing)"
      )
      expect((yield* sup.get("stubborn")).state).toBe("running")
      yield* Deferred.succeed(release, undefined)
      yield* settle
      expect((yield* sup.get("stubborn")).state).toBe("stopped")
    }))

  it.effect("closing the scope stops every task, leaks no fiber, and refuses later starts", () =>
    Effect.gen(function*() {
      const released = yield* Ref.make(0)
      const scope = yield* Scope.make()
      const sup = yield* LeakCheck.fibers(Effect.gen(function*() {
        const sup = yield* Supervisor.make().pipe(Scope.provide(scope))
        const runs = yield* Ref.make<ReadonlyArray<number>>([])
        yield* sup.start("a", Effect.never.pipe(Effect.ensuring(Ref.update(released, (n) => n + 1))))
        yield* sup.start("b", Effect.never.pipe(Effect.ensuring(Ref.update(released, (n) => n + 1))))
        yield* sup.start("c", crashing(runs), { restart: Schedule.spaced("1 hour") })
        yield* settle
        yield* Scope.close(scope, Exit.void)
        return sup
      }))
      expect(yield* Ref.get(released)).toBe(2)
      expect((yield* sup.list).map((t) => t.state)).toEqual(["stopped", "stopped", "stopped"])
      expect((yield* Effect.flip(sup.start("d", Effect.never)))._tag).toBe("SupervisorClosedError")
    }))

  it.effect("interrupting a task from inside counts as stopped", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      yield* sup.start("self", Effect.interrupt)
      yield* settle
      expect((yield* sup.get("self")).state).toBe("stopped")
    }))

  it.effect("bad options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<Supervisor.Options> = [
        { name: "" },
        { maxEnded: -1 },
        { maxRestarts: { count: -1, within: "1 second" } },
        { maxRestarts: { count: 1.5, within: "1 second" } },
        { maxRestarts: { count: 1, within: 0 } },
        { restart: 42 as unknown as false }
      ]
      const makeErrors = yield* Effect.forEach(
        bad,
        (options) => Effect.map(Effect.flip(Supervisor.make(options)), (e) => e.option)
      )
      expect(makeErrors).toEqual([
        "name",
        "maxEnded",
        "maxRestarts.count",
        "maxRestarts.count",
        "maxRestarts.within",
        "restart"
      ])
      const sup = yield* Supervisor.make()
      const startError = yield* Effect.flip(sup.start("", Effect.void))
      expect(startError._tag === "InvalidOptionError" && startError.option).toBe("name")
      yield* sup.start("x", Effect.never)
      const stopError = yield* Effect.flip(sup.stop("x", { timeout: -1 }))
      expect(stopError._tag === "InvalidOptionError" && stopError.option).toBe("timeout")
    }))

  it.effect("keeps at most maxEnded ended tasks in the listing", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make({ maxEnded: 2 })
      for (const name of ["a", "b", "c"]) yield* sup.start(name, Effect.void)
      yield* sup.start("live", Effect.never)
      yield* settle
      expect((yield* sup.list).map((t) => `${t.name}:${t.state}`)).toEqual([
        "b:completed",
        "c:completed",
        "live:running"
      ])
    }))

  it.effect("the health check is degraded once a task failed", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make({ name: "workers", restart: false })
      yield* Health.register(Supervisor.healthCheck(sup))
      yield* sup.start("ok", Effect.never)
      expect((yield* Health.report("readiness")).status).toBe("healthy")
      yield* sup.start("bad", Effect.fail("boom"))
      yield* settle
      const report = yield* Health.report("readiness")
      expect([report.status, report.checks[0]?.name]).toEqual(["degraded", "workers"])
    }).pipe(Effect.provide(Health.layer)))

  it.effect("with metrics on, reports running tasks, restarts and failures per task", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make({ name: "metered", metrics: true })
      const attrs = { primitive: "Supervisor", name: "metered" }
      const running = Metric.withAttributes(Supervisor.runningGauge, attrs)
      const restarts = (task: string) => Metric.withAttributes(Supervisor.restartsCounter, { ...attrs, task })
      const failed = (task: string) => Metric.withAttributes(Supervisor.failedCounter, { ...attrs, task })
      expect((yield* Metric.value(running)).value).toBe(0)
      yield* sup.start("steady", Effect.never)
      yield* sup.start("flaky", crashing(yield* Ref.make<ReadonlyArray<number>>([])), {
        restart: Schedule.spaced("100 millis"),
        maxRestarts: { count: 2, within: "1 minute" }
      })
      yield* settle
      expect((yield* Metric.value(running)).value).toBe(1)
      yield* until(sup, "flaky", ["failed"])
      expect((yield* Metric.value(running)).value).toBe(1)
      expect((yield* Metric.value(restarts("flaky"))).count).toBe(2)
      expect((yield* Metric.value(failed("flaky"))).count).toBe(1)
      expect((yield* Metric.value(restarts("steady"))).count).toBe(0)
      yield* sup.stop("steady")
      expect((yield* Metric.value(running)).value).toBe(0)
      expect((yield* Metric.value(failed("steady"))).count).toBe(0)
      expect(yield* sup.stats).toMatchObject({ running: 0, failed: 1, stopped: 1, restarts: 2 })
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("with metrics off (the default), nothing is recorded", () =>
    Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      yield* Effect.gen(function*() {
        const sup = yield* Supervisor.make({ name: "quiet" })
        yield* sup.start("steady", Effect.never)
        yield* sup.start("flaky", crashing(yield* Ref.make<ReadonlyArray<number>>([])), {
          restart: Schedule.spaced("100 millis"),
          maxRestarts: { count: 2, within: "1 minute" }
        })
        yield* until(sup, "flaky", ["failed"])
        expect(yield* sup.stats).toMatchObject({ running: 1, failed: 1, restarts: 2 })
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, registry))
      expect([...registry.keys()]).toEqual([])
    }))

  it.effect("the layer provides the service and stops its tasks when released", () =>
    Effect.gen(function*() {
      const released = yield* Ref.make(false)
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Supervisor.layer({ name: "app" }), scope)
      const sup = Context.get(context, Supervisor.Supervisor)
      yield* sup.start("t", Effect.never.pipe(Effect.ensuring(Ref.set(released, true))))
      yield* settle
      yield* Scope.close(scope, Exit.void)
      expect([sup.name, yield* Ref.get(released)]).toEqual(["app", true])
    }))
})
