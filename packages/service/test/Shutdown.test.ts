import { ServerKit } from "@async-ops/http"
import * as Health from "@async-ops/service/Health"
import * as Shutdown from "@async-ops/service/Shutdown"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Effect, Exit, Fiber, Layer, Ref, Scope, Stream, SubscriptionRef } from "effect"
import { flow } from "effect/Function"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import * as http from "node:http"

const quiet = { signals: [] } as const

/** Lets forked fibers reach their next suspension point (EFFECT4 trap 18). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

const advance = (millis: number) => Effect.andThen(settle, TestClock.adjust(millis)).pipe(Effect.andThen(settle))

/** A program that logs its acquisition and release, holding until interrupted. */
const service = (log: Ref.Ref<ReadonlyArray<string>>, ...resources: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    for (const name of resources) {
      yield* Effect.acquireRelease(
        Ref.update(log, (l) => [...l, `acquire ${name}`]),
        () => Ref.update(log, (l) => [...l, `release ${name}`])
      )
    }
    return yield* Effect.never
  }))

class ClientError extends Data.TaggedError("ClientError")<{ readonly code: string }> {}

/** A GET on a fresh connection (no agent): status, `connection` header and body, or the socket error's code. */
const get = (url: string, agent: http.Agent | false = false) =>
  Effect.callback<{ status: number; connection: string | undefined; body: string }, ClientError>((resume) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (c: string) => (body += c))
      res.on(
        "end",
        () => resume(Effect.succeed({ status: res.statusCode ?? 0, connection: res.headers.connection, body }))
      )
    })
    req.on("error", (e: NodeJS.ErrnoException) => resume(Effect.fail(new ClientError({ code: e.code ?? e.message }))))
    return Effect.sync(() => req.destroy())
  })

const append = (log: Ref.Ref<ReadonlyArray<string>>, line: string) => Ref.update(log, (l) => [...l, line])

