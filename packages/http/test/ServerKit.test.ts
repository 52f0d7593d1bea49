import { Metrics } from "@async-ops/core"
import { Deadline } from "@async-ops/core"
import { ServerKit } from "@async-ops/http"
import { LeakCheck } from "@async-ops/testing"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  Metric,
  Option,
  Ref,
  References,
  Stream
} from "effect"
import { flow } from "effect/Function"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import type * as net from "node:net"

// ---------------------------------------------------------------------------------------------------------------
// A node:http client: one connection per request (no agent), so the tests see every socket they open.
// ---------------------------------------------------------------------------------------------------------------

interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

class ClientError extends Data.TaggedError("ClientError")<{ readonly message: string }> {}

const clientSockets = new Set<net.Socket>()

const request = (
  url: string,
  options: {
    readonly method?: string
    readonly headers?: Record<string, string>
    /** Written in one piece with Content-Length. */
    readonly body?: string
    /** Written piece by piece without Content-Length (chunked). */
    readonly chunks?: ReadonlyArray<string>
  } = {}
): Effect.Effect<Reply, ClientError> =>
  Effect.callback<Reply, ClientError>((resume) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body))
    const req = http.request(url, { method: options.method ?? "GET", headers, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      // Answer once the response is read and the connection is closed (no keep-alive: the server closes it).
      res.on("end", () => {
        const reply = { status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }
        if (res.socket.destroyed) resume(Effect.succeed(reply))
        else res.socket.once("close", () => resume(Effect.succeed(reply)))
      })
      res.on("error", (e) => resume(Effect.fail(new ClientError({ message: e.message }))))
    })
    req.on("socket", (socket) => clientSockets.add(socket))
    req.on("error", (e) => resume(Effect.fail(new ClientError({ message: e.message }))))
    if (options.body !== undefined) req.end(options.body)
    else if (options.chunks !== undefined) {
      for (const chunk of options.chunks) req.write(chunk)
      req.end()
    } else req.end()
    return Effect.sync(() => req.destroy())
  })

const json = (reply: Reply): any => JSON.parse(reply.body)

/** Polls a condition on server state that a test cannot await directly (bounded: fails after 2 seconds). */
const waitUntil = (check: Effect.Effect<boolean>): Effect.Effect<void, Cause.TimeoutError> => {
  const loop: Effect.Effect<void> = Effect.flatMap(
    check,
    (ok) => ok ? Effect.void : Effect.andThen(Effect.sleep("2 millis"), loop)
  )
  return Effect.timeout(loop, "2 seconds")
}

// ---------------------------------------------------------------------------------------------------------------
// A real server on 127.0.0.1, port 0, for the duration of `use`.
// ---------------------------------------------------------------------------------------------------------------

const nodeServers: Array<http.Server> = []

