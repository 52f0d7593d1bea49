/**
 * Replaces the Python guide's Kubernetes probe handlers (aiohttp routes for `/health/live` and `/health/ready`
 * that read module-level flags such as `app["ready"] = True` set at the end of startup and cleared on SIGTERM)
 * with `Health.routes` on a real server: `/livez`, `/readyz` and `/startupz` answer with the status code only,
 * driven by typed checks; the startup probe turns 200 once every startup check passed once, a non-critical
 * failure keeps readiness at 200 (degraded), and a failing readiness check takes the pod out of the load balancer
 * while liveness stays 200.
 */
import { HttpResilience } from "@async-ops/http"
import * as Health from "@async-ops/service/Health"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Effect, Layer, Ref } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { createServer } from "node:http"

const serverLayer = HttpRouter.serve(Health.routes, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(Health.layer)
)

export const program = Effect.gen(function*() {
  const migrated = yield* Ref.make(false)
  const cacheUp = yield* Ref.make(true)
  const draining = yield* Ref.make(false)
  yield* Effect.gen(function*() {
    const base = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url))
    const client = yield* HttpResilience.ResilientClient
    const status = (path: string) =>
      client.get(`${base}${path}`).pipe(
        Effect.map((res) => res.status),
        Effect.catchTag("StatusError", (e) => Effect.succeed(e.status))
      )
    const probe = (title: string) =>
      Effect.gen(function*() {
        const codes = yield* Effect.forEach(["/startupz", "/livez", "/readyz"], (p) =>
          Effect.map(status(p), (code) => `${p} ${code}`))
        yield* Console.log(`${title.padEnd(28)} ${codes.join("  ")}`)
      })

    yield* Health.register({ name: "event-loop", kinds: ["liveness"], run: Effect.void })
    yield* Health.register({
      name: "migrations",
      kinds: ["startup", "readiness"],
      run: Effect.flatMap(Ref.get(migrated), (done) => done ? Effect.void : Effect.fail("still running"))
    })
    yield* Health.register({
      name: "cache",
      kinds: ["readiness"],
      critical: false,
      run: Effect.flatMap(Ref.get(cacheUp), (up) => up ? Effect.void : Effect.fail("connection refused"))
    })
    yield* Health.register({
      name: "shutdown",
      kinds: ["readiness"],
      run: Effect.map(Ref.get(draining), (d) => d ? "unhealthy" as const : "healthy" as const)
    })

    yield* probe("starting (migrations run)")
    yield* Ref.set(migrated, true)
    yield* probe("migrations done")
    yield* Ref.set(cacheUp, false)
    yield* probe("cache down (non-critical)")
    const detail = yield* Effect.flatMap(
      client.get(`${base}/healthz`),
      (res) => Effect.sync(() => JSON.parse(res.text) as Health.Report)
    )
    yield* Console.log(
      `/healthz ${detail.status}: ${detail.checks.map((c) => `${c.name}=${c.status}`).join(" ")}`
    )
    yield* Ref.set(draining, true)
    yield* probe("SIGTERM: draining")
  }).pipe(
    Effect.scoped,
    Effect.provide(HttpResilience.layerUndici({ retry: false })),
    Effect.provide(serverLayer)
  )
  yield* Console.log("-- server stopped with the scope")
})
