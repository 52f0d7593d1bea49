/**
 * `async-ops serve`: a FaultServer as a long-running service under the service package's `Main.run` (Shutdown
 * timeline, Health registry) with an admin server for `/livez`, `/readyz`, `/healthz` and `/metrics`.
 *
 * @internal
 */
import * as Health from "@async-ops/service/Health"
import * as Main from "@async-ops/service/Main"
import * as Prometheus from "@async-ops/service/Prometheus"
import * as Shutdown from "@async-ops/service/Shutdown"
import * as FaultServer from "@async-ops/testing/FaultServer"
import { NodeHttpServer } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Diagnostics from "node:diagnostics_channel"
import type * as Http from "node:http"
import { createServer } from "node:http"
import * as Net from "node:net"
import { checkInt, parseDuration } from "./fetch/options.ts"
import { StoppedError, UsageError } from "./usage.ts"

/** @internal */
export type Profile = "none" | "light" | "default" | "heavy"

/** @internal */
export const profiles: ReadonlyArray<Profile> = ["none", "light", "default", "heavy"]

const scale: Record<Profile, number> = { none: 0, light: 0.5, default: 1, heavy: 3 }

/**
 * The routes of a profile: fixed fault paths (`/ok`, `/slow`, `/reset`, `/hang`, `/429`, `/503`, `/large`) and a
 * default route (every other path) with the profile's mix of 5xx, 429 with `Retry-After`, resets and slow replies
 * over a lognormal latency with median `latencyMs`.
 *
 * @internal
 */
export const routesFor = (profile: Profile, latencyMs: number): {
  readonly routes: Record<string, FaultServer.RouteScript>
  readonly defaultRoute: FaultServer.RouteScript
} => {
  const f = scale[profile]
  const latency: FaultServer.Latency = latencyMs === 0
    ? 0
    : { kind: "lognormal", median: latencyMs, sigma: 0.6, max: 5_000 }
  const mix: Array<readonly [FaultServer.Reply, number]> = [
    [200, 1],
    [500, 0.02 * f],
    [503, 0.03 * f],
    [{ status: 429, retryAfter: 1 }, 0.02 * f],
    ["reset", 0.01 * f],
    [{ status: 200, latency: 2_000 }, 0.01 * f]
  ]
  return {
    routes: {
      "/ok": { reply: 200 },
      "/slow": { latency: 1_000 },
      "/reset": { reply: "reset" },
      "/hang": { reply: "hang" },
      "/429": { reply: { status: 429, retryAfter: 1 } },
      "/503": { reply: { status: 503, retryAfter: 1 } },
      "/large": { reply: { kind: "large", bytes: 1024 * 1024 } }
    },
    defaultRoute: { latency, mix: mix.filter(([, w]) => w > 0) }
  }
}

/** @internal */
export interface ServeOptions {
  readonly host: string
  readonly port: number
  readonly adminPort: number
  readonly profile: string
  readonly latency: number
  readonly seed: number
  readonly drainDelay: string
  readonly budget: string
}

const fromResult = <A, E>(r: Result.Result<A, E>): Effect.Effect<A, E> =>
  Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)

const LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** @internal */
export const resolveOptions = (o: ServeOptions) =>
  Effect.gen(function*() {
    const port = yield* fromResult(checkInt("port", o.port, 0))
    const adminPort = yield* fromResult(checkInt("admin-port", o.adminPort, 0))
    if (port > 65535) return yield* new UsageError({ reason: `--port must be at most 65535, got ${port}` })
    if (adminPort > 65535) {
      return yield* new UsageError({ reason: `--admin-port must be at most 65535, got ${adminPort}` })
    }
    if (port !== 0 && port === adminPort) {
      return yield* new UsageError({ reason: `--port and --admin-port must differ, both are ${port}` })
    }
    const m = LOOPBACK.exec(o.host)
    if (m === null || m.slice(1).some((part) => Number(part) > 255)) {
      return yield* new UsageError({ reason: `--host must be an IPv4 loopback address (127.x.y.z), got ${o.host}` })
    }
    if (!(profiles as ReadonlyArray<string>).includes(o.profile)) {
      return yield* new UsageError({ reason: `--profile must be one of ${profiles.join(", ")}, got ${o.profile}` })
    }
    if (!Number.isFinite(o.latency) || o.latency < 0) {
      return yield* new UsageError({ reason: `--latency must be a number of milliseconds >= 0, got ${o.latency}` })
    }
    const drainDelay = yield* fromResult(parseDuration("drain-delay", o.drainDelay))
    const budget = yield* fromResult(parseDuration("budget", o.budget))
    if (!Duration.isGreaterThan(budget, drainDelay)) {
      return yield* new UsageError({ reason: "--budget must be longer than --drain-delay" })
    }
    return { ...o, port, adminPort, profile: o.profile as Profile, drainDelay, budget }
  })