const withServer = <A, E, R>(
  app: Layer.Layer<never, unknown, any>,
  use: (base: string) => Effect.Effect<A, E, R>,
  extra: Layer.Layer<never> = Layer.empty
): Effect.Effect<A, unknown, R> =>
  Effect.scoped(Effect.gen(function*() {
    const serverLayer = NodeHttpServer.layer(() => {
      const server = http.createServer()
      nodeServers.push(server)
      return server
    }, { port: 0, host: "127.0.0.1" })
    const context = yield* Layer.build(
      app.pipe(Layer.provide(extra), Layer.provideMerge(serverLayer)) as Layer.Layer<HttpServer.HttpServer, unknown>
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    const port = "port" in address ? address.port : 0
    return yield* use(`http://127.0.0.1:${port}`)
  }))

type AnyMiddleware = (
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, any, any>
) => Effect.Effect<HttpServerResponse.HttpServerResponse, any, any>

/** Where a middleware goes: `HttpRouter.serve`'s `middleware`, or `HttpRouter.middleware(fn, { global: true })`. */
const placements = ["server", "route"] as const

/** Serves `routes` with `server` middleware around the whole server and `route` middleware around the routes. */
const serve = (
  routes: Layer.Layer<never, never, any>,
  options: {
    readonly server?: AnyMiddleware
    readonly route?: AnyMiddleware
  } = {}
): Layer.Layer<never, unknown, any> =>
  HttpRouter.serve(
    options.route === undefined
      ? routes
      : Layer.mergeAll(routes, HttpRouter.middleware(options.route as any, { global: true })),
    {
      disableLogger: true,
      disableListenLog: true,
      ...(options.server === undefined ? {} : { middleware: options.server as any })
    }
  ) as any

/** Runs a middleware on `app` outside a server, with a placeholder request (for middlewares that do not read it). */
const runBare = (
  middleware: AnyMiddleware,
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, any, any>
): Effect.Effect<HttpServerResponse.HttpServerResponse, unknown> =>
  Effect.provideService(
    middleware(app),
    HttpServerRequest.HttpServerRequest,
    HttpServerRequest.fromWeb(new Request("http://127.0.0.1/test"))
  ) as Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>

/** Every client socket closed and every server closed. */
const assertNothingLeaked = Effect.sync(() => {
  for (const socket of clientSockets) expect(socket.destroyed).toBe(true)
  for (const server of nodeServers) expect(server.listening).toBe(false)
})

class UserNotFound extends Data.TaggedError("UserNotFound")<{ readonly id: string }> {
  override get message() {
    return `No user ${this.id}`
  }
}
class Unmapped extends Data.TaggedError("Unmapped")<{}> {
  override get message() {
    return "secret internals"
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe("ServerKit.loadShedding", () => {
  for (const placement of placements) {
    it.live(`${placement}: limit 2, queue 2: of 10 concurrent slow requests 4 are admitted or queued and 6 get 503 + Retry-After`, () =>
      LeakCheck.fibers(Effect.gen(function*() {
        const shedding = yield* ServerKit.loadShedding({
          maxConcurrent: 2,
          maxQueued: 2,
          retryAfter: "3 seconds",
          name: `shed-${placement}`,
          metrics: true
        })
        const release = yield* Deferred.make<void>()
        const started = yield* Ref.make(0)
        const routes = HttpRouter.add(
          "GET",
          "/slow",
          Effect.andThen(Ref.update(started, (n) => n + 1), Deferred.await(release)).pipe(
            Effect.as(HttpServerResponse.text("done"))
          )
        )
        yield* withServer(serve(routes, { [placement]: shedding.middleware }), (base) =>
          Effect.gen(function*() {
            const rejected = yield* Ref.make<Array<Reply>>([])
            const sixRejected = yield* Deferred.make<void>()
            const fibers = yield* Effect.forEach(
              Array.from({ length: 10 }),
              () =>
                Effect.forkChild(
                  Effect.tap(request(`${base}/slow`), (reply) =>
                    reply.status === 503
                      ? Effect.flatMap(
                        Ref.updateAndGet(rejected, (all) => [...all, reply]),
                        (all) => all.length === 6 ? Deferred.succeed(sixRejected, undefined) : Effect.void
                      )
                      : Effect.void),
                  { startImmediately: true }
                )
            )
            yield* Deferred.await(sixRejected)
            const stats = yield* shedding.stats
            expect({ inFlight: stats.inFlight, queued: stats.queued, rejected: stats.rejectedQueueFull }).toEqual({
              inFlight: 2,
              queued: 2,
              rejected: 6
            })
            expect(yield* Ref.get(started)).toBe(2)
            const rejectedMetric = yield* Metric.value(
              Metric.withAttributes(Metrics.rejected, { primitive: "Bulkhead", name: `shed-${placement}` })
            )
            expect(rejectedMetric).toMatchObject({ count: 6 })
            for (const reply of yield* Ref.get(rejected)) {
              expect(reply.headers["retry-after"]).toBe("3")
              expect(reply.headers["content-type"]).toBe("application/problem+json")
              expect(json(reply)).toMatchObject({ status: 503, title: "Service Unavailable" })
            }
            yield* Deferred.succeed(release, undefined)
            const replies = yield* Fiber.joinAll(fibers)
            expect(replies.filter((r) => r.status === 200).length).toBe(4)
            expect(replies.filter((r) => r.status === 503).length).toBe(6)
            expect(yield* Ref.get(started)).toBe(4)
          }))
        const after = yield* shedding.stats
        expect({ inFlight: after.inFlight, queued: after.queued }).toEqual({ inFlight: 0, queued: 0 })
        yield* assertNothingLeaked
      })))
  }

  for (const placement of placements) {
    it.live(`${placement}: a queued request whose client goes away leaves the queue at once`, () =>
      LeakCheck.fibers(Effect.gen(function*() {
        const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 1, maxQueued: 1 })
        const release = yield* Deferred.make<void>()
        const routes = HttpRouter.add(
          "GET",
          "/slow",
          Effect.as(Deferred.await(release), HttpServerResponse.text("done"))
        )
        yield* withServer(serve(routes, { [placement]: shedding.middleware }), (base) =>
          Effect.gen(function*() {
            const holder = yield* Effect.forkChild(request(`${base}/slow`), { startImmediately: true })
            yield* waitUntil(Effect.map(shedding.stats, (s) => s.inFlight === 1))
            const queued = yield* Effect.forkChild(request(`${base}/slow`), { startImmediately: true })
            yield* waitUntil(Effect.map(shedding.stats, (s) => s.queued === 1))
            yield* Fiber.interrupt(queued) // the client closes its connection
            yield* waitUntil(Effect.map(shedding.stats, (s) => s.queued === 0))
            const next = yield* Effect.forkChild(request(`${base}/slow`), { startImmediately: true })
            yield* waitUntil(Effect.map(shedding.stats, (s) => s.queued === 1))
            yield* Deferred.succeed(release, undefined)
            const replies = yield* Fiber.joinAll([holder, next])
            expect(replies.map((r) => r.status)).toEqual([200, 200])
            expect((yield* shedding.stats).rejectedQueueFull).toBe(0)
          }))
        yield* assertNothingLeaked
      })))
  }

  for (const placement of placements) {
    it.live(`${placement}: a request queued longer than queueTimeout gets 503`, () =>
      Effect.gen(function*() {
        const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 1, maxQueued: 1, queueTimeout: "50 millis" })
        const release = yield* Deferred.make<void>()
        const routes = HttpRouter.add(
          "GET",
          "/slow",
          Effect.as(Deferred.await(release), HttpServerResponse.text("done"))
        )
        yield* withServer(serve(routes, { [placement]: shedding.middleware }), (base) =>
          Effect.gen(function*() {
            const holder = yield* Effect.forkChild(request(`${base}/slow`), { startImmediately: true })
            yield* waitUntil(Effect.map(shedding.stats, (s) => s.inFlight === 1))
            const late = yield* request(`${base}/slow`)
            expect([late.status, late.headers["retry-after"], json(late).detail]).toEqual([
              503,
              "1",
              "The request waited too long for capacity; retry later"
            ])
            yield* Deferred.succeed(release, undefined)
            expect((yield* Fiber.join(holder)).status).toBe(200)
          }))
      }))
  }

  it.effect("rejects bad options with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const bad = [
        { maxConcurrent: 0, maxQueued: 0 },
        { maxConcurrent: 1, maxQueued: -1 },
        { maxConcurrent: 1, maxQueued: 0, queueTimeout: -1 },
        { maxConcurrent: 1, maxQueued: 0, retryAfter: Number.NaN }
      ]
      const options = yield* Effect.forEach(bad, (o) =>
        Effect.flip(ServerKit.loadShedding(o)).pipe(Effect.map((e) => [e._tag, e.module, e.option])))
      expect(options).toEqual([
        ["InvalidOptionError", "ServerKit.loadShedding", "maxConcurrent"],
        ["InvalidOptionError", "ServerKit.loadShedding", "maxQueued"],
        ["InvalidOptionError", "ServerKit.loadShedding", "queueTimeout"],
        ["InvalidOptionError", "ServerKit.loadShedding", "retryAfter"]
      ])
    }))
})

