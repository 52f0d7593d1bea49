import { Limiter, Registry, TaskGroup } from "@async-ops/core"
import * as EventLoopMonitor from "@async-ops/service/EventLoopMonitor"
import * as Introspection from "@async-ops/service/Introspection"
import * as Periodic from "@async-ops/service/Periodic"
import * as Shutdown from "@async-ops/service/Shutdown"
import * as Supervisor from "@async-ops/service/Supervisor"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Layer, Schedule, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import { get } from "./support.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

const withRegistry = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Effect.provide(Introspection.layer))

describe("Introspection", () => {
  it.effect("lists the live tasks of a supervisor in context, with owner, state and age", () =>
    withRegistry(Effect.gen(function*() {
      expect(yield* Introspection.tasks).toEqual([])
      const sup = yield* Supervisor.make({ name: "workers" })
      yield* sup.start("consumer", Effect.never)
      yield* TestClock.adjust("1500 millis")
      yield* sup.start("flaky", Effect.fail("boom"), { restart: Schedule.spaced("1 minute") })
      yield* settle
      yield* TestClock.adjust("500 millis")
      expect(yield* Introspection.tasks).toEqual([
        { name: "consumer", owner: "workers", kind: "Supervisor", state: "running", ageMs: 2000 },
        { name: "flaky", owner: "workers", kind: "Supervisor", state: "restarting", ageMs: 500 }
      ])
      expect(yield* Introspection.stats).toEqual({ sources: 1, tasks: 2 })
    })))

  it.effect("a supervisor's tasks leave the listing when they end, and the supervisor when its scope closes", () =>
    withRegistry(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const sup = yield* Supervisor.make({ name: "jobs" }).pipe(Scope.provide(scope))
      yield* sup.start("short", Effect.sleep("1 second"))
      yield* sup.start("long", Effect.never)
      yield* settle
      expect((yield* Introspection.tasks).map((t) => t.name)).toEqual(["short", "long"])
      yield* TestClock.adjust("1 second")
      yield* settle
      expect((yield* Introspection.tasks).map((t) => t.name)).toEqual(["long"])
      yield* sup.stop("long")
      expect(yield* Introspection.tasks).toEqual([])
      yield* Scope.close(scope, Exit.void)
      expect(yield* Introspection.stats).toEqual({ sources: 0, tasks: 0 })
    })))

  it.effect("a supervisor without a registry in context works and registers nothing", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.make()
      yield* sup.start("a", Effect.never)
      expect((yield* sup.list).length).toBe(1)
    }))

  it.effect("tracks the running tasks of a TaskGroup until they end", () =>
    withRegistry(Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const observed = yield* TaskGroup.scoped((group) =>
        Effect.gen(function*() {
          yield* Introspection.track("crawler", group)
          yield* group.spawn(Effect.sleep("2 seconds"), { name: "fetch-a" })
          yield* TestClock.adjust("1 second")
          yield* group.spawn(Deferred.await(release), { name: "fetch-b" })
          yield* settle
          yield* TestClock.adjust("500 millis")
          const both = yield* Introspection.tasks
          yield* TestClock.adjust("500 millis")
          yield* settle
          const one = yield* Introspection.tasks
          yield* Deferred.succeed(release, undefined)
          yield* settle
          const none = yield* Introspection.tasks
          return { both, one, none }
        }).pipe(Effect.scoped)
      )
      expect(observed.both).toEqual([
        { name: "fetch-a", owner: "crawler", kind: "TaskGroup", state: "running", ageMs: 1500 },
        { name: "fetch-b", owner: "crawler", kind: "TaskGroup", state: "running", ageMs: 500 }
      ])
      expect(observed.one.map((t) => t.name)).toEqual(["fetch-b"])
      expect(observed.none).toEqual([])
      expect(yield* Introspection.stats).toEqual({ sources: 0, tasks: 0 })
    })))

  it.effect("TaskGroup.tasks lists running tasks only, not those waiting for a slot", () =>
    TaskGroup.scoped((group) =>
      Effect.gen(function*() {
        yield* group.spawn(Effect.never, { name: "a" })
        yield* group.spawn(Effect.never, { name: "b" })
        yield* settle
        const tasks = yield* group.tasks
        expect(tasks.map((t) => [t.id, t.name])).toEqual([[0, "a"]])
        expect((yield* group.stats).pending).toBe(1)
        return yield* Effect.interrupt
      }), { concurrency: 1 }).pipe(Effect.exit, Effect.map((exit) => expect(Exit.isFailure(exit)).toBe(true))))

  it.effect("custom sources are listed and removed with their scope", () =>
    withRegistry(Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Introspection.register({
        owner: "scheduler",
        kind: "custom",
        tasks: Effect.succeed([{ name: "nightly", state: "waiting", startedAt: 0 }])
      }).pipe(Scope.provide(scope))
      yield* TestClock.adjust("10 millis")
      expect(yield* Introspection.tasks).toEqual([
        { name: "nightly", owner: "scheduler", kind: "custom", state: "waiting", ageMs: 10 }
      ])
      yield* Scope.close(scope, Exit.void)
      expect(yield* Introspection.tasks).toEqual([])
    })))
})