const requestsCounter = Metric.counter("async_ops_fault_server_requests_total", {
  description: "Requests the fault server received since start, by outcome (status code or reply kind)",
  incremental: true
})
const inFlightGauge = Metric.gauge("async_ops_fault_server_in_flight", {
  description: "Requests the fault server is answering now"
})
const peakGauge = Metric.gauge("async_ops_fault_server_peak_concurrency", {
  description: "The most requests the fault server answered at once since start"
})

/**
 * Copies the fault server's numbers into the metrics (run at each scrape, so `/metrics` is current): the request
 * count only rises, so it is a counter, raised by what arrived since the last scrape.
 */
const updateMetrics = (server: FaultServer.FaultServer, reported: Map<string, number>) =>
  Effect.flatMap(server.stats, (stats) =>
    Effect.all([
      Metric.update(inFlightGauge, stats.inFlight),
      Metric.update(peakGauge, stats.peakConcurrency),
      Effect.forEach(
        Object.entries(stats.byOutcome),
        ([outcome, count]) => {
          const delta = count - (reported.get(outcome) ?? 0)
          reported.set(outcome, count)
          return delta > 0 ? Metric.update(Metric.withAttributes(requestsCounter, { outcome }), delta) : Effect.void
        },
        { discard: true }
      )
    ], { discard: true }))

/**
 * Makes every response of the server on `host:port` carry `Connection: close` (and close its connection after
 * it) once `phase()` is no longer `running`. The fault server's Node listener is reached through Node's
 * `http.server.request.start` diagnostics channel, which runs before the request handler; the holder it returns
 * gets that listener with the first request.
 */
const closeConnectionsOnShutdown = (host: string, port: number, phase: () => Shutdown.Phase) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const holder: { server: Http.Server | undefined } = { server: undefined }
      const onRequest = (message: unknown): void => {
        const { response, server } = message as { readonly server: Http.Server; readonly response: Http.ServerResponse }
        if (server !== holder.server) {
          const address = server.address()
          if (address === null || typeof address === "string" || address.port !== port || address.address !== host) {
            return
          }
          holder.server = server
        }
        if (phase() !== "running") response.shouldKeepAlive = false
      }
      Diagnostics.subscribe("http.server.request.start", onRequest)
      return { holder, onRequest }
    }),
    ({ onRequest }) => Effect.sync(() => Diagnostics.unsubscribe("http.server.request.start", onRequest))
  ).pipe(Effect.map(({ holder }) => holder))

/**
 * Stops accepting connections without touching the open ones (`net.Server#close`: Node's `http.Server#close`
 * would also drop the connections that were just accepted and whose request is still on its way, resetting
 * them), then waits until every connection has ended: each answers its request with `Connection: close`, and an
 * idle keep-alive connection ends by the server's keep-alive timeout (5 s by default).
 */
const stopAccepting = (server: Http.Server | undefined): Effect.Effect<void> =>
  server === undefined || !server.listening ? Effect.void : Effect.callback<void>((resume) => {
    Net.Server.prototype.close.call(server, () => resume(Effect.void))
  })