describe("ServerKit.timeout", () => {
  for (const placement of placements) {
    it.live(`${placement}: interrupts a slow handler, runs its finalizer and answers 503 problem+json`, () =>
      LeakCheck.fibers(Effect.gen(function*() {
        const timeout = yield* ServerKit.timeout({ duration: "100 millis" })
        const finalized = yield* Deferred.make<void>()
        const routes = HttpRouter.add(
          "GET",
          "/stuck",
          Effect.never.pipe(Effect.ensuring(Deferred.succeed(finalized, undefined)))
        )
        const reply = yield* withServer(serve(routes, { [placement]: timeout }), (base) => request(`${base}/stuck`))
        expect(reply.status).toBe(503)
        expect(reply.headers["content-type"]).toBe("application/problem+json")
        expect(json(reply)).toMatchObject({ type: "about:blank", status: 503, title: "Service Unavailable" })
        expect(yield* Deferred.isDone(finalized)).toBe(true)
        yield* assertNothingLeaked
      })))
  }

  for (const kind of ["timeout", "deadlineHeader"] as const) {
    it.live(`a client that goes away interrupts the handler running under ${kind}`, () =>
      LeakCheck.fibers(Effect.gen(function*() {
        const timeout = kind === "timeout"
          ? yield* ServerKit.timeout({ duration: "10 seconds" })
          : yield* ServerKit.deadlineHeader()
        const entered = yield* Deferred.make<void>()
        const finalized = yield* Deferred.make<void>()
        const routes = HttpRouter.add(
          "GET",
          "/stuck",
          Effect.andThen(Deferred.succeed(entered, undefined), Effect.never).pipe(
            Effect.ensuring(Deferred.succeed(finalized, undefined))
          )
        )
        yield* withServer(serve(routes, { route: timeout }), (base) =>
          Effect.gen(function*() {
            const client = yield* Effect.forkChild(
              request(`${base}/stuck`, { headers: { "x-deadline-ms": "10000" } }),
              { startImmediately: true }
            )
            yield* Deferred.await(entered)
            yield* Fiber.interrupt(client)
            yield* Deferred.await(finalized).pipe(Effect.timeout("2 seconds"))
          }))
        yield* assertNothingLeaked
      })))
  }

  it.live("answers 504 when configured, and a fast handler is untouched", () =>
    Effect.gen(function*() {
      const timeout = yield* ServerKit.timeout({ duration: "100 millis", status: 504 })
      const routes = Layer.mergeAll(
        HttpRouter.add("GET", "/stuck", Effect.never),
        HttpRouter.add("GET", "/fast", HttpServerResponse.text("ok"))
      )
      const [stuck, fast] = yield* withServer(
        serve(routes, { server: timeout }),
        (base) => Effect.all([request(`${base}/stuck`), request(`${base}/fast`)])
      )
      expect(stuck.status).toBe(504)
      expect([fast.status, fast.body]).toEqual([200, "ok"])
    }))

  it.effect("requests started at different times each time out after their own duration, sharing one timer", () =>
    LeakCheck.fibers(Effect.gen(function*() {
      const timeout = yield* ServerKit.timeout({ duration: "100 millis" })
      const finalized: Array<string> = []
      const stuck = (name: string) => Effect.never.pipe(Effect.ensuring(Effect.sync(() => finalized.push(name))))
      const a = yield* Effect.forkChild(runBare(timeout, stuck("a")), { startImmediately: true }) // t = 0
      yield* TestClock.adjust("40 millis")
      const b = yield* Effect.forkChild(runBare(timeout, stuck("b")), { startImmediately: true }) // t = 40
      yield* TestClock.adjust("10 millis")
      const c = yield* Effect.forkChild( // t = 50: done at 120, before its deadline (150)
        runBare(timeout, Effect.as(Effect.sleep("70 millis"), HttpServerResponse.text("c"))),
        { startImmediately: true }
      )
      yield* TestClock.adjust("50 millis") // t = 100: a's deadline
      expect((yield* Fiber.join(a)).status).toBe(503)
      expect([finalized, b.pollUnsafe(), c.pollUnsafe()]).toEqual([["a"], undefined, undefined])
      yield* TestClock.adjust("20 millis") // t = 120: c answers
      expect((yield* Fiber.join(c)).status).toBe(200)
      expect(b.pollUnsafe()).toBe(undefined)
      yield* TestClock.adjust("20 millis") // t = 140: b's deadline
      expect((yield* Fiber.join(b)).status).toBe(503)
      expect(finalized).toEqual(["a", "b"])
    })))

  it.effect("a request interrupted while it waits ends its handler before the outer middlewares; the timer is re-armed", () =>
    LeakCheck.fibers(Effect.gen(function*() {
      const timeout = yield* ServerKit.timeout({ duration: "100 millis" })
      const tracker = yield* ServerKit.inFlight()
      const entered = yield* Deferred.make<void>()
      // what the in-flight tracker (outside the timeout) counted when the handler's finalizer ran
      const finalized = yield* Deferred.make<number>()
      // LeakCheck: once no request waits, neither the handler's fiber nor the shared timer is left
      yield* LeakCheck.fibers(Effect.gen(function*() {
        const waiting = yield* Effect.forkChild(
          runBare(
            flow(timeout, tracker.middleware),
            Effect.andThen(Deferred.succeed(entered, undefined), Effect.never).pipe(
              Effect.ensuring(Effect.flatMap(tracker.stats, (s) => Deferred.succeed(finalized, s.inFlight)))
            )
          ),
          { startImmediately: true }
        )
        yield* Deferred.await(entered)
        yield* Fiber.interrupt(waiting)
        expect(yield* Deferred.poll(finalized)).toEqual(Option.some(Exit.succeed(1)))
        expect((yield* tracker.stats).inFlight).toBe(0)
      }))
      yield* TestClock.adjust("30 millis")
      const later = yield* Effect.forkChild(runBare(timeout, Effect.never), { startImmediately: true })
      yield* TestClock.adjust("99 millis")
      expect(later.pollUnsafe()).toBe(undefined)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(later)).status).toBe(503)
    })))

  it.effect("rejects bad options with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const a = yield* Effect.flip(ServerKit.timeout({ duration: 0 }))
      const b = yield* Effect.flip(ServerKit.timeout({ duration: "1 second", status: 500 as any }))
      expect([a.option, b.option]).toEqual(["duration", "status"])
    }))
})

