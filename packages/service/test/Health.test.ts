import { HttpResilience } from "@async-ops/http"
import * as Health from "@async-ops/service/Health"
import { LeakCheck, VirtualTime } from "@async-ops/testing"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Data, Deferred, Effect, Exit, Fiber, Layer, Metric, Ref, Scope } from "effect"
import { HttpClient, HttpClientResponse, HttpRouter, HttpServer } from "effect/http"
import { CircuitBreaker } from "effect/persistence"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import { get } from "./support.ts"

class DbDown extends Data.TaggedError("DbDown")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

const withHealth = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect.pipe(Effect.provide(Health.layer))

describe("Health", () => {
  it.effect("aggregates: all healthy is healthy, no checks is healthy", () =>
    withHealth(Effect.gen(function*() {
      expect((yield* Health.report()).status).toBe("healthy")
      expect((yield* Health.report()).checks).toEqual([])
      yield* Health.register({ name: "a", kinds: ["readiness"], run: Effect.void })
      yield* Health.register({ name: "b", kinds: ["readiness"], run: Effect.succeed("healthy" as const) })
      const report = yield* Health.report("readiness")
      expect(report.status).toBe("healthy")
      expect(report.kind).toBe("readiness")
      expect(report.checks.map((c) => [c.name, c.status, c.cached])).toEqual([["a", "healthy", false], [
        "b",
        "healthy",
        false
      ]])
    })))

  it.effect("a failing critical check is unhealthy with its error; a failing non-critical one only degrades", () =>
    withHealth(Effect.gen(function*() {
      yield* Health.register({ name: "db", kinds: ["readiness"], run: new DbDown({ reason: "refused" }) })
      yield* Health.register({ name: "cache", kinds: ["liveness"], run: Effect.fail("miss"), critical: false })
      yield* Health.register({
        name: "queue",
        kinds: ["liveness"],
        run: Effect.succeed("unhealthy" as const),
        critical: false
      })
      yield* Health.register({ name: "disk", kinds: ["liveness"], run: Effect.succeed("degraded" as const) })
      const live = yield* Health.report("liveness")
      expect(live.status).toBe("degraded")
      expect(live.checks.map((c) => [c.name, c.status, c.error])).toEqual([
        ["cache", "degraded", "miss"],
        ["queue", "degraded", undefined],
        ["disk", "degraded", undefined]
      ])
      const all = yield* Health.report()
      expect(all.status).toBe("unhealthy")
      expect(all.kind).toBe("all")
      expect(all.checks[0]).toEqual({
        name: "db",
        status: "unhealthy",
        latencyMs: 0,
        error: "DbDown: refused",
        cached: false,
        critical: true
      })
    })))

  it.effect("a defect in a check is reported as unhealthy, not a crash", () =>
    withHealth(Effect.gen(function*() {
      yield* Health.register({ name: "bug", kinds: ["liveness"], run: Effect.die(new Error("oops")) })
      const r = yield* Health.report("liveness")
      expect(r.status).toBe("unhealthy")
      expect(r.checks[0]?.error).toBe("defect: oops")
    })))

  it.effect("a check past its timeout is unhealthy with latency = timeout, and is interrupted", () =>
    withHealth(Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      yield* Health.register({
        name: "slow",
        kinds: ["readiness"],
        run: Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))),
        timeout: "250 millis"
      })
      yield* Health.register({ name: "default", kinds: ["readiness"], run: Effect.never, critical: false })
      const fiber = yield* Effect.forkChild(Health.report("readiness"))
      yield* settle
      yield* TestClock.adjust("250 millis")
      yield* settle
      yield* TestClock.adjust("750 millis")
      const r = yield* Fiber.join(fiber)
      expect(r.status).toBe("unhealthy")
      expect(r.checks).toEqual([
        {
          name: "slow",
          status: "unhealthy",
          latencyMs: 250,
          error: "timed out after 250ms",
          cached: false,
          critical: true
        },
        {
          name: "default",
          status: "degraded",
          latencyMs: 1000,
          error: "timed out after 1s",
          cached: false,
          critical: false
        }
      ])
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    })))

  it.effect("a result is reused for cacheFor, then the check runs again", () =>
    withHealth(Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      yield* Health.register({
        name: "db",
        kinds: ["readiness"],
        run: Ref.update(runs, (n) => n + 1),
        cacheFor: "5 seconds"
      })
      const first = yield* Health.report("readiness")
      yield* TestClock.adjust("4999 millis")
      const second = yield* Health.report("readiness")
      expect([first.checks[0]?.cached, second.checks[0]?.cached, yield* Ref.get(runs)]).toEqual([false, true, 1])
      yield* TestClock.adjust("1 millis")
      const third = yield* Health.report("readiness")
      expect([third.checks[0]?.cached, yield* Ref.get(runs)]).toEqual([false, 2])
    })))

  it.effect("without cacheFor every report runs the check", () =>
    withHealth(Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      yield* Health.register({ name: "db", kinds: ["readiness"], run: Ref.update(runs, (n) => n + 1) })
      yield* Health.report()
      yield* Health.report()
      expect(yield* Ref.get(runs)).toBe(2)
    })))

  it.effect("a duplicate name fails with DuplicateCheckError", () =>
    withHealth(Effect.gen(function*() {
      yield* Health.register({ name: "db", kinds: ["readiness"], run: Effect.void })
      const error = yield* Effect.flip(Health.register({ name: "db", kinds: ["liveness"], run: Effect.void }))
      expect(error._tag).toBe("DuplicateCheckError")
      expect(error.message).toBe("Health.register: a check named \"db\" is already registered")
    })))

  it.effect("bad options fail with InvalidOptionError", () =>
    withHealth(Effect.gen(function*() {
      const bad: ReadonlyArray<Health.Check> = [
        { name: "", kinds: ["readiness"], run: Effect.void },
        { name: "a", kinds: [], run: Effect.void },
        { name: "a", kinds: ["nope" as Health.Kind], run: Effect.void },
        { name: "a", kinds: ["readiness"], run: Effect.void, timeout: 0 },
        { name: "a", kinds: ["readiness"], run: Effect.void, timeout: "Infinity" },
        { name: "a", kinds: ["readiness"], run: Effect.void, timeout: Number.NaN },
        { name: "a", kinds: ["readiness"], run: Effect.void, cacheFor: -1 }
      ]
      const options = yield* Effect.forEach(bad, (check) =>
        Effect.flip(Health.register(check)).pipe(
          Effect.map((e) => e._tag === "InvalidOptionError" ? e.option : e._tag)
        ))
      expect(options).toEqual(["name", "kinds", "kinds", "timeout", "timeout", "timeout", "cacheFor"])
      expect((yield* Health.stats).checks).toBe(0)
      const layerError = yield* Effect.flip(Effect.provide(Health.report(), Health.layerWith({ timeout: -5 })))
      expect(layerError.option).toBe("timeout")
    })))

  it.effect("closing the registering scope removes the check (and frees its name)", () =>
    withHealth(Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Health.register({ name: "db", kinds: ["readiness"], run: Effect.fail("down") }).pipe(
        Scope.provide(scope)
      )
      expect((yield* Health.report()).status).toBe("unhealthy")
      yield* Scope.close(scope, Exit.void)
      const r = yield* Health.report()
      expect([r.status, r.checks.length, (yield* Health.stats).checks]).toEqual(["healthy", 0, 0])
      yield* Health.register({ name: "db", kinds: ["readiness"], run: Effect.void })
      expect((yield* Health.stats).readiness).toBe(1)
    })))

  it.effect("with metrics on, each check run sets its status gauge and records its latency; removal drops them", () =>
    Effect.gen(function*() {
      const attrs = (check: string) => ({ primitive: "Health", name: "svc", check })
      const status = (check: string) => Metric.value(Metric.withAttributes(Health.statusGauge, attrs(check)))
      const latency = (check: string) => Metric.value(Metric.withAttributes(Health.latencyHistogram, attrs(check)))
      const db = yield* Ref.make<Health.Status>("healthy")
      const dbScope = yield* Scope.make()
      yield* Health.register({ name: "db", kinds: ["readiness"], run: Effect.andThen(Effect.sleep(30), Ref.get(db)) })
        .pipe(Scope.provide(dbScope))
      yield* Health.register({ name: "cache", kinds: ["readiness"], run: Effect.fail("miss"), critical: false })
      yield* Health.register({ name: "disk", kinds: ["liveness"], run: Effect.void, cacheFor: "5 seconds" })
      expect((yield* VirtualTime.autojump(Health.report())).status).toBe("degraded")
      expect([(yield* status("db")).value, (yield* status("cache")).value, (yield* status("disk")).value]).toEqual([
        0,
        1,
        0
      ])
      const dbLatency = yield* latency("db")
      expect([dbLatency.count, dbLatency.sum]).toEqual([1, 30])
      yield* Ref.set(db, "unhealthy")
      expect((yield* VirtualTime.autojump(Health.report())).status).toBe("unhealthy")
      expect((yield* status("db")).value).toBe(2)
      expect((yield* latency("db")).count).toBe(2)
      // disk's second result came from its cache: not a run, nothing recorded
      expect((yield* latency("disk")).count).toBe(1)
      yield* Scope.close(dbScope, Exit.void)
      const series = (yield* Metric.snapshot).map((m) => `${m.id}:${m.attributes?.["check"]}`).toSorted()
      expect(series).toEqual([
        "async_ops_health_check_latency_ms:cache",
        "async_ops_health_check_latency_ms:disk",
        "async_ops_health_check_status:cache",
        "async_ops_health_check_status:disk"
      ])
    }).pipe(
      Effect.provide(Health.layerWith({ name: "svc", metrics: true })),
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))

  it.effect("with metrics off (the default), nothing is recorded", () =>
    Effect.gen(function*() {
      const registry: Metric.MetricRegistry = new Map()
      yield* Effect.gen(function*() {
        yield* Health.register({ name: "db", kinds: ["readiness"], run: Effect.fail("down") })
        yield* Health.register({ name: "disk", kinds: ["liveness"], run: Effect.void })
        expect((yield* Health.report()).status).toBe("unhealthy")
      }).pipe(
        Effect.scoped,
        Effect.provide(Health.layerWith({ name: "svc" })),
        Effect.provideService(Metric.MetricRegistry, registry)
      )
      expect([...registry.keys()]).toEqual([])
    }))

  it.effect("a bad registry name fails with InvalidOptionError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Health.make({ name: "" }))
      expect([error._tag, error.option]).toEqual(["InvalidOptionError", "name"])
    }))

  it.effect("the startup probe latches healthy once every startup check passed once", () =>
    withHealth(Effect.gen(function*() {
      const ready = yield* Ref.make(false)
      const runs = yield* Ref.make(0)
      yield* Health.register({
        name: "migrations",
        kinds: ["startup"],
        run: Effect.flatMap(
          Ref.updateAndGet(runs, (n) => n + 1),
          () => Effect.flatMap(Ref.get(ready), (ok) => ok ? Effect.void : Effect.fail("pending"))
        )
      })
      yield* Health.register({ name: "warm", kinds: ["startup", "readiness"], run: Effect.void })
      expect((yield* Health.report("startup")).status).toBe("unhealthy")
      expect((yield* Health.stats).startupComplete).toBe(false)
      yield* Ref.set(ready, true)
      expect((yield* Health.report("startup")).status).toBe("healthy")
      yield* Ref.set(ready, false) // later failures no longer matter to the startup probe
      const latched = yield* Health.report("startup")
      expect([latched.status, latched.checks.map((c) => c.cached), yield* Ref.get(runs)]).toEqual([
        "healthy",
        [true, true],
        2
      ])
      expect((yield* Health.stats).startupComplete).toBe(true)
    })))

  it.effect("a check runs with the services of the fiber that registered it", () =>
    withHealth(Effect.gen(function*() {
      class Db extends Context.Service<Db, { readonly ping: Effect.Effect<Health.Status> }>()("test/Db") {}
      yield* Health.register({ name: "db", kinds: ["liveness"], run: Effect.flatMap(Db, (db) => db.ping) })
        .pipe(Effect.provideService(Db, Db.of({ ping: Effect.succeed("degraded") })))
      expect((yield* Health.report("liveness")).status).toBe("degraded")
    })))

  it.effect("an open circuit breaker reads as degraded, closed again as healthy", () =>
    withHealth(Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "10 seconds"
      }).pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))
      yield* Health.register(Health.fromCircuitBreaker({ name: "payments", breaker, keys: ["pay"] }))
      expect((yield* Health.report("readiness")).status).toBe("healthy")
      for (let i = 0; i < 2; i++) yield* Effect.exit(breaker.execute(Effect.fail("boom"), { key: "pay" }))
      const open = yield* Health.report("readiness")
      expect([open.status, open.checks[0]?.status]).toEqual(["degraded", "degraded"])
      yield* TestClock.adjust("10 seconds")
      yield* breaker.execute(Effect.void, { key: "pay" })
      expect((yield* Health.report("readiness")).status).toBe("healthy")
    })))

  it.effect("fromResilientClient is degraded while a host's circuit is open or half-open, healthy once it closes", () =>
    withHealth(Effect.gen(function*() {
      // a transport that answers `down.test` with `down.status` and every other host with 200
      const down = { status: 500 }
      const transport = HttpClient.make((request, url) =>
        Effect.succeed(
          HttpClientResponse.fromWeb(
            request,
            new Response("", { status: url.host === "down.test" ? down.status : 200 })
          )
        )
      )
      const ClientLive = HttpResilience.layer({
        retry: false,
        circuitBreaker: { failures: 2, openDuration: "10 seconds" }
      }).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, transport)))
      yield* Effect.gen(function*() {
        const client = yield* HttpResilience.ResilientClient
        yield* Health.register(Health.fromResilientClient({ name: "upstream" }))
        yield* Health.register(Health.fromResilientClient({ name: "up only", client, hosts: ["up.test"] }))
        const statuses = Effect.map(Health.report("readiness"), (r) => [r.status, ...r.checks.map((c) => c.status)])
        expect(yield* statuses).toEqual(["healthy", "healthy", "healthy"])
        yield* client.get("http://up.test/")
        yield* Effect.flip(client.get("http://down.test/"))
        expect(yield* statuses).toEqual(["healthy", "healthy", "healthy"])
        yield* Effect.flip(client.get("http://down.test/"))
        expect(yield* statuses).toEqual(["degraded", "degraded", "healthy"])
        expect((yield* client.stats).breakers).toEqual({ "down.test": "open" })
        yield* TestClock.adjust("10 seconds")
        expect((yield* client.stats).breakers).toEqual({ "down.test": "half-open" })
        expect(yield* statuses).toEqual(["degraded", "degraded", "healthy"])
        down.status = 200
        yield* client.get("http://down.test/")
        expect(yield* statuses).toEqual(["healthy", "healthy", "healthy"])
        expect((yield* client.stats).breakers).toEqual({ "down.test": "closed" })
      }).pipe(Effect.provide(ClientLive))
    })))

  it.effect("fromResilientClient is healthy for a client without a circuit breaker, and feeds readiness", () =>
    withHealth(Effect.gen(function*() {
      const transport = HttpClient.make((request) =>
        Effect.succeed(HttpClientResponse.fromWeb(request, new Response("", { status: 503 })))
      )
      const client = yield* HttpResilience.make({ retry: false }).pipe(
        Effect.provideService(HttpClient.HttpClient, transport)
      )
      const check = Health.fromResilientClient({ name: "upstream", client })
      expect(check.kinds).toEqual(["readiness"])
      yield* Health.register(check)
      yield* Effect.flip(client.get("http://down.test/"))
      const report = yield* Health.report("readiness")
      expect(report.checks.map((c) => [c.name, c.status])).toEqual([["upstream", "healthy"]])
      expect((yield* Health.report("liveness")).checks).toEqual([])
    })))

  it.effect("a check returning a value that is not a status counts as healthy", () =>
    withHealth(Effect.gen(function*() {
      const run = Effect.succeed(42) as unknown as Effect.Effect<void>
      yield* Health.register({ name: "odd", kinds: ["liveness"], run })
      expect((yield* Health.report("liveness")).status).toBe("healthy")
    })))

  it.effect("reports with timed-out checks leave no fiber behind", () =>
    withHealth(Effect.gen(function*() {
      yield* Health.register({ name: "hang", kinds: ["liveness"], run: Effect.never, timeout: "10 millis" })
      yield* Health.register({ name: "ok", kinds: ["liveness"], run: Effect.void })
      const report = yield* LeakCheck.fibers(VirtualTime.autojump(Health.report()))
      expect(report.checks.map((c) => c.status)).toEqual(["unhealthy", "healthy"])
    })))

  it.effect("interrupting a report interrupts its running checks", () =>
    withHealth(Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      yield* Health.register({
        name: "slow",
        kinds: ["liveness"],
        run: Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        )
      })
      const fiber = yield* Effect.forkChild(Health.report())
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    })))
})

