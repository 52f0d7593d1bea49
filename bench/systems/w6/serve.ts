/**
 * W6's Effect servers: one `HttpRouter` route, `GET /hello` answering `ok`, served by `NodeHttpServer` on
 * 127.0.0.1 port 0 with the logger off, optionally with global router middleware; timed by the load generator in a
 * process of its own (see ../../http/loadgen.ts).
 */
import { NodeHttpServer } from "@effect/platform-node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as http from "node:http"
import { type Load, runLoad } from "../../http/process.ts"
import type { Args } from "../../runner.ts"

const Routes = HttpRouter.add("GET", "/hello", HttpServerResponse.text("ok"))

/** Serves the route (with `middleware` around the router, if any) and runs the load against it. */
export const serveAndLoad = (
  { size, params }: Args,
  middleware?: Layer.Layer<never, never, HttpRouter.HttpRouter>
): Effect.Effect<Load, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const app = HttpRouter.serve(middleware === undefined ? Routes : Layer.mergeAll(Routes, middleware), {
      disableLogger: true,
      disableListenLog: true
    })
    const context = yield* Layer.build(
      app.pipe(Layer.provideMerge(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" })))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    const port = "port" in address ? address.port : 0
    return yield* Effect.promise(() =>
      runLoad({
        port,
        total: size,
        concurrency: params["concurrency"] ?? 100,
        warmup: Math.ceil((size * (params["warmupPercent"] ?? 0)) / 100)
      })
    )
  }))