describe("ServerKit.bodyLimit", () => {
  const echoText = HttpRouter.add(
    "POST",
    "/text",
    (req) =>
      Effect.map(
        req.text,
        (text) => HttpServerResponse.text(`${text.length}/${req.headers["content-length"] ?? "chunked"}`)
      )
  )

  it.live("413 for a Content-Length over the limit, without running the handler", () =>
    LeakCheck.fibers(Effect.gen(function*() {
      const limit = yield* ServerKit.bodyLimit({ maxBytes: 1000 })
      const ran = yield* Ref.make(0)
      const routes = HttpRouter.add(
        "POST",
        "/text",
        (req) =>
          Effect.andThen(
            Ref.update(ran, (n) => n + 1),
            Effect.map(req.text, (text) => HttpServerResponse.text(String(text.length)))
          )
      )
      const [big, small] = yield* withServer(serve(routes, { route: limit }), (base) =>
        Effect.all([
          request(`${base}/text`, { method: "POST", body: "x".repeat(2000) }),
          request(`${base}/text`, { method: "POST", body: "x".repeat(1000) })
        ]))
      expect(big.status).toBe(413)
      expect(big.headers["content-type"]).toBe("application/problem+json")
      expect(json(big)).toMatchObject({ status: 413, title: "Content Too Large" })
      expect([small.status, small.body]).toEqual([200, "1000"])
      expect(yield* Ref.get(ran)).toBe(1)
      yield* assertNothingLeaked
    })))

  it.live("413 for a chunked body over the limit read with text, and with stream", () =>
    Effect.gen(function*() {
      const limit = yield* ServerKit.bodyLimit({ maxBytes: 1000 })
      const routes = Layer.mergeAll(
        echoText,
        HttpRouter.add("POST", "/stream", (req) =>
          Effect.map(
            Stream.runFold(req.stream, () => 0, (n, chunk) => n + chunk.length),
            (n) => HttpServerResponse.text(`${n}/${req.headers["content-length"] ?? "chunked"}`)
          ))
      )
      const chunks = Array.from({ length: 20 }, () => "y".repeat(100))
      const [text, smallText, stream, smallStream] = yield* withServer(serve(routes, { route: limit }), (base) =>
        Effect.all([
          request(`${base}/text`, { method: "POST", chunks }),
          request(`${base}/text`, { method: "POST", chunks: chunks.slice(0, 5) }),
          request(`${base}/stream`, { method: "POST", chunks }),
          request(`${base}/stream`, { method: "POST", chunks: chunks.slice(0, 5) })
        ]))
      expect([text.status, json(text).status]).toEqual([413, 413])
      expect([smallText.status, smallText.body]).toEqual([200, "500/chunked"])
      expect([stream.status, json(stream).status]).toEqual([413, 413])
      expect([smallStream.status, smallStream.body]).toEqual([200, "500/chunked"])
    }))

  it.effect("rejects a bad maxBytes with InvalidOptionError", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(ServerKit.bodyLimit({ maxBytes: 1.5 }))
      expect([e.module, e.option]).toEqual(["ServerKit.bodyLimit", "maxBytes"])
    }))
})