const describe = (cause: unknown): string => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (code === "EADDRINUSE") return "address in use"
    if (code === "EACCES") return "permission denied"
    if (code === "EADDRNOTAVAIL") return "address not available"
    current = (current as { readonly cause?: unknown }).cause
  }
  return cause instanceof Error ? cause.message : String(cause)
}

/** @internal */
export const run = (options: ServeOptions): Effect.Effect<void, UsageError | StoppedError> =>
  Effect.gen(function*() {
    const o = yield* resolveOptions(options)
    const { defaultRoute, routes } = routesFor(o.profile, o.latency)
    const program = Effect.scoped(Effect.gen(function*() {
      const shutdown = yield* Shutdown.Shutdown
      // the fault server lives in a scope of its own, closed by the shutdown's `stopping` phase (below)
      const serverScope = yield* Scope.make()
      yield* Effect.addFinalizer((exit) => Scope.close(serverScope, exit))
      const server = yield* FaultServer.make({
        hosts: [o.host],
        port: o.port,
        seed: o.seed,
        routes,
        defaultRoute,
        maxRecorded: 1_000,
        shutdownGrace: o.budget
      }).pipe(
        Scope.provide(serverScope),
        Effect.mapError((e) =>
          e._tag === "ListenError"
            ? new UsageError({ reason: `cannot listen on ${e.address}:${e.port}: ${describe(e.cause)}` })
            : new UsageError({ reason: e.message })
        )
      )
      // once the shutdown starts, every response says `Connection: close`: keep-alive clients leave during the
      // drain delay instead of sending more requests on connections the listener's close cannot end
      const listener = yield* closeConnectionsOnShutdown(
        o.host,
        server.port,
        () => SubscriptionRef.getUnsafe(shutdown.phase)
      )
      // stopping: the listener stops accepting, every connection ends after its answer (the budget bounds the
      // wait), then the fault server's scope closes (what is still open then is destroyed)
      yield* Shutdown.register(
        "fault-server",
        Effect.suspend(() => stopAccepting(listener.server)).pipe(Effect.andThen(Scope.close(serverScope, Exit.void)))
      )
      yield* Health.register({
        name: "fault-server",
        kinds: ["liveness", "readiness", "startup"],
        run: Effect.asVoid(server.stats)
      }).pipe(Effect.orDie)

      const metrics = yield* Prometheus.handler().pipe(Effect.orDie)
      const reported = new Map<string, number>()
      const admin = HttpRouter.serve(
        Layer.mergeAll(
          Health.routes,
          HttpRouter.add("GET", "/metrics", Effect.andThen(updateMetrics(server, reported), metrics))
        ),
        { disableLogger: true, disableListenLog: true }
      ).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: o.adminPort, host: o.host })))
      const context = yield* Layer.build(Shutdown.layerServer(admin, { name: "admin" })).pipe(
        Effect.mapError((e) => new UsageError({ reason: `cannot listen on ${o.host}:${o.adminPort}: ${describe(e)}` }))
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      const adminPort = "port" in address ? address.port : o.adminPort
      yield* Console.log(`admin on http://${o.host}:${adminPort} (/livez /readyz /healthz /metrics)`)
      yield* Console.log(`listening on http://${o.host}:${server.port}`)
      return yield* Effect.never
    }))
    const report = yield* Main.run(program, {
      shutdown: { drainDelay: o.drainDelay, budget: o.budget },
      layer: Health.layer
    }).pipe(Effect.catchTag("InvalidOptionError", (e) => Effect.fail(new UsageError({ reason: e.message }))))
    const code = report.exitCode ?? 0
    if (code !== 0) {
      return yield* new StoppedError({
        signal: report.reason ?? "trigger",
        exitCode: code,
        reason: `shutdown ${report.outcome} after ${report.elapsedMs} ms` +
          (report.cutOff.length > 0 ? `, cut off: ${report.cutOff.join(", ")}` : "")
      })
    }
    yield* Console.error(`stopped by ${report.reason ?? "trigger"}: ${report.outcome} in ${report.elapsedMs} ms`)
  })
