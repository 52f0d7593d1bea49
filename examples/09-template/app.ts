/**
 * Replaces the guide's production-ready asyncio service skeleton (an aiohttp `web.Application` with middlewares,
 * one shared `ClientSession` opened in `cleanup_ctx`, semaphore-bounded fetches, `/health` and `/ready` handlers,
 * a `GracefulShutdown` that catches SIGTERM, waits for in-flight requests and closes resources, all started by
 * `asyncio.run(main())`) with a real runnable service: routes on effect/http, ServerKit middlewares (problem+json,
 * timeout, load shedding, in-flight tracking, access log), one resilient outbound client with bounded fan-out,
 * health probes, Prometheus `/metrics`, and the Kubernetes shutdown timeline run by `Main.runMain`.
 *
 * Run it: `PORT=8080 node examples/09-template/app.ts` (env: PORT, HOST, DRAIN_DELAY_MS, BUDGET_MS, UPSTREAM_URL,
 * LOG_LEVEL). `program` (for the catalogue) starts it on a free port, calls it, triggers the shutdown while a
 * request is in flight and prints what happened.
 */
import { Metrics } from "@async-ops/core"
import { FetchAll, HttpResilience, ServerKit } from "@async-ops/http"
import * as EventLoopMonitor from "@async-ops/service/EventLoopMonitor"
import * as Health from "@async-ops/service/Health"
import * as Introspection from "@async-ops/service/Introspection"
import * as Main from "@async-ops/service/Main"
import * as Prometheus from "@async-ops/service/Prometheus"
import * as Shutdown from "@async-ops/service/Shutdown"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Deferred, Effect, Fiber, Layer, Metric, Schedule, Schema } from "effect"
import { flow } from "effect/Function"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import type * as LogLevel from "effect/LogLevel"
import { createServer } from "node:http"

/** What the service is configured with (from the environment in `main`). */
export interface Config {
  readonly port: number
  readonly host: string
  /** Readiness fails this long before the listener closes (the in-process preStop). */
  readonly drainDelayMs: number
  /** The whole shutdown's budget. */
  readonly budgetMs: number
  /**
   * Where `/aggregate` fetches items from (a base URL such as `http://items.internal:8080`); default: this service
   * itself, at the address its listener is bound to. Never taken from the request (its `Host` header is the
   * client's to choose: building an upstream URL from it lets any client make the server fetch from any address).
   */
  readonly upstream: string | undefined
}

/** Reads the configuration from environment variables (bad values fail fast when the layers validate them). */
export const configFromEnv = (env: NodeJS.ProcessEnv): Config => ({
  port: Number(env["PORT"] ?? 8080),
  host: env["HOST"] ?? "127.0.0.1",
  drainDelayMs: Number(env["DRAIN_DELAY_MS"] ?? 5_000),
  budgetMs: Number(env["BUDGET_MS"] ?? 30_000),
  upstream: env["UPSTREAM_URL"]
})

// Parameters are decoded with Schema; a value that does not decode fails with `SchemaError`, which `problemJson`
// (below) answers as a 400 problem+json naming the parameter.
const ItemPath = Schema.Struct({ id: Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)) })
const WorkQuery = Schema.Struct({
  ms: Schema.optional(
    Schema.FiniteFromString.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(3_600_000))
  )
})

/** `GET /work`: the typical request, 50-200 ms of (simulated) work, a deterministic spread. */
const work = (counter: { n: number }) =>
  Effect.gen(function*() {
    const { ms } = yield* HttpServerRequest.schemaSearchParams(WorkQuery)
    const n = counter.n++
    yield* Effect.sleep(ms ?? 50 + (n * 37) % 151)
    return HttpServerResponse.jsonUnsafe({ ok: true })
  })

/** `GET /items/:id`: an item (the upstream of `/aggregate` when none is configured). */
const item = Effect.gen(function*() {
  const { id } = yield* HttpRouter.schemaPathParams(ItemPath)
  return HttpServerResponse.jsonUnsafe({ id, name: `item-${id}` })
})