describe("ServerKit.problemJson", () => {
  const routes = Layer.mergeAll(
    HttpRouter.add("GET", "/user", Effect.fail(new UserNotFound({ id: "7" }))),
    HttpRouter.add("GET", "/unmapped", Effect.fail(new Unmapped())),
    HttpRouter.add("GET", "/defect", Effect.die(new Error("password=hunter2"))),
    HttpRouter.add("GET", "/conflict", Effect.fail({ _tag: "Conflict" as const })),
    HttpRouter.add("POST", "/json", (req) => Effect.map(req.json, () => HttpServerResponse.text("ok")))
  )
  const problems = ServerKit.problemJson({
    errors: {
      UserNotFound: 404,
      Conflict: { status: 409, title: "Already exists", type: "https://example.com/conflict", detail: () => "taken" }
    }
  })

  it.live("renders typed errors by _tag and hides defects and unmapped errors behind a bare 500", () =>
    Effect.gen(function*() {
      const [user, unmapped, defect, conflict, badJson, noRoute] = yield* withServer(
        serve(routes, { route: problems }),
        (base) =>
          Effect.all([
            request(`${base}/user`),
            request(`${base}/unmapped`),
            request(`${base}/defect`),
            request(`${base}/conflict`),
            request(`${base}/json`, { method: "POST", body: "{not json" }),
            request(`${base}/nowhere`)
          ]),
        Logger.layer([])
      )
      for (const reply of [user, unmapped, defect, conflict, badJson, noRoute]) {
        expect(reply.headers["content-type"]).toBe("application/problem+json")
      }
      expect([user.status, json(user)]).toEqual([404, {
        type: "about:blank",
        title: "Not Found",
        status: 404,
        detail: "No user 7"
      }])
      expect([unmapped.status, json(unmapped)]).toEqual([500, {
        type: "about:blank",
        title: "Internal Server Error",
        status: 500
      }])
      expect([defect.status, json(defect)]).toEqual([500, {
        type: "about:blank",
        title: "Internal Server Error",
        status: 500
      }])
      expect(defect.body).not.toContain("hunter2")
      expect([conflict.status, json(conflict)]).toEqual([409, {
        type: "https://example.com/conflict",
        title: "Already exists",
        status: 409,
        detail: "taken"
      }])
      expect([badJson.status, json(badJson).status]).toEqual([400, 400])
      expect([noRoute.status, json(noRoute).title]).toEqual([404, "Not Found"])
    }))

  it.live("shows a defect's message with exposeDefects", () =>
    Effect.gen(function*() {
      const reply = yield* withServer(
        serve(routes, { route: ServerKit.problemJson({ exposeDefects: true }) }),
        (base) => request(`${base}/defect`),
        Logger.layer([])
      )
      expect([reply.status, json(reply).detail]).toEqual([500, "password=hunter2"])
    }))
})