describe("Health.routes", () => {
  it.live("the probes answer 200/503 by status and /healthz the JSON report", () =>
    Effect.gen(function*() {
      const ready = yield* Ref.make(false)
      const server = HttpRouter.serve(Health.routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" }))
      )
      const context = yield* Layer.build(Layer.provideMerge(server, Health.layer))
      const address = Context.get(context, HttpServer.HttpServer).address
      const port = address._tag === "UnixPathAddress" ? 0 : address.port
      yield* Effect.provideContext(
        Effect.gen(function*() {
          yield* Health.register({ name: "alive", kinds: ["liveness"], run: Effect.void })
          yield* Health.register({
            name: "db",
            kinds: ["readiness", "startup"],
            run: Effect.flatMap(Ref.get(ready), (ok) => ok ? Effect.void : Effect.fail("connecting"))
          })
          yield* Health.register({ name: "cache", kinds: ["readiness"], run: Effect.fail("miss"), critical: false })
        }),
        context
      )
      const codes = (paths: ReadonlyArray<string>) =>
        Effect.forEach(paths, (p) => Effect.map(get(port, p), (r) => r.status))
      expect(yield* codes(["/livez", "/readyz", "/startupz", "/healthz"])).toEqual([200, 503, 503, 503])
      yield* Ref.set(ready, true)
      expect(yield* codes(["/livez", "/readyz", "/startupz", "/healthz"])).toEqual([200, 200, 200, 200])
      const detail = yield* get(port, "/healthz")
      const json = JSON.parse(detail.body)
      expect(json.status).toBe("degraded")
      expect(json.kind).toBe("all")
      expect(json.checks.map((c: Health.CheckResult) => [c.name, c.status, c.error])).toEqual([
        ["alive", "healthy", undefined],
        ["db", "healthy", undefined],
        ["cache", "degraded", "miss"]
      ])
      expect((yield* get(port, "/readyz")).body).toBe("")
    }))
})
