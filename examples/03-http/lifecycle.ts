/**
 * Replaces aiohttp's `app.cleanup_ctx.append(db_ctx)` / `app.on_startup` + `app.on_cleanup` hooks (open the
 * database pool and the shared `ClientSession` at startup, close them at shutdown): each resource is a Layer, built
 * in dependency order and closed in reverse when the program's scope ends, also on failure or interruption.
 */
import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"

/** Prints when a resource starts opening and once it is closed, around `layer`. */
const announced = <A, E, R>(name: string, layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  layer.pipe(
    Layer.provideMerge(
      Layer.effectDiscard(
        Effect.acquireRelease(Console.log(`startup: open ${name}`), () => Console.log(`cleanup: ${name} closed`))
      )
    )
  )

/** A stand-in database pool: opened and closed with the layer. */
class Database extends Context.Service<Database, { readonly query: (sql: string) => Effect.Effect<number> }>()(
  "examples/lifecycle/Database"
) {}

const DatabaseLive = announced(
  "database pool",
  Layer.effect(
    Database,
    Effect.acquireRelease(
      Effect.succeed({ query: (_sql: string) => Effect.succeed(42) }),
      () => Console.log("cleanup: database pool drained")
    )
  )
)

/** The upstream service the app calls (a FaultServer here, so the example needs nothing external). */
const UpstreamLive = announced(
  "upstream service",
  FaultServer.layer({ routes: { "/price": { reply: { body: "9.99" } } } })
)

/** The shared outbound client (aiohttp's one `ClientSession` per app). */
const OutboundLive = announced("outbound HTTP client", HttpResilience.layerUndici({ name: "outbound", retry: false }))

/** The app's own server, whose route uses the database and the outbound client. */
const Routes = HttpRouter.add(
  "GET",
  "/report",
  Effect.gen(function*() {
    const db = yield* Database
    const client = yield* HttpResilience.ResilientClient
    const upstream = yield* FaultServer.FaultServer
    const rows = yield* db.query("select count(*) from orders")
    const price = yield* client.get(upstream.url("/price"))
    return HttpServerResponse.jsonUnsafe({ orders: rows, price: price.text })
  })
)

const AppServerLive = announced(
  "app server",
  HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
)

/** Startup order: upstream, database, outbound client, app server; cleanup is the reverse. */
const AppLive = AppServerLive.pipe(
  Layer.provideMerge(OutboundLive),
  Layer.provideMerge(DatabaseLive),
  Layer.provideMerge(UpstreamLive)
)

export const program = Effect.gen(function*() {
  yield* Effect.gen(function*() {
    yield* Console.log("-- serving")
    const base = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url))
    // a caller of the app, with its own client (closed before the app shuts down)
    const res = yield* Effect.flatMap(HttpResilience.ResilientClient, (caller) => caller.get(`${base}/report`)).pipe(
      Effect.provide(HttpResilience.layerUndici({ name: "caller" }))
    )
    yield* Console.log(`GET /report -> ${res.status} ${res.text}`)
    yield* Console.log("-- shutting down")
  }).pipe(Effect.provide(AppLive))
  yield* Console.log("-- all resources closed")
})