describe("ServerKit.accessLog", () => {
  for (const placement of placements) {
    it.live(`${placement}: logs method, path, status and duration through the Logger, also for a 404 and a failure`, () =>
      Effect.gen(function*() {
        const lines: Array<{ message: string; annotations: Record<string, unknown>; level: string }> = []
        const capture = Logger.make(({ fiber, logLevel, message }) => {
          lines.push({
            message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
            annotations: { ...fiber.getRef(References.CurrentLogAnnotations) },
            level: logLevel
          })
        })
        const accessLog = yield* ServerKit.accessLog()
        const routes = Layer.mergeAll(
          HttpRouter.add("GET", "/hello", HttpServerResponse.text("hi")),
          HttpRouter.add("GET", "/boom", Effect.fail(new Unmapped()))
        )
        yield* withServer(
          serve(routes, { [placement]: accessLog }),
          (base) =>
            Effect.forEach(
              ["/hello?x=1", "/missing", "/boom"],
              (path) => request(`${base}${path}`),
              { discard: true }
            ),
          Logger.layer([capture])
        )
        const access = lines.filter((line) => "http.status" in line.annotations)
        expect(access.map((line) => line.message.replace(/ [0-9.]+ms$/, " <t>ms"))).toEqual([
          "GET /hello 200 <t>ms",
          "GET /missing 404 <t>ms",
          "GET /boom 500 <t>ms"
        ])
        expect(access[0]!.level).toBe("Info")
        expect(access[0]!.annotations).toMatchObject({
          "http.method": "GET",
          "http.path": "/hello",
          "http.status": 200
        })
        expect(typeof access[0]!.annotations["http.duration_ms"]).toBe("number")
      }))
  }

  it.effect("rejects a bad level with InvalidOptionError", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(ServerKit.accessLog({ level: "Loud" as any }))
      expect([e.module, e.option]).toEqual(["ServerKit.accessLog", "level"])
    }))
})

describe("ServerKit.deadlineHeader", () => {
  it.live("the caller's deadline header is visible through Deadline.remaining in the handler", () =>
    Effect.gen(function*() {
      const deadline = yield* ServerKit.deadlineHeader()
      const capped = yield* ServerKit.deadlineHeader({ header: "x-budget", max: "1 second" })
      const millisLeft = HttpRouter.add(
        "GET",
        "/ms",
        Effect.map(
          Deadline.remaining,
          (o) => HttpServerResponse.jsonUnsafe({ ms: Option.isSome(o) ? Duration.toMillis(o.value) : null })
        )
      )
      const [withHeader, without, garbage] = yield* withServer(
        serve(millisLeft, { route: deadline }),
        (base) =>
          Effect.all([
            request(`${base}/ms`, { headers: { "x-deadline-ms": "5000" } }),
            request(`${base}/ms`),
            request(`${base}/ms`, { headers: { "x-deadline-ms": "soon" } })
          ])
      )
      expect(json(withHeader).ms).toBeGreaterThan(4000)
      expect(json(withHeader).ms).toBeLessThanOrEqual(5000)
      expect(json(without).ms).toBe(null)
      expect(json(garbage).ms).toBe(null)
      const cappedReply = yield* withServer(
        serve(millisLeft, { route: capped }),
        (base) => request(`${base}/ms`, { headers: { "x-budget": "60000" } })
      )
      expect(json(cappedReply).ms).toBeLessThanOrEqual(1000)
    }))

  it.live("an expired deadline interrupts the handler (its finalizer runs) and answers 504; one already past skips it", () =>
    LeakCheck.fibers(Effect.gen(function*() {
      const deadline = yield* ServerKit.deadlineHeader()
      const finalized = yield* Deferred.make<void>()
      const ran = yield* Ref.make(0)
      const routes = HttpRouter.add(
        "GET",
        "/stuck",
        Effect.andThen(Ref.update(ran, (n) => n + 1), Effect.never).pipe(
          Effect.ensuring(Deferred.succeed(finalized, undefined))
        )
      )
      const [late, past] = yield* withServer(serve(routes, { route: deadline }), (base) =>
        Effect.all([
          request(`${base}/stuck`, { headers: { "x-deadline-ms": "100" } }),
          request(`${base}/stuck`, { headers: { "x-deadline-ms": "0" } })
        ]))
      expect([late.status, json(late).status, late.headers["content-type"]]).toEqual([
        504,
        504,
        "application/problem+json"
      ])
      expect(past.status).toBe(504)
      expect(yield* Deferred.isDone(finalized)).toBe(true)
      expect(yield* Ref.get(ran)).toBe(1)
      yield* assertNothingLeaked
    })))

  it.live("an absolute deadline header in epoch milliseconds", () =>
    Effect.gen(function*() {
      const deadline = yield* ServerKit.deadlineHeader({ format: "absolute" })
      const routes = HttpRouter.add(
        "GET",
        "/ms",
        Effect.map(
          Deadline.remaining,
          (o) => HttpServerResponse.jsonUnsafe({ ms: Option.isSome(o) ? Duration.toMillis(o.value) : null })
        )
      )
      const reply = yield* withServer(serve(routes, { route: deadline }), (base) =>
        Effect.flatMap(
          Effect.clockWith((clock) => clock.currentTimeMillis),
          (now) => request(`${base}/ms`, { headers: { "x-deadline-ms": String(now + 3000) } })
        ))
      expect(json(reply).ms).toBeGreaterThan(2000)
      expect(json(reply).ms).toBeLessThanOrEqual(3000)
    }))

  it.effect("rejects bad options with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const errors = yield* Effect.all([
        Effect.flip(ServerKit.deadlineHeader({ header: "bad header" })),
        Effect.flip(ServerKit.deadlineHeader({ format: "soon" as any })),
        Effect.flip(ServerKit.deadlineHeader({ max: 0 }))
      ])
      expect(errors.map((e) => [e.module, e.option])).toEqual([
        ["ServerKit.deadlineHeader", "header"],
        ["ServerKit.deadlineHeader", "format"],
        ["ServerKit.deadlineHeader", "max"]
      ])
    }))
})