/**
 * `GET /aggregate`: fetches five items through the shared resilient client, at most 2 at a time, from the
 * configured upstream (`self.url`: the configured one, else this server's own bound address, set at start).
 */
const aggregate = (self: { url: string | undefined }) =>
  Effect.gen(function*() {
    const base = self.url
    if (base === undefined) return HttpServerResponse.text("Service Unavailable", { status: 503 })
    const urls = [1, 2, 3, 4, 5].map((id) => `${base}/items/${id}`)
    const settled = yield* FetchAll.fetchAll(urls, { concurrency: 2 })
    return HttpServerResponse.jsonUnsafe({
      items: settled.successes.map((s) => JSON.parse(s.value.text) as unknown),
      failed: settled.failures.length
    })
  })

/**
 * The HTTP server: routes, probes, `/metrics` and the middlewares, built in a scope of its own and registered with
 * the shutdown (listener closed, in-flight requests drained, in the `stopping` phase).
 */
const ServerLive = (config: Config) =>
  Layer.unwrap(Effect.gen(function*() {
    const inFlight = yield* ServerKit.inFlight({ name: "http", metrics: true })
    const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 200, maxQueued: 400, name: "http", metrics: true })
    const timeout = yield* ServerKit.timeout({ duration: "10 seconds" })
    const accessLog = yield* ServerKit.accessLog({ level: "Debug" })
    const closeOnShutdown = yield* Shutdown.middleware
    const counter = { n: 0 }
    const upstream = { url: config.upstream }
    const Routes = Layer.mergeAll(
      HttpRouter.add("GET", "/work", work(counter)),
      HttpRouter.add("GET", "/items/:id", item),
      HttpRouter.add("GET", "/aggregate", aggregate(upstream)),
      Health.routes,
      Prometheus.layer(),
      Introspection.routes,
      HttpRouter.middleware(
        flow(
          ServerKit.problemJson({ errors: { SchemaError: 400 } }),
          timeout,
          shedding.middleware,
          inFlight.middleware,
          closeOnShutdown,
          accessLog
        ),
        { global: true }
      )
    )
    // without a configured upstream, `/aggregate` calls this server at the address its listener is bound to
    const SelfUpstream = Layer.effectDiscard(HttpServer.addressFormattedWith((url) =>
      Effect.sync(() => {
        upstream.url ??= url
      })
    ))
    const server = HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
      Layer.merge(SelfUpstream),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: config.port, host: config.host }))
    )
    return Shutdown.layerServer(server, { inFlight })
  }))

/** The one shared outbound client (aiohttp's single `ClientSession`), closed after the server has drained. */
const ClientLive = HttpResilience.layerUndici({
  name: "upstream",
  maxConnectionsPerHost: 8,
  requestTimeout: "2 seconds",
  metrics: true
})

/** The whole application: the server over the shared client. */
export const AppLive = (config: Config) =>
  ServerLive(config).pipe(Layer.provide(ClientLive), Layer.provide(Introspection.layer))

/** Starts the application, runs `afterStart` with its base URL, and serves until the shutdown closes it. */
export const serve = <E, R>(
  config: Config,
  afterStart: (url: string) => Effect.Effect<void, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(AppLive(config))
    const url = yield* HttpServer.addressFormattedWith((u) => Effect.succeed(u)).pipe(Effect.provideContext(context))
    yield* afterStart(url)
    return yield* Effect.never
  }))

/**
 * The process's services: the health registry, and an event-loop monitor (the delay histogram on `/metrics`, a
 * warning log past 100 ms) with its check in `/healthz` and `/livez` (not critical: a stall degrades, 200).
 * Not in the catalogue demo below, whose printed report must not depend on how busy the machine is.
 */
export const ServicesLive = Layer.effectDiscard(Health.register(EventLoopMonitor.healthCheck())).pipe(
  Layer.provide(EventLoopMonitor.layer({ threshold: "100 millis", checkThreshold: "500 millis" })),
  Layer.provideMerge(Health.layer)
)

