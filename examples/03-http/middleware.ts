/**
 * Replaces aiohttp `@web.middleware` functions written by hand (an error middleware turning exceptions into JSON,
 * an access logger, a semaphore that answers 503 when the service is saturated): ServerKit's `problemJson`,
 * `accessLog` and `loadShedding` around effect/http's router.
 */
import { HttpResilience, HttpResilienceError, ServerKit } from "@async-ops/http"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Data, Deferred, Effect, Fiber, Layer, Logger, References, Schema } from "effect"
import { flow } from "effect/Function"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"

class UserNotFound extends Data.TaggedError("UserNotFound")<{ readonly id: string }> {
  override get message(): string {
    return `no user ${this.id}`
  }
}

/** `/slow` holds its request until `release` opens, so the shedding below depends on no timing. */
const makeRoutes = (release: Deferred.Deferred<void>) =>
  Layer.mergeAll(
    HttpRouter.add(
      "GET",
      "/users/:id",
      Effect.gen(function*() {
        const { id } = yield* HttpRouter.schemaPathParams(Schema.Struct({ id: Schema.String }))
        if (id !== "1") return yield* new UserNotFound({ id })
        return HttpServerResponse.jsonUnsafe({ id: 1, name: "Ada" })
      })
    ),
    HttpRouter.add("GET", "/boom", Effect.die(new Error("database password=hunter2 rejected"))),
    HttpRouter.add("GET", "/slow", Effect.as(Deferred.await(release), HttpServerResponse.text("done")))
  )

/** Runs `use` against the server with the middlewares, collecting the access log lines (without durations). */
const withServer = <A, E>(
  release: Deferred.Deferred<void>,
  shedding: ServerKit.LoadShedding,
  accessLines: Array<string>,
  use: (base: string, client: HttpResilience.ResilientClient) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const accessLog = yield* ServerKit.accessLog()
    const Kit = HttpRouter.middleware(
      flow(ServerKit.problemJson({ errors: { UserNotFound: 404 } }), shedding.middleware, accessLog),
      { global: true }
    )
    const capture = Logger.make(({ fiber, message }) => {
      if ("http.status" in fiber.getRef(References.CurrentLogAnnotations)) {
        accessLines.push(
          (Array.isArray(message) ? message : [message]).map(String).join(" ").replace(/ [0-9.]+ms$/, "")
        )
      }
    })
    const Server = HttpRouter.serve(Layer.mergeAll(makeRoutes(release), Kit), {
      disableLogger: true,
      disableListenLog: true
    }).pipe(
      Layer.provide(Logger.layer([capture])),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
    return yield* Effect.gen(function*() {
      const base = yield* HttpServer.addressFormattedWith((url) => Effect.succeed(url))
      return yield* use(base, yield* HttpResilience.ResilientClient)
    }).pipe(
      Effect.provide(HttpResilience.layerUndici({ retry: false, maxConnectionsPerHost: 10 })),
      Effect.provide(Server)
    )
  })

const show = (call: Effect.Effect<HttpResilience.Response, HttpResilienceError.HttpError>) =>
  call.pipe(
    Effect.map((res) => ({ status: res.status, type: res.headers["content-type"], body: res.text })),
    Effect.catchTag("StatusError", (e) =>
      Effect.succeed({ status: e.status, type: e.headers["content-type"], body: e.body })),
    Effect.flatMap((r) =>
      Console.log(`${r.status} [${r.type}] ${r.body}`)
    )
  )

export const program = Effect.gen(function*() {
  const accessLines: Array<string> = []
  const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 2, maxQueued: 2, retryAfter: "1 second" })
  const release = yield* Deferred.make<void>()

  yield* withServer(release, shedding, accessLines, (base, client) =>
    Effect.gen(function*() {
      yield* Console.log("-- problem+json: a typed error mapped to 404, a defect as a 500 that leaks nothing")
      yield* show(client.get(`${base}/users/1`))
      yield* show(client.get(`${base}/users/2`))
      yield* show(client.get(`${base}/boom`))
      yield* show(client.get(`${base}/nowhere`))

      yield* Console.log("-- load shedding: 10 requests at once, 2 run, 2 wait, the rest get 503 at once")
      const requests = yield* Effect.forkChild(Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        () =>
          client.get(`${base}/slow`).pipe(
            Effect.map((res) => `${res.status}`),
            Effect.catchTag(
              "StatusError",
              (e) => Effect.succeed(`${e.status} Retry-After: ${e.headers["retry-after"]}`)
            )
          ),
        { concurrency: "unbounded" }
      ))
      // the admitted requests are held by /slow until the other six have been shed
      const sixShed = Effect.map(shedding.stats, (s) => s.rejectedQueueFull >= 6)
      while (!(yield* sixShed)) yield* Effect.sleep("1 millis")
      yield* Deferred.succeed(release, undefined)
      const outcomes = yield* Fiber.join(requests)
      const counts = new Map<string, number>()
      for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1)
      for (const [outcome, n] of [...counts].toSorted()) yield* Console.log(`${n} x ${outcome}`)
    }))

  const stats = yield* shedding.stats
  yield* Console.log(
    `bulkhead: ${stats.acquired} admitted (4 earlier + 4 /slow), ${stats.waited} waited in the queue, ` +
      `${stats.rejectedQueueFull} shed, ${stats.inFlight} in flight now`
  )

  yield* Console.log("-- access log (durations left out)")
  const first = accessLines.slice(0, 4)
  for (const line of first) yield* Console.log(line)
  const slow = accessLines.slice(4)
  const ok = slow.filter((line) => line === "GET /slow 200").length
  const shed = slow.filter((line) => line === "GET /slow 503").length
  yield* Console.log(`then ${slow.length} lines for /slow: ${ok} x 200, ${shed} x 503`)
})