describe("Introspection.routes", () => {
  it.live("GET /debug/tasks returns the JSON list of live tasks", () =>
    Effect.gen(function*() {
      const server = HttpRouter.serve(Introspection.routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(Introspection.layer)
      )
      const context = yield* Layer.build(server)
      const address = Context.get(context, HttpServer.HttpServer).address
      const port = address._tag === "UnixPathAddress" ? 0 : address.port
      const empty = yield* get(port, "/debug/tasks")
      expect([empty.status, JSON.parse(empty.body)]).toEqual([200, []])
      const started = yield* Deferred.make<void>()
      const sup = yield* Supervisor.make({ name: "bg" }).pipe(Effect.provideContext(context))
      yield* sup.start("ticker", Effect.andThen(Deferred.succeed(started, undefined), Effect.never))
      yield* Deferred.await(started)
      const listed = yield* get(port, "/debug/tasks")
      const body = JSON.parse(listed.body) as ReadonlyArray<Introspection.TaskEntry>
      expect(listed.status).toBe(200)
      expect(body.map((t) => [t.name, t.owner, t.kind, t.state, typeof t.ageMs])).toEqual([
        ["ticker", "bg", "Supervisor", "running", "number"]
      ])
      yield* sup.stop("ticker")
      expect(JSON.parse((yield* get(port, "/debug/tasks")).body)).toEqual([])
    }))

  it.live("GET /debug/async-ops serves a versioned snapshot of tasks and named primitives that decodes", () =>
    Effect.gen(function*() {
      const server = HttpRouter.serve(Introspection.routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(Introspection.layer)
      )
      const context = yield* Layer.build(server)
      const address = Context.get(context, HttpServer.HttpServer).address
      const port = address._tag === "UnixPathAddress" ? 0 : address.port
      const limiter = yield* Limiter.keyed<string>({ perKey: 2, name: "hosts" })
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      yield* limiter.withPermit(
        "a.test",
        Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release)))
      )
        .pipe(Effect.forkScoped)
      yield* Deferred.await(started)
      const response = yield* get(port, Introspection.snapshotPath)
      expect(response.status).toBe(200)
      const snapshot = yield* Introspection.decodeSnapshot(JSON.parse(response.body))
      expect([snapshot.service, snapshot.version]).toEqual(["async-ops", Introspection.snapshotVersion])
      expect(snapshot.tasks).toEqual([])
      expect(snapshot.primitives).toEqual([{
        kind: "KeyedLimiter",
        name: "hosts",
        stats: {
          name: "hosts",
          limit: null, // Infinity in JSON
          perKey: 2,
          keys: 1,
          inFlight: 1,
          waiting: 0,
          acquired: 1,
          waited: 0,
          rejected: 0,
          perKeys: [{ key: "a.test", inFlight: 1, waiting: 0 }]
        }
      }])
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.provideService(Registry.Registry, Registry.makeUnsafe()), Effect.scoped))

  it.effect("decodeSnapshot tells another server, another version and a malformed snapshot apart", () =>
    Effect.gen(function*() {
      const reasons = yield* Effect.forEach(
        [
          { status: "ok" },
          [],
          { service: "async-ops", version: 2, at: 0, uptimeMs: 0, tasks: [], primitives: [] },
          { service: "async-ops", version: 1, at: 0, uptimeMs: 0, tasks: [{ name: 1 }], primitives: [] }
        ],
        (body) => Effect.flip(Introspection.decodeSnapshot(body))
      )
      expect(reasons.map((e) => [e._tag, e.reason])).toEqual([
        ["SnapshotError", "NotAsyncOps"],
        ["SnapshotError", "NotAsyncOps"],
        ["SnapshotError", "Version"],
        ["SnapshotError", "Invalid"]
      ])
      expect(reasons[2]!.message).toBe("snapshot version 2 is not supported (this console reads version 1)")
    }))

  it.effect("Shutdown, EventLoopMonitor and named Periodic jobs are in the snapshot until their scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Shutdown.make({ signals: [] }).pipe(Scope.provide(scope))
      yield* EventLoopMonitor.make({ name: "loop", metrics: false }).pipe(Scope.provide(scope))
      yield* Periodic.make(Effect.fail("boom"), { name: "nightly", every: "1 minute" }).pipe(Scope.provide(scope))
      yield* TestClock.adjust("1 minute")
      yield* settle
      const open = yield* Introspection.snapshot
      expect(open.primitives.map((p) => `${p.kind}/${p.name}`)).toEqual([
        "Shutdown/shutdown",
        "EventLoopMonitor/loop",
        "Periodic/nightly"
      ])
      expect(open.primitives[0]!.stats).toMatchObject({ phase: "running" })
      const periodic = open.primitives[2]!.stats
      expect(periodic).toMatchObject({ name: "nightly", runs: 1, failures: 1 })
      expect(periodic.lastError).toContain("boom")
      // what the route serves is JSON that decodes
      yield* Introspection.decodeSnapshot(JSON.parse(JSON.stringify(open)))
      yield* Scope.close(scope, Exit.void)
      expect((yield* Introspection.snapshot).primitives).toEqual([])
    }).pipe(withRegistry, Effect.provideService(Registry.Registry, Registry.makeUnsafe())))
})