/** The process entry point: env config, logfmt logs, exit code from the shutdown. */
export const main = (env: NodeJS.ProcessEnv): void => {
  const config = configFromEnv(env)
  Main.runMain(serve(config, (url) => Console.log(`listening on ${url}`)), {
    layer: ServicesLive,
    shutdown: { drainDelay: config.drainDelayMs, budget: config.budgetMs },
    logFormat: "logfmt",
    logLevel: (env["LOG_LEVEL"] ?? "Info") as LogLevel.LogLevel
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The catalogue's self-demo: a bounded run of the same service.
// ---------------------------------------------------------------------------------------------------------------

const inFlightNow = Metric.value(Metric.withAttributes(Metrics.inFlight, { primitive: "ServerInFlight", name: "http" }))

/** The demo's caller: a few requests, then a shutdown while a slow request is in flight. */
const caller = (url: string, gate: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const client = yield* HttpResilience.ResilientClient
    const get = (path: string) =>
      client.get(`${url}${path}`).pipe(
        Effect.map((res) => ({ status: res.status, text: res.text })),
        Effect.catchTag("StatusError", (e) => Effect.succeed({ status: e.status, text: e.body }))
      )
    const show = (path: string) =>
      Effect.flatMap(get(path), (r) => Console.log(`GET ${path} ${r.status} ${r.text || "(empty)"}`))
    yield* show("/work?ms=20")
    yield* show("/items/7")
    yield* show("/aggregate")
    yield* show("/readyz")
    const health = yield* get("/healthz")
    const body = JSON.parse(health.text) as Health.Report
    yield* Console.log(
      `GET /healthz ${health.status} ${body.status}: ${body.checks.map((c) => `${c.name} ${c.status}`).join(", ")}`
    )
    const metrics = yield* get("/metrics")
    const line = /^async_ops_in_flight\{primitive="ServerInFlight",name="http"\} \d+$/m.test(metrics.text)
    yield* Console.log(`GET /metrics ${metrics.status} shows async_ops_in_flight for the server: ${line}`)
    // a slow request, in flight when the shutdown starts
    const slow = yield* Effect.forkChild(get("/work?ms=300"), { startImmediately: true })
    yield* inFlightNow.pipe(Effect.repeat({ until: (g) => g.value >= 1, schedule: Schedule.spaced("2 millis") }))
    yield* Console.log("-- shutdown triggered with a request in flight")
    yield* Shutdown.trigger("demo")
    const ready = yield* get("/readyz")
    yield* Console.log(`GET /readyz ${ready.status} (the listener is still open)`)
    const answer = yield* Fiber.join(slow)
    yield* Console.log(`in-flight GET /work ${answer.status} ${answer.text}`)
  }).pipe(
    Effect.provide(HttpResilience.layerUndici({ name: "demo-caller", retry: false })),
    Effect.ensuring(Deferred.succeed(gate, undefined))
  )

export const program = Effect.gen(function*() {
  const config: Config = { port: 0, host: "127.0.0.1", drainDelayMs: 50, budgetMs: 10_000, upstream: undefined }
  const gate = yield* Deferred.make<void>()
  const report = yield* Main.run(
    serve(config, (url) =>
      Effect.gen(function*() {
        yield* Console.log("-- listening on a free port")
        // registered after the server, so it drains first: the listener stays open until the caller is done
        yield* Shutdown.register("demo caller", Deferred.await(gate))
        yield* Effect.forkScoped(caller(url, gate))
      })),
    {
      layer: Health.layer,
      shutdown: { signals: [], drainDelay: config.drainDelayMs, budget: config.budgetMs },
      logLevel: "None"
    }
  )
  yield* Console.log(`phases: ${["running", ...report.phases.map((p) => p.phase)].join(" -> ")}`)
  yield* Console.log(`steps: ${report.steps.map((s) => `${s.name} ${s.status}`).join(", ")}`)
  yield* Console.log(`outcome: ${report.outcome}, exit code ${report.exitCode}, cut off: ${report.cutOff.length}`)
})

if (import.meta.main) main(process.env)