describe("Shutdown", () => {
  it.effect("a trigger moves running → draining at once, stopping after the drain delay, then stopped", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, drainDelay: "5 seconds" })
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const run = yield* Effect.forkChild(shutdown.run(service(log, "db")), { startImmediately: true })
      yield* settle
      expect(yield* SubscriptionRef.get(shutdown.phase)).toBe("running")
      expect((yield* shutdown.report).outcome).toBe("running")
      yield* shutdown.trigger()
      yield* settle
      expect(yield* SubscriptionRef.get(shutdown.phase)).toBe("draining")
      expect(yield* shutdown.isShuttingDown).toBe(true)
      yield* advance(4_999)
      expect(yield* SubscriptionRef.get(shutdown.phase)).toBe("draining")
      expect(yield* Ref.get(log)).toEqual(["acquire db"])
      yield* advance(1)
      const report = yield* Fiber.join(run)
      expect(report.outcome).toBe("clean")
      expect(report.exitCode).toBe(0)
      expect(report.reason).toBe("trigger")
      expect(report.phases).toEqual([
        { phase: "draining", atMs: 0 },
        { phase: "stopping", atMs: 5000 },
        { phase: "stopped", atMs: 5000 }
      ])
      expect(report.steps.map((s) => [s.name, s.status, s.durationMs])).toEqual([
        ["drain delay", "done", 5000],
        ["finalizers", "done", 0]
      ])
      expect(report.cutOff).toEqual([])
      expect(yield* Ref.get(log)).toEqual(["acquire db", "release db"])
      expect(yield* SubscriptionRef.get(shutdown.phase)).toBe("stopped")
    })))

  it.effect("with Health in context, readiness turns unhealthy at the trigger, before the drain delay ends", () =>
    Effect.gen(function*() {
      const readiness = Effect.map(Health.report("readiness"), (r) => [r.status, r.checks.map((c) => c.name)])
      const run = yield* Effect.forkChild(Shutdown.run(Effect.never), { startImmediately: true })
      yield* settle
      expect(yield* readiness).toEqual(["healthy", ["shutdown"]])
      expect((yield* Health.report("liveness")).status).toBe("healthy")
      yield* Shutdown.trigger()
      yield* settle
      expect(yield* readiness).toEqual(["unhealthy", ["shutdown"]])
      expect(Health.statusCode((yield* Health.report("readiness")).status)).toBe(503)
      expect(yield* Shutdown.phase).toBe("draining")
      // liveness is untouched: the process is alive while it drains
      expect((yield* Health.report("liveness")).status).toBe("healthy")
      yield* advance(5_000)
      expect((yield* Fiber.join(run)).outcome).toBe("clean")
    }).pipe(
      Effect.provide(
        Layer.fresh(Shutdown.layer({ ...quiet, drainDelay: "5 seconds" })).pipe(
          Layer.provideMerge(Layer.fresh(Health.layer))
        )
      )
    ))

  it.effect("the phase is a SubscriptionRef whose changes show every phase", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, drainDelay: "1 second" })
      const seen = yield* Effect.forkChild(
        SubscriptionRef.changes(shutdown.phase).pipe(
          Stream.takeUntil((p) => p === "stopped"),
          Stream.runCollect
        ),
        { startImmediately: true }
      )
      const run = yield* Effect.forkChild(shutdown.run(Effect.never), { startImmediately: true })
      yield* settle
      yield* shutdown.trigger("test")
      yield* advance(1_000)
      expect((yield* Fiber.join(run)).reason).toBe("test")
      expect(yield* Fiber.join(seen)).toEqual(["running", "draining", "stopping", "stopped"])
    })))

  it.effect("drainables drain in reverse order of registration, then finalizers in reverse acquisition order", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, drainDelay: "2 seconds" })
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const program = Effect.scoped(Effect.gen(function*() {
        yield* Effect.acquireRelease(append(log, "acquire db"), () => append(log, "release db"))
        yield* shutdown.register("pool", Effect.andThen(Effect.sleep("1 second"), append(log, "drain pool")))
        yield* Effect.acquireRelease(append(log, "acquire cache"), () => append(log, "release cache"))
        yield* shutdown.register("http", Effect.andThen(Effect.sleep("3 seconds"), append(log, "drain http")))
        return yield* Effect.never
      }))
      const run = yield* Effect.forkChild(shutdown.run(program), { startImmediately: true })
      yield* settle
      expect((yield* shutdown.stats).drainables).toBe(2)
      yield* shutdown.trigger()
      yield* advance(2_000)
      yield* advance(3_000)
      expect(yield* Ref.get(log)).toEqual(["acquire db", "acquire cache", "drain http"])
      yield* advance(1_000)
      const report = yield* Fiber.join(run)
      expect(yield* Ref.get(log)).toEqual([
        "acquire db",
        "acquire cache",
        "drain http",
        "drain pool",
        "release cache",
        "release db"
      ])
      expect(report.steps.map((s) => [s.name, s.kind, s.status, s.durationMs])).toEqual([
        ["drain delay", "delay", "done", 2000],
        ["http", "drain", "done", 3000],
        ["pool", "drain", "done", 1000],
        ["finalizers", "finalizers", "done", 0]
      ])
      expect(report.elapsedMs).toBe(6000)
      expect(report.outcome).toBe("clean")
    })))

  it.effect("past the budget the running step is cut off, the rest skipped, and the exit code is 1", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, budget: "10 seconds", drainDelay: "2 seconds" })
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const program = Effect.scoped(Effect.gen(function*() {
        yield* Effect.acquireRelease(append(log, "acquire db"), () => append(log, "release db"))
        yield* shutdown.register("pool", append(log, "drain pool"))
        yield* shutdown.register(
          "stuck",
          Effect.onInterrupt(Effect.never, () => append(log, "stuck interrupted"))
        )
        return yield* Effect.never
      }))
      const run = yield* Effect.forkChild(shutdown.run(program), { startImmediately: true })
      yield* settle
      yield* shutdown.trigger()
      yield* advance(2_000)
      yield* advance(7_999)
      expect(run.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      const report = yield* Fiber.join(run)
      expect(report.outcome).toBe("overrun")
      expect(report.exitCode).toBe(1)
      expect(report.elapsedMs).toBe(10_000)
      expect(report.steps.map((s) => [s.name, s.status, s.durationMs])).toEqual([
        ["drain delay", "done", 2000],
        ["stuck", "cut-off", 8000],
        ["pool", "skipped", 0],
        ["finalizers", "skipped", 0]
      ])
      expect(report.cutOff).toEqual(["stuck", "pool", "finalizers"])
      expect(report.phases.map((p) => p.phase)).toEqual(["draining", "stopping", "stopped"])
      // the cut-off drain was interrupted, and the program was still told to stop: its finalizers ran
      yield* settle
      expect(yield* Ref.get(log)).toEqual(["acquire db", "stuck interrupted", "release db"])
    })))

  it.effect("the budget ends the shutdown on time even when the running step cannot be interrupted", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, budget: "10 seconds", drainDelay: "1 second" })
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const program = Effect.scoped(Effect.gen(function*() {
        yield* Effect.acquireRelease(append(log, "acquire legacy"), () => append(log, "release legacy"))
        // closing a scope (as an HTTP server's drainable does) cannot be interrupted half-way
        yield* shutdown.register(
          "legacy flush",
          Effect.uninterruptible(Effect.andThen(Effect.sleep("1 minute"), append(log, "legacy flushed (late)")))
        )
        return yield* Effect.never
      }))
      const run = yield* Effect.forkChild(shutdown.run(program), { startImmediately: true })
      yield* settle
      yield* shutdown.trigger()
      yield* advance(1_000)
      yield* advance(8_999)
      expect(run.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      const report = yield* Fiber.join(run)
      expect(report.outcome).toBe("overrun")
      expect(report.elapsedMs).toBe(10_000)
      expect(report.steps.map((s) => [s.name, s.status, s.durationMs])).toEqual([
        ["drain delay", "done", 1000],
        ["legacy flush", "cut-off", 9000],
        ["finalizers", "skipped", 0]
      ])
      yield* settle
      expect(yield* Ref.get(log)).toEqual(["acquire legacy", "release legacy"])
      // the flush ends later on its own; the report does not change
      yield* advance(60_000)
      expect(yield* Ref.get(log)).toEqual(["acquire legacy", "release legacy", "legacy flushed (late)"])
      expect((yield* shutdown.report).steps.map((s) => s.status)).toEqual(["done", "cut-off", "skipped"])
    })))

  it.effect("a second trigger during the drain forces an immediate stop with exit code 130", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, drainDelay: "5 seconds" })
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const run = yield* Effect.forkChild(shutdown.run(service(log, "db")), { startImmediately: true })
      yield* settle
      yield* shutdown.trigger("SIGTERM")
      yield* advance(1_000)
      yield* shutdown.trigger("SIGTERM")
      yield* settle
      const report = yield* Fiber.join(run)
      expect(report.outcome).toBe("forced")
      expect(report.exitCode).toBe(130)
      expect(report.elapsedMs).toBe(1000)
      expect(report.steps.map((s) => [s.name, s.status])).toEqual([
        ["drain delay", "cut-off"],
        ["finalizers", "skipped"]
      ])
      yield* settle
      expect(yield* Ref.get(log)).toEqual(["acquire db", "release db"])
      // a third trigger after the end changes nothing
      yield* shutdown.trigger()
      expect((yield* shutdown.report).outcome).toBe("forced")
      expect((yield* shutdown.stats).triggers).toBe(3)
    })))

  it.effect("a failing drainable is reported, the next one still runs, and the exit code is 1", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, drainDelay: 0 })
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const program = Effect.scoped(Effect.gen(function*() {
        yield* shutdown.register("pool", append(log, "drain pool"))
        yield* shutdown.register("broken", Effect.fail("disk full"))
        return yield* Effect.never
      }))
      const run = yield* Effect.forkChild(shutdown.run(program), { startImmediately: true })
      yield* settle
      yield* shutdown.trigger()
      const report = yield* Fiber.join(run)
      expect(report.outcome).toBe("failed")
      expect(report.exitCode).toBe(1)
      expect(report.steps.map((s) => [s.name, s.status])).toEqual([
        ["drain delay", "done"],
        ["broken", "failed"],
        ["pool", "done"],
        ["finalizers", "done"]
      ])
      expect(report.steps[1]?.error).toContain("disk full")
      expect(yield* Ref.get(log)).toEqual(["drain pool"])
    })))

  it.effect("a drainable whose scope closed before the shutdown is not run", () =>
    Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.make({ ...quiet, drainDelay: 0 })
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.scoped(shutdown.register("gone", append(log, "drain gone")))
      expect((yield* shutdown.stats).drainables).toBe(0)
      const run = yield* Effect.forkChild(shutdown.run(Effect.never), { startImmediately: true })
      yield* settle
      yield* shutdown.trigger()
      const report = yield* Fiber.join(run)
      expect(report.steps.map((s) => s.name)).toEqual(["drain delay", "finalizers"])
      expect(yield* Ref.get(log)).toEqual([])
    })))

  it.effect("a program that ends on its own completes with exit code 0; one that fails fails with its error", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* Shutdown.make(quiet)
      const report = yield* a.run(Effect.succeed(1))
      expect(report.outcome).toBe("completed")
      expect(report.exitCode).toBe(0)
      expect((yield* a.awaitDone).outcome).toBe("completed")
      const b = yield* Shutdown.make(quiet)
      expect(yield* Effect.exit(b.run(Effect.fail("boom")))).toStrictEqual(Exit.fail("boom"))
      expect((yield* b.report).outcome).toBe("running")
    })))

  it.effect("the module functions use the Shutdown in context", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const program = Effect.scoped(Effect.gen(function*() {
        yield* Shutdown.register("jobs", append(log, "drain jobs"))
        yield* Effect.forkScoped(Effect.andThen(Effect.sleep("1 second"), Shutdown.trigger("admin")))
        return yield* Effect.never
      }))
      const run = yield* Effect.forkChild(Shutdown.run(program), { startImmediately: true })
      yield* advance(1_000)
      expect(yield* Shutdown.phase).toBe("draining")
      yield* advance(3_000)
      const report = yield* Fiber.join(run)
      expect(report.reason).toBe("admin")
      expect(report.elapsedMs).toBe(3000)
      expect((yield* Shutdown.report).outcome).toBe("clean")
      expect(yield* Ref.get(log)).toEqual(["drain jobs"])
    }).pipe(Effect.provide(Shutdown.layer({ ...quiet, drainDelay: "3 seconds" }))))

  it.effect("a signal handler is installed per signal and removed with the scope, and a signal triggers", () =>
    Effect.gen(function*() {
      const before = process.listenerCount("SIGTERM")
      const beforeUsr2 = process.listenerCount("SIGUSR2")
      const scope = yield* Scope.make()
      const shutdown = yield* Scope.provide(Shutdown.make({ signals: ["SIGTERM", "SIGUSR2"], drainDelay: 0 }), scope)
      expect(process.listenerCount("SIGTERM")).toBe(before + 1)
      expect(process.listenerCount("SIGUSR2")).toBe(beforeUsr2 + 1)
      const run = yield* Effect.forkChild(shutdown.run(Effect.never), { startImmediately: true })
      yield* settle
      process.emit("SIGUSR2")
      yield* settle
      const report = yield* Fiber.join(run)
      expect(report.reason).toBe("SIGUSR2")
      expect(report.outcome).toBe("clean")
      yield* Scope.close(scope, Exit.void)
      expect(process.listenerCount("SIGTERM")).toBe(before)
      expect(process.listenerCount("SIGUSR2")).toBe(beforeUsr2)
    }))

  it.effect("interrupting the runner during the drain leaves no handler and no fiber behind", () =>
    Effect.gen(function*() {
      const before = process.listenerCount("SIGINT")
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        Effect.gen(function*() {
          const shutdown = yield* Shutdown.Shutdown
          const run = yield* Effect.forkChild(shutdown.run(service(log, "db")), { startImmediately: true })
          yield* settle
          yield* shutdown.trigger()
          yield* Deferred.succeed(started, undefined)
          return yield* Fiber.join(run)
        }).pipe(Effect.provide(Layer.fresh(Shutdown.layer({ drainDelay: "5 seconds" })))),
        { startImmediately: true }
      )
      yield* Deferred.await(started)
      expect(process.listenerCount("SIGINT")).toBe(before + 1)
      yield* Fiber.interrupt(fiber)
      expect(process.listenerCount("SIGINT")).toBe(before)
      expect(yield* Ref.get(log)).toEqual(["acquire db", "release db"])
    }))

  it.live("layerServer closes the listener in the stopping phase after in-flight requests; responses say close", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const entered = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const clientDone = yield* Deferred.make<void>()
      const program = Effect.scoped(Effect.gen(function*() {
        // registered before the server: drains after it, so the client sees the closed listener
        yield* Shutdown.register("client", Deferred.await(clientDone))
        const inFlight = yield* ServerKit.inFlight()
        const closeOnShutdown = yield* Shutdown.middleware
        const Routes = Layer.mergeAll(
          HttpRouter.add("GET", "/fast", HttpServerResponse.text("fast")),
          HttpRouter.add(
            "GET",
            "/slow",
            Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(finish)).pipe(
              Effect.as(HttpServerResponse.text("slow"))
            )
          ),
          HttpRouter.middleware(flow(inFlight.middleware, closeOnShutdown), { global: true })
        )
        const server = HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
          Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" }))
        )
        const context = yield* Layer.build(Shutdown.layerServer(server, { inFlight }))
        const url = yield* HttpServer.addressFormattedWith((u) => Effect.succeed(u)).pipe(
          Effect.provideContext(context)
        )
        yield* Effect.acquireRelease(append(log, "acquire client pool"), () => append(log, "release client pool"))
        // registered after the server: drains first, and holds the listener open while the test probes it
        yield* Shutdown.register("probe", Deferred.await(gate))
        const agent = yield* Effect.acquireRelease(
          Effect.sync(() => new http.Agent({ keepAlive: true })),
          (a) => Effect.sync(() => a.destroy())
        )
        const client = Effect.gen(function*() {
          const before = yield* get(`${url}/fast`, agent)
          yield* append(log, `before: ${before.status} connection=${before.connection}`)
          const slow = yield* Effect.forkChild(get(`${url}/slow`), { startImmediately: true })
          yield* Deferred.await(entered)
          yield* Shutdown.trigger()
          const during = yield* get(`${url}/fast`, agent)
          yield* append(log, `draining: ${during.status} connection=${during.connection}`)
          yield* Deferred.succeed(gate, undefined)
          yield* Effect.yieldNow
          yield* Deferred.succeed(finish, undefined)
          const answer = yield* Fiber.join(slow)
          yield* append(log, `in flight: ${answer.status} ${answer.body}`)
          const after = yield* Effect.flip(get(`${url}/fast`))
          yield* append(log, `after close: ${after.code}`)
        }).pipe(Effect.ensuring(Deferred.succeed(clientDone, undefined)))
        yield* Effect.forkScoped(Effect.orDie(client))
        return yield* Effect.never
      }))
      const report = yield* Shutdown.run(program).pipe(
        Effect.provide(Layer.fresh(Shutdown.layer({ signals: [], drainDelay: 0 })))
      )
      expect(report.steps.map((s) => [s.name, s.status])).toEqual([
        ["drain delay", "done"],
        ["probe", "done"],
        ["http", "done"],
        ["client", "done"],
        ["finalizers", "done"]
      ])
      expect(yield* Ref.get(log)).toEqual([
        "acquire client pool",
        "before: 200 connection=keep-alive",
        "draining: 200 connection=close",
        "in flight: 200 slow",
        "after close: ECONNREFUSED",
        "release client pool"
      ])
    }))

  it.effect("bad options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const bad = (options: Shutdown.Options) =>
        Effect.scoped(Shutdown.make(options)).pipe(Effect.flip, Effect.map((e) => `${e.option}: ${e.message}`))
      expect(yield* bad({ budget: 0 })).toContain("budget")
      expect(yield* bad({ budget: Number.NaN })).toContain("budget")
      expect(yield* bad({ budget: "Infinity" })).toContain("budget")
      expect(yield* bad({ drainDelay: -1 })).toContain("drainDelay")
      expect(yield* bad({ budget: "5 seconds", drainDelay: "5 seconds" })).toContain("drainDelay")
      expect(yield* bad({ signals: ["SIGKILL" as never] })).toContain("signals")
      expect(yield* bad({ budget: "nonsense" as never })).toBe(
        "budget: Shutdown.make: option budget must be a finite duration > 0 (got \"nonsense\")"
      )
      const layerExit = yield* Effect.exit(Layer.build(Shutdown.layer({ drainDelay: -5 })).pipe(Effect.scoped))
      expect(layerExit._tag).toBe("Failure")
    }))
})