describe("ServerKit.inFlight", () => {
  for (const placement of placements) {
    it.live(`${placement}: drain waits for an in-flight request and returns true; stats count in flight, peak and total`, () =>
      LeakCheck.fibers(Effect.gen(function*() {
        const tracker = yield* ServerKit.inFlight({ name: "api", metrics: true })
        const entered = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const routes = Layer.mergeAll(
          HttpRouter.add(
            "GET",
            "/slow",
            Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(release)).pipe(
              Effect.as(HttpServerResponse.text("done"))
            )
          ),
          HttpRouter.add("GET", "/fast", HttpServerResponse.text("ok"))
        )
        yield* withServer(serve(routes, { [placement]: tracker.middleware }), (base) =>
          Effect.gen(function*() {
            expect(yield* tracker.drain("1 second")).toBe(true) // idle: at once
            yield* request(`${base}/fast`)
            const slow = yield* Effect.forkChild(request(`${base}/slow`), { startImmediately: true })
            yield* Deferred.await(entered)
            expect(yield* tracker.stats).toEqual({ inFlight: 1, peak: 1, total: 2 })
            const gauge = yield* Metric.value(
              Metric.withAttributes(Metrics.inFlight, { primitive: "ServerInFlight", name: "api" })
            )
            expect(gauge).toMatchObject({ value: 1 })
            expect(yield* tracker.drain("50 millis")).toBe(false) // still busy: the timeout passes first
            const drain = yield* Effect.forkChild(tracker.drain("5 seconds"), { startImmediately: true })
            expect(drain.pollUnsafe()).toBe(undefined)
            yield* Deferred.succeed(release, undefined)
            expect(yield* Fiber.join(drain)).toBe(true)
            expect((yield* Fiber.join(slow)).status).toBe(200)
          }))
        expect(yield* tracker.stats).toEqual({ inFlight: 0, peak: 1, total: 2 })
        yield* assertNothingLeaked
      })))
  }

  it.effect("drains waiting together are released when the count gets back to 0; a later busy period waits again", () =>
    Effect.gen(function*() {
      const tracker = yield* ServerKit.inFlight()
      const busy = (gate: Deferred.Deferred<void>) =>
        Effect.forkChild(runBare(tracker.middleware, Effect.as(Deferred.await(gate), HttpServerResponse.text("ok"))), {
          startImmediately: true
        })
      const first = yield* Deferred.make<void>()
      const one = yield* busy(first)
      const two = yield* busy(first)
      const d1 = yield* Effect.forkChild(tracker.drain("10 seconds"), { startImmediately: true })
      const d2 = yield* Effect.forkChild(tracker.drain("10 seconds"), { startImmediately: true })
      expect(yield* tracker.stats).toEqual({ inFlight: 2, peak: 2, total: 2 })
      expect([d1.pollUnsafe(), d2.pollUnsafe()]).toEqual([undefined, undefined])
      yield* Deferred.succeed(first, undefined)
      yield* Fiber.join(one)
      yield* Fiber.join(two)
      expect([yield* Fiber.join(d1), yield* Fiber.join(d2)]).toEqual([true, true])
      expect(yield* tracker.drain("10 seconds")).toBe(true) // idle: at once
      const second = yield* Deferred.make<void>()
      const three = yield* busy(second)
      const d3 = yield* Effect.forkChild(tracker.drain("10 seconds"), { startImmediately: true })
      const d4 = yield* Effect.forkChild(tracker.drain("50 millis"), { startImmediately: true })
      yield* TestClock.adjust("50 millis")
      expect([yield* Fiber.join(d4), d3.pollUnsafe()]).toEqual([false, undefined])
      yield* Deferred.succeed(second, undefined)
      yield* Fiber.join(three)
      expect(yield* Fiber.join(d3)).toBe(true)
      expect(yield* tracker.stats).toEqual({ inFlight: 0, peak: 2, total: 3 })
    }))

  it.effect("drain rejects a bad timeout with InvalidOptionError", () =>
    Effect.gen(function*() {
      const tracker = yield* ServerKit.inFlight()
      const e = yield* Effect.flip(tracker.drain(-1))
      expect([e.module, e.option]).toEqual(["ServerKit.InFlight.drain", "timeout"])
    }))
})

describe("ServerKit together", () => {
  it.live("all middlewares on one server: a normal request passes through untouched", () =>
    Effect.gen(function*() {
      const tracker = yield* ServerKit.inFlight()
      const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 10, maxQueued: 10 })
      const timeout = yield* ServerKit.timeout({ duration: "5 seconds" })
      const accessLog = yield* ServerKit.accessLog()
      const bodyLimit = yield* ServerKit.bodyLimit({ maxBytes: 1000 })
      const deadline = yield* ServerKit.deadlineHeader()
      const routes = Layer.mergeAll(
        HttpRouter.add("POST", "/echo", (req) => Effect.map(req.text, (text) => HttpServerResponse.text(text))),
        HttpRouter.add("GET", "/user", Effect.fail(new UserNotFound({ id: "1" })))
      )
      const [echo, user] = yield* withServer(
        serve(routes, {
          server: flow(timeout, shedding.middleware, tracker.middleware, accessLog),
          route: flow(deadline, bodyLimit, ServerKit.problemJson({ errors: { UserNotFound: 404 } }))
        }),
        (base) =>
          Effect.all([
            request(`${base}/echo`, { method: "POST", body: "hello", headers: { "x-deadline-ms": "5000" } }),
            request(`${base}/user`)
          ]),
        Logger.layer([])
      )
      expect([echo.status, echo.body]).toEqual([200, "hello"])
      expect([user.status, json(user).title]).toEqual([404, "Not Found"])
      expect(yield* tracker.stats).toEqual({ inFlight: 0, peak: 1, total: 2 })
    }))

  it.live("the recommended composition: the whole kit around the router, typed without casts", () =>
    LeakCheck.fibers(Effect.gen(function*() {
      const inFlight = yield* ServerKit.inFlight()
      const shedding = yield* ServerKit.loadShedding({ maxConcurrent: 10, maxQueued: 10 })
      const timeout = yield* ServerKit.timeout({ duration: "5 seconds" })
      const accessLog = yield* ServerKit.accessLog()
      const bodyLimit = yield* ServerKit.bodyLimit({ maxBytes: 10 })
      const deadline = yield* ServerKit.deadlineHeader()
      const Kit = HttpRouter.middleware(
        flow(
          ServerKit.problemJson({ errors: { UserNotFound: 404 } }),
          bodyLimit,
          deadline,
          timeout,
          shedding.middleware,
          inFlight.middleware,
          accessLog
        ),
        { global: true }
      )
      const Routes = Layer.mergeAll(
        HttpRouter.add("POST", "/echo", (req) => Effect.map(req.text, (text) => HttpServerResponse.text(text))),
        HttpRouter.add("GET", "/user", Effect.fail(new UserNotFound({ id: "1" }))),
        Kit
      )
      const Server = HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true })
      const [echo, big, user, missing] = yield* withServer(
        Server,
        (base) =>
          Effect.all([
            request(`${base}/echo`, { method: "POST", body: "hello", headers: { "x-deadline-ms": "5000" } }),
            request(`${base}/echo`, { method: "POST", chunks: ["0123456789", "0123456789"] }),
            request(`${base}/user`),
            request(`${base}/missing`)
          ]),
        Logger.layer([])
      )
      expect([echo.status, echo.body]).toEqual([200, "hello"])
      expect([big.status, json(big).title]).toEqual([413, "Content Too Large"])
      expect([user.status, json(user).title]).toEqual([404, "Not Found"])
      expect([missing.status, missing.headers["content-type"]]).toEqual([404, "application/problem+json"])
      expect(yield* inFlight.stats).toEqual({ inFlight: 0, peak: 1, total: 4 })
      yield* assertNothingLeaked
    })))
})
