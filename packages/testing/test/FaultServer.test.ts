import { FaultServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, Fiber, Layer, Option, Schedule, Scope } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as http from "node:http"
import * as net from "node:net"

// ---------------------------------------------------------------------------------------------------------------
// A small node:http client: every request on its own connection unless an agent is given, so the tests see
// exactly the sockets they open.
// ---------------------------------------------------------------------------------------------------------------

class ClientError extends Data.TaggedError("ClientError")<{
  readonly code: string
  /** Body bytes received before the error. */
  readonly bytes: number
}> {}

interface ClientReply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly bytes: number
  /** `performance.now()` at each body chunk. */
  readonly chunkTimes: ReadonlyArray<number>
}

const clientSockets = new Set<net.Socket>()

const request = (
  url: string,
  options: {
    readonly method?: string
    readonly headers?: Record<string, string>
    readonly body?: string
    readonly agent?: http.Agent
    readonly keepBody?: boolean
  } = {}
): Effect.Effect<ClientReply, ClientError> =>
  Effect.callback<ClientReply, ClientError>((resume) => {
    let settled = false
    const settle = (effect: Effect.Effect<ClientReply, ClientError>) => {
      if (settled) return
      settled = true
      resume(effect)
    }
    const req = http.request(url, {
      method: options.method ?? "GET",
      headers: options.headers ?? {},
      agent: options.agent ?? false
    }, (res) => {
      const chunks: Array<Buffer> = []
      const chunkTimes: Array<number> = []
      let bytes = 0
      res.on("data", (chunk: Buffer) => {
        chunkTimes.push(performance.now())
        bytes += chunk.length
        if (options.keepBody !== false) chunks.push(chunk)
      })
      res.on("end", () =>
        settle(Effect.succeed({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          bytes,
          chunkTimes
        })))
      res.on("error", (e: NodeJS.ErrnoException) =>
        settle(Effect.fail(new ClientError({ code: e.code ?? e.message, bytes }))))
      res.on("close", () => {
        if (!res.complete) {
          settle(Effect.fail(new ClientError({ code: "premature-close", bytes })))
        }
      })
    })
    req.on("socket", (socket) => {
      if (clientSockets.has(socket)) {
        return // a keep-alive socket, already tracked
      }
      clientSockets.add(socket)
      socket.once("close", () =>
        clientSockets.delete(socket))
    })
    req.on("error", (e: NodeJS.ErrnoException) =>
      settle(Effect.fail(new ClientError({ code: e.code ?? e.message, bytes: 0 }))))
    req.end(options.body)
    return Effect.sync(() =>
      req.destroy()
    )
  })

/** Waits until every socket the client opened has closed (an event per socket, no polling). */
const clientSocketsClosed = Effect.suspend(() =>
  Effect.forEach(Array.from(clientSockets), (socket) =>
    Effect.callback<void>((resume) => {
      if (socket.closed) return resume(Effect.void)
      socket.once("close", () => resume(Effect.void))
    }), { discard: true })
)

const tcpHandles = () => {
  const all = process.getActiveResourcesInfo()
  return {
    servers: all.filter((r) => r === "TCPServerWrap").length,
    sockets: all.filter((r) => r === "TCPSocketWrap").length
  }
}

const keepAlive = Effect.acquireRelease(
  Effect.sync(() => new http.Agent({ keepAlive: true, maxSockets: 1 })),
  (agent) => Effect.sync(() => agent.destroy())
)

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const a = yield* effect
    return [a, performance.now() - start] as const
  })

const outcomes = (server: FaultServer.FaultServer, path: string, n: number) =>
  Effect.gen(function*() {
    const agent = yield* keepAlive
    for (let i = 0; i < n; i++) yield* request(server.url(path), { agent })
    return (yield* server.requests).map((r) => r.outcome)
  }).pipe(Effect.scoped)

const latencies = (server: FaultServer.FaultServer, path: string, n: number) =>
  Effect.gen(function*() {
    const agent = yield* keepAlive
    for (let i = 0; i < n; i++) yield* request(server.url(path), { agent })
    return (yield* server.requests).filter((r) => r.path === path).map((r) => r.latency)
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------------------------

describe("FaultServer", () => {
  describe("latency", () => {
    it.live("a fixed latency delays the response by at least that long", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/slow": { latency: "150 millis" }, "/fast": {} } })
        const [slow, slowMs] = yield* elapsed(request(server.url("/slow")))
        expect(slow.status).toBe(200)
        expect(slowMs).toBeGreaterThanOrEqual(145)
        const recorded = yield* server.requests
        expect(recorded[0]!.latency).toBe(150)
      }))

    it.live("a distributed latency delays each response by at least the latency drawn for it", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: { "/u": { latency: { kind: "uniform", min: 80, max: 120 } } }
        })
        for (let i = 0; i < 3; i++) {
          const [, ms] = yield* elapsed(request(server.url("/u")))
          const drawn = (yield* server.requests)[i]!.latency
          expect(drawn).toBeGreaterThanOrEqual(80)
          expect(drawn).toBeLessThanOrEqual(120)
          expect(ms).toBeGreaterThanOrEqual(drawn - 5)
        }
      }))

    it.live("uniform, normal, lognormal and weighted latencies stay in range and repeat with the same seed", () =>
      Effect.gen(function*() {
        const routes: Record<string, FaultServer.RouteScript> = {
          "/u": { latency: { kind: "uniform", min: 0, max: 20 } },
          "/n": { latency: { kind: "normal", mean: 10, stddev: 5, max: 20 } },
          "/l": { latency: { kind: "lognormal", median: 5, sigma: 0.8, max: 25 } },
          "/w": { latency: { kind: "weighted", choices: [[0, 1], [10, 1], [20, 2]] } }
        }
        const draw = (seed: number) =>
          Effect.scoped(Effect.gen(function*() {
            const server = yield* FaultServer.make({ seed, routes })
            return {
              u: yield* latencies(server, "/u", 12),
              n: yield* latencies(server, "/n", 12),
              l: yield* latencies(server, "/l", 12),
              w: yield* latencies(server, "/w", 12)
            }
          }))
        const a = yield* draw(7)
        const b = yield* draw(7)
        const c = yield* draw(8)
        expect(b).toEqual(a)
        expect(c.u).not.toEqual(a.u)
        for (const ms of a.u) expect(ms >= 0 && ms <= 20).toBe(true)
        for (const ms of a.n) expect(ms >= 0 && ms <= 20).toBe(true)
        for (const ms of a.l) expect(ms >= 0 && ms <= 25).toBe(true)
        for (const ms of a.w) expect([0, 10, 20]).toContain(ms)
        expect(new Set(a.w).size).toBeGreaterThan(1)
        expect(new Set(a.n).size).toBeGreaterThan(1)
      }))

    it.effect("latency is real time even when the server is made under TestClock", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/slow": { latency: 30 } } })
        // without the live clock the reply would wait for a TestClock.adjust that never comes
        const reply = yield* request(server.url("/slow"))
        expect(reply.status).toBe(200)
      }))
  })

  describe("server-side concurrency", () => {
    it.live("a route with concurrency 2 serves 6 requests sent at once in 3 waves of its latency", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/w": { latency: 100, concurrency: 2 }, "/free": {} } })
        // one connection per request (no keep-alive agent), all sent at once
        const [replies, ms] = yield* elapsed(
          Effect.forEach(Array.from({ length: 6 }, (_, i) => i), (i) => request(server.url(`/w?i=${i}`)), {
            concurrency: "unbounded"
          })
        )
        expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200])
        // a lower bound only: three services of 100 ms one after the other, however fast the machine
        expect(ms).toBeGreaterThanOrEqual(295)
        // every request arrived at once (the server holds them, it does not refuse them)
        expect((yield* server.stats).peakConcurrency).toBe(6)
        // the other routes are not limited
        const [, freeMs] = yield* elapsed(
          Effect.forEach([1, 2, 3], () => request(server.url("/free")), { concurrency: "unbounded" })
        )
        expect(freeMs).toBeLessThan(ms)
      }))

    it.live("a client that gives up while waiting for a slot frees nothing it did not hold", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/w": { latency: 100, concurrency: 1 } } })
        // two requests at once: one is served (100 ms), the other gives up after 20 ms, waiting or served
        const [served, gaveUp] = yield* Effect.all([
          request(server.url("/w?a")),
          Effect.timeoutOption(request(server.url("/w?b")), "20 millis")
        ], { concurrency: "unbounded" })
        expect(served.status).toBe(200)
        expect(Option.isNone(gaveUp)).toBe(true)
        const [third, ms] = yield* elapsed(request(server.url("/w?third")))
        expect(third.status).toBe(200)
        expect(ms).toBeGreaterThanOrEqual(95)
        yield* server.awaitIdle
        expect((yield* server.stats).total).toBe(3)
      }))
  })

  describe("status codes", () => {
    it.live("a status mix follows its weights and repeats exactly with the same seed", () =>
      Effect.gen(function*() {
        const routes = { "/mix": { mix: [[200, 7], [500, 2], [503, 1]] as const } }
        const run = (seed: number) =>
          Effect.scoped(Effect.flatMap(FaultServer.make({ seed, routes }), (s) => outcomes(s, "/mix", 200)))
        const first = yield* run(42)
        const again = yield* run(42)
        const other = yield* run(43)
        expect(again).toEqual(first)
        expect(other).not.toEqual(first)
        const share = (code: string) => first.filter((o) => o === code).length / first.length
        expect(share("200")).toBeGreaterThan(0.6)
        expect(share("200")).toBeLessThan(0.8)
        expect(share("500")).toBeGreaterThan(0.1)
        expect(share("500")).toBeLessThan(0.3)
        expect(share("503")).toBeGreaterThan(0.03)
        expect(share("503")).toBeLessThan(0.18)
      }))

    it.live("a weight of 0 is never chosen", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/mix": { mix: [[200, 1], [500, 0]] } } })
        expect(new Set(yield* outcomes(server, "/mix", 50))).toEqual(new Set(["200"]))
      }))

    it.live("a sequence cycles per route, so retry tests are deterministic", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: {
            "/flaky": { sequence: [{ status: 503, retryAfter: 1 }, 200] },
            "/other": { sequence: [500, 502, 504] }
          }
        })
        const statuses: Array<number> = []
        for (const path of ["/flaky", "/other", "/flaky", "/other", "/flaky", "/other", "/other"]) {
          statuses.push((yield* request(server.url(path))).status)
        }
        expect(statuses).toEqual([503, 500, 200, 502, 503, 504, 500])
      }))

    it.live("sequenceEnd repeat-last keeps the last reply once the sequence is done", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: { "/recover": { sequence: [503, 503, 200], sequenceEnd: "repeat-last" } }
        })
        expect(yield* outcomes(server, "/recover", 6)).toEqual(["503", "503", "200", "200", "200", "200"])
      }))

    it.live("a respond reply sends its status, body and headers; the default body is the status text", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: {
            "/custom": { reply: { status: 201, body: "made", headers: { "X-Trace": "abc" } } },
            "/plain": { reply: 502 }
          }
        })
        const custom = yield* request(server.url("/custom"))
        expect([custom.status, custom.body, custom.headers["x-trace"]]).toEqual([201, "made", "abc"])
        const plain = yield* request(server.url("/plain"))
        expect([plain.status, plain.body]).toEqual([502, "Bad Gateway"])
      }))
  })

  describe("Retry-After", () => {
    it.live("429 and 503 carry Retry-After in seconds", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: {
            "/429": { reply: { status: 429, retryAfter: 3 } },
            "/503": { reply: { status: 503, retryAfter: 0 } }
          }
        })
        const limited = yield* request(server.url("/429"))
        const unavailable = yield* request(server.url("/503"))
        expect([limited.status, limited.headers["retry-after"]]).toEqual([429, "3"])
        expect([unavailable.status, unavailable.headers["retry-after"]]).toEqual([503, "0"])
        expect((yield* server.requests).map((r) => r.retryAfter)).toEqual(["3", "0"])
      }))

    it.live("429 and 503 carry Retry-After as an HTTP-date at least that many seconds ahead", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: {
            "/429": { reply: { status: 429, retryAfter: 2, retryAfterFormat: "http-date" } },
            "/503": { reply: { status: 503, retryAfter: 5, retryAfterFormat: "http-date" } }
          }
        })
        for (const [path, status, seconds] of [["/429", 429, 2], ["/503", 503, 5]] as const) {
          const reply = yield* request(server.url(path))
          const header = reply.headers["retry-after"]!
          expect(reply.status).toBe(status)
          // IMF-fixdate, e.g. "Tue, 24 Nov 2026 06:53:40 GMT"
          expect(header).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
          const arrivedAt = (yield* server.requests).at(-1)!.arrivedAt
          expect(Date.parse(header)).toBeGreaterThanOrEqual(arrivedAt + seconds * 1000)
          expect(Date.parse(header)).toBeLessThanOrEqual(arrivedAt + seconds * 1000 + 2000)
        }
      }))
  })

  describe("connection faults", () => {
    it.live("a reset destroys the connection without a response: the client sees a socket error", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/reset": { reply: "reset" } } })
        const error = yield* Effect.flip(request(server.url("/reset")))
        expect(error.code).toBe("ECONNRESET")
        yield* server.awaitIdle
        const [recorded] = yield* server.requests
        expect(recorded).toMatchObject({ outcome: "reset", status: undefined, state: "aborted" })
      }))

    it.live("a reset after N bytes sends the status and N bytes, then closes the connection", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/cut": { reply: { kind: "reset", afterBytes: 5000 } } } })
        const error = yield* Effect.flip(request(server.url("/cut")))
        expect(error.bytes).toBe(5000)
        yield* server.awaitIdle
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "reset", status: 200, state: "aborted" })
      }))

    it.live("a hanging request never answers until the client gives up", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/hang": { reply: "hang" } } })
        const result = yield* request(server.url("/hang")).pipe(Effect.timeoutOption("200 millis"))
        expect(Option.isNone(result)).toBe(true)
        // the client's give-up (its socket closing) ends the request on the server too
        yield* server.awaitIdle
        expect((yield* server.requests)[0]).toMatchObject({ outcome: "hang", state: "aborted" })
      }))

    it.live("a hang after headers sends the status line, then no body", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: { "/stall": { reply: { kind: "hang", afterHeaders: true, status: 202 } } }
        })
        const status = yield* Effect.callback<number>((resume) => {
          const req = http.get(server.url("/stall"), { agent: false }, (res) => resume(Effect.succeed(res.statusCode!)))
          return Effect.sync(() => req.destroy())
        }).pipe(Effect.timeout("2 seconds"))
        expect(status).toBe(202)
        const body = yield* request(server.url("/stall")).pipe(Effect.timeoutOption("150 millis"))
        expect(Option.isNone(body)).toBe(true)
      }))

    it.live(
      "the server stops cleanly while a request hangs, and the client sees the connection close",
      () =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const server = yield* FaultServer.make({ routes: { "/hang": { reply: "hang" } } }).pipe(Scope.provide(scope))
          const client = yield* Effect.forkChild(Effect.flip(request(server.url("/hang"))), { startImmediately: true })
          yield* server.awaitRequests(1)
          // without the forced stop, Effect's graceful shutdown would wait 20 s for the hanging request
          yield* Scope.close(scope, Exit.void)
          const error = yield* Fiber.join(client)
          expect(["ECONNRESET", "premature-close"]).toContain(error.code)
          const stats = yield* server.stats
          expect(stats.inFlight).toBe(0)
          expect(Object.values(stats.byHost).map((h) => h.openConnections)).toEqual([0])
        }),
      10_000
    )

    it.live(
      "nothing leaks: after a reset, a hang and keep-alive requests, closing the scope closes every socket",
      () =>
        Effect.gen(function*() {
          const before = tcpHandles()
          const scope = yield* Scope.make()
          const server = yield* FaultServer.make({
            hosts: 2,
            routes: { "/reset": { reply: "reset" }, "/hang": { reply: "hang" }, "/ok": {} }
          }).pipe(Scope.provide(scope))
          expect(tcpHandles().servers).toBe(before.servers + 2)
          yield* Effect.flip(request(server.url("/reset")))
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
          yield* request(server.url("/ok", 1), { agent })
          yield* request(server.url("/ok", 1), { agent })
          const hang = yield* Effect.forkChild(Effect.exit(request(server.url("/hang"))), { startImmediately: true })
          yield* server.awaitRequests(4)
          const open = yield* server.stats
          expect(open.byHost[server.hosts[0]!]!.openConnections).toBe(1) // the hang; the reset's socket is gone
          expect(open.byHost[server.hosts[1]!]!.openConnections).toBe(1) // the idle keep-alive connection
          expect(open.byHost[server.hosts[1]!]!.connections).toBe(1) // both requests on it
          yield* Scope.close(scope, Exit.void)
          // the server side is gone when the scope's close returns
          expect(tcpHandles().servers).toBe(before.servers)
          const closed = yield* server.stats
          expect(Object.values(closed.byHost).map((h) => h.openConnections)).toEqual([0, 0])
          expect(closed.inFlight).toBe(0)
          // the client's sockets follow once they see the close
          yield* Fiber.join(hang)
          yield* clientSocketsClosed
          agent.destroy()
          expect(tcpHandles()).toEqual(before)
        }),
      10_000
    )

    it.live("shutdownGrace lets in-flight requests finish before the rest is cut", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const server = yield* FaultServer.make({
          shutdownGrace: "2 seconds",
          routes: { "/slow": { latency: 150 } }
        }).pipe(Scope.provide(scope))
        const slow = yield* Effect.forkChild(request(server.url("/slow")), { startImmediately: true })
        yield* server.awaitRequests(1)
        yield* Scope.close(scope, Exit.void)
        expect((yield* Fiber.join(slow)).status).toBe(200)
        expect((yield* server.requests)[0]!.state).toBe("completed")
      }), 10_000)
  })

  describe("bodies", () => {
    it.live("a trickled body arrives in chunks over time", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: { "/trickle": { reply: { kind: "trickle", chunks: 5, delay: "60 millis", chunkBytes: 4 } } }
        })
        const reply = yield* request(server.url("/trickle"))
        expect(reply.status).toBe(200)
        expect(reply.body).toBe("00001111222233334444")
        expect(reply.headers["content-length"]).toBe("20")
        expect(reply.chunkTimes.length).toBeGreaterThan(1)
        // four gaps of 60 ms between the first and the last chunk
        expect(reply.chunkTimes.at(-1)! - reply.chunkTimes[0]!).toBeGreaterThanOrEqual(4 * 60 - 10)
      }))

    it.live("a 50 MB body is streamed: the server's memory grows far less than the body", () =>
      Effect.gen(function*() {
        const size = 50_000_000
        const server = yield* FaultServer.make({ routes: { "/big": { reply: { kind: "large", bytes: size } } } })
        // the client runs in its own process, so this process's memory is the server's
        const client = `require("node:http").get(process.argv[1], { agent: false }, (res) => {
          let n = 0; res.on("data", (c) => { n += c.length }); res.on("end", () => console.log(res.statusCode, n)) })`
        const download = Effect.callback<string>((resume) => {
          const child = spawn(process.execPath, ["-e", client, server.url("/big")])
          let out = ""
          child.stdout.on("data", (d) => (out += d))
          child.on("close", () => resume(Effect.succeed(out.trim())))
          return Effect.sync(() => child.kill())
        })
        let peak = 0
        const sample = Effect.sync(() => {
          peak = Math.max(peak, process.memoryUsage().rss)
        })
        yield* sample
        const before = peak
        const sampler = yield* Effect.forkChild(Effect.repeat(sample, Schedule.spaced("5 millis")))
        const out = yield* download
        yield* Fiber.interrupt(sampler)
        yield* sample
        expect(out).toBe(`200 ${size}`)
        expect(peak - before).toBeLessThan(size / 4)
      }), 20_000)

    it.live("large with chunked: true sends the same bytes without a Content-Length", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: { "/c": { reply: { kind: "large", bytes: 100_000, chunkBytes: 40_000, chunked: true } } }
        })
        const reply = yield* request(server.url("/c"), { keepBody: true })
        expect(reply.status).toBe(200)
        expect(reply.headers["content-length"]).toBeUndefined()
        expect(reply.headers["transfer-encoding"]).toBe("chunked")
        expect(reply.bytes).toBe(100_000)
        const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz\n"
        expect(reply.body[0]).toBe("0")
        // byte i is alphabet[(i % chunkBytes) % 37]: the pattern restarts with every chunk
        expect(reply.body[40_000]).toBe("0")
        expect(reply.body[40_001 + 36]).toBe(alphabet[(1 + 36) % 37])
        expect(reply.body[39_999]).toBe(alphabet[39_999 % 37])
      }))

    it.live("sink counts and hashes a raw body without echoing it", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/sink": { reply: "sink" } } })
        const body = "x".repeat(300_000)
        const reply = yield* request(server.url("/sink"), {
          method: "PUT",
          headers: { "content-type": "application/octet-stream" },
          body,
          keepBody: true
        })
        expect(reply.status).toBe(200)
        const report = JSON.parse(reply.body) as FaultServer.SinkReport
        expect(report).toMatchObject({
          method: "PUT",
          path: "/sink",
          bytes: 300_000,
          sha256: createHash("sha256").update(body).digest("hex"),
          parts: null
        })
        expect(report.headers["content-length"]).toBe("300000")
        expect((yield* server.stats).byOutcome).toEqual({ sink: 1 })
      }))

    it.live("sink lists the parts of a multipart body with their names, sizes and hashes", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ routes: { "/up": { reply: { kind: "sink", status: 201 } } } })
        const boundary = "b0undary"
        const file = "a,b\n1,2\n"
        const body = [
          `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nQ3\r\n`,
          `--${boundary}\r\nContent-Disposition: form-data; name="doc"; filename="q3.csv"\r\n`,
          `Content-Type: text/csv\r\n\r\n${file}\r\n`,
          `--${boundary}--\r\n`
        ].join("")
        const reply = yield* request(server.url("/up"), {
          method: "POST",
          headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
          body,
          keepBody: true
        })
        expect(reply.status).toBe(201)
        const report = JSON.parse(reply.body) as FaultServer.SinkReport
        const sha = (s: string) => createHash("sha256").update(s).digest("hex")
        expect(report.bytes).toBe(Buffer.byteLength(body))
        expect(report.parts).toEqual([
          { name: "title", filename: null, contentType: "text/plain", bytes: 2, sha256: sha("Q3"), value: "Q3" },
          { name: "doc", filename: "q3.csv", contentType: "text/csv", bytes: 8, sha256: sha(file), value: null }
        ])
        const broken = yield* request(server.url("/up"), {
          method: "POST",
          headers: { "content-type": "multipart/form-data; boundary=zzz" },
          body: "--zzz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
          keepBody: true
        })
        expect(broken.status).toBe(400)
      }))

    it.live("echo returns the method, path, query, headers and body as JSON", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ hosts: 2, routes: { "/echo/*": { reply: "echo" } } })
        const reply = yield* request(server.url("/echo/x?a=1&b=two", 1), {
          method: "POST",
          headers: { "x-test": "yes", "content-type": "text/plain" },
          body: "hello"
        })
        expect(reply.status).toBe(200)
        expect(JSON.parse(reply.body)).toMatchObject({
          method: "POST",
          url: "/echo/x?a=1&b=two",
          path: "/echo/x",
          query: { a: "1", b: "two" },
          headers: { "x-test": "yes", "content-type": "text/plain", host: server.hosts[1] },
          body: "hello",
          host: server.hosts[1]
        })
      }))
  })

  describe("recording and stats", () => {
    it.live("every request is recorded in arrival order with method, path, query, headers, host and outcome", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          hosts: 2,
          routes: { "/a": { reply: 201 }, "/b": { sequence: [503, 200] } }
        })
        yield* request(server.url("/a?x=1"), { headers: { "x-id": "1" } })
        yield* request(server.url("/b", 1), { method: "DELETE" })
        yield* request(server.url("/b?y=2&y=3"))
        yield* request(server.url("/missing", 1))
        const recorded = yield* server.requests
        expect(recorded.map((r) => [r.index, r.method, r.path, r.host, r.hostIndex, r.route, r.outcome, r.status]))
          .toEqual([
            [0, "GET", "/a", server.hosts[0], 0, "/a", "201", 201],
            [1, "DELETE", "/b", server.hosts[1], 1, "/b", "503", 503],
            [2, "GET", "/b", server.hosts[0], 0, "/b", "200", 200],
            [3, "GET", "/missing", server.hosts[1], 1, "(none)", "404", 404]
          ])
        expect(recorded[0]!.query).toEqual({ x: "1" })
        expect(recorded[0]!.headers["x-id"]).toBe("1")
        expect(recorded[2]!.url).toBe("/b?y=2&y=3")
        expect(recorded[2]!.query).toEqual({ y: "3" })
        expect(recorded.every((r) => r.state === "completed" && r.endedAt! >= r.arrivedAt)).toBe(true)
        const stats = yield* server.stats
        expect(stats.total).toBe(4)
        expect(stats.byOutcome).toEqual({ "201": 1, "503": 1, "200": 1, "404": 1 })
        expect(stats.byRoute).toEqual({ "/a": 1, "/b": 2, "(none)": 1 })
        expect(stats.byHost[server.hosts[0]!]!.count).toBe(2)
        expect(stats.byHost[server.hosts[1]!]!.count).toBe(2)
      }))

    it.live("peak concurrency is counted per host: 10 concurrent requests to host 2 give 10 there and 0 elsewhere", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ hosts: 3, routes: { "/wait": { reply: "hang" } } })
        const clients = yield* Effect.forEach(
          Array.from({ length: 10 }),
          () => Effect.forkChild(Effect.exit(request(server.url("/wait", 1))), { startImmediately: true })
        )
        yield* server.awaitRequests(10)
        const busy = yield* server.stats
        expect(busy.byHost[server.hosts[1]!]).toMatchObject({ count: 10, inFlight: 10, peakConcurrency: 10 })
        expect(busy.byHost[server.hosts[0]!]).toMatchObject({ count: 0, inFlight: 0, peakConcurrency: 0 })
        expect(busy.byHost[server.hosts[2]!]).toMatchObject({ count: 0, inFlight: 0, peakConcurrency: 0 })
        expect(busy.peakConcurrency).toBe(10)
        yield* Fiber.interruptAll(clients)
        yield* server.awaitIdle
        const idle = yield* server.stats
        expect(idle.byHost[server.hosts[1]!]).toMatchObject({ inFlight: 0, peakConcurrency: 10 })
      }))

    it.live("reset forgets the requests and rewinds sequences and the PRNG", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: { "/seq": { sequence: [500, 200, 201] }, "/mix": { mix: [[200, 1], [500, 1]] } }
        })
        const first = [...(yield* outcomes(server, "/seq", 2)), ...(yield* outcomes(server, "/mix", 10)).slice(2)]
        yield* server.reset
        expect(yield* server.requests).toEqual([])
        expect((yield* server.stats).total).toBe(0)
        const again = [...(yield* outcomes(server, "/seq", 2)), ...(yield* outcomes(server, "/mix", 10)).slice(2)]
        expect(again).toEqual(first)
        expect((yield* server.requests)[0]!.index).toBe(0)
      }))

    it.live("maxRecorded keeps only the most recent requests while the counters count them all", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ maxRecorded: 3, routes: { "/n": {} } })
        const agent = yield* keepAlive
        for (let i = 0; i < 10; i++) yield* request(server.url(`/n?i=${i}`), { agent })
        expect((yield* server.requests).map((r) => r.query["i"])).toEqual(["7", "8", "9"])
        expect((yield* server.stats).total).toBe(10)
      }))
  })

  describe("hosts and routes", () => {
    it.live("several loopback addresses act as several hosts on one port", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ hosts: 3, routes: { "/who": { reply: "echo" } } })
        expect(server.urls).toEqual([1, 2, 3].map((i) => `http://127.0.0.${i}:${server.port}`))
        for (let i = 0; i < 3; i++) {
          const reply = yield* request(server.url("/who", i))
          expect(JSON.parse(reply.body).host).toBe(`127.0.0.${i + 1}:${server.port}`)
        }
        expect((yield* server.requests).map((r) => r.hostIndex)).toEqual([0, 1, 2])
      }))

    it.live("hosts can be listed explicitly", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ hosts: ["127.0.0.5", "127.0.0.9"], routes: { "/": {} } })
        expect(server.hosts).toEqual([`127.0.0.5:${server.port}`, `127.0.0.9:${server.port}`])
        expect((yield* request(server.url("/", 1))).status).toBe(200)
        expect((yield* server.stats).byHost[server.hosts[1]!]!.count).toBe(1)
      }))

    it.live("an exact route wins over a prefix, the longest prefix wins, and the rest go to the default route", () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          routes: {
            "/api/*": { reply: 201 },
            "/api/v2/*": { reply: 202 },
            "/api/v2/health": { reply: 203 }
          },
          defaultRoute: { reply: 418 }
        })
        const statuses: Array<number> = []
        for (const path of ["/api", "/api/x", "/api/v2", "/api/v2/y/z", "/api/v2/health", "/apix", "/"]) {
          statuses.push((yield* request(server.url(path))).status)
        }
        expect(statuses).toEqual([201, 201, 202, 202, 203, 418, 418])
        expect((yield* server.stats).byRoute["(default)"]).toBe(2)
      }))

    it.live("a taken port fails with ListenError naming the address and port", () =>
      Effect.gen(function*() {
        const before = tcpHandles().servers
        const blocker = yield* Effect.acquireRelease(
          Effect.callback<net.Server>((resume) => {
            const s = net.createServer()
            s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
          }),
          (s) =>
            Effect.callback<void>((resume) => {
              // `close` comes before libuv releases the handle; one more loop turn and it is gone
              s.close(() => setImmediate(() => setImmediate(() => resume(Effect.void))))
            })
        )
        const port = (blocker.address() as net.AddressInfo).port
        const error = yield* Effect.flip(Effect.scoped(FaultServer.make({ port })))
        expect(error._tag).toBe("ListenError")
        expect(error).toMatchObject({ address: "127.0.0.1", port })
        // the failed attempt leaves no handle behind: only the blocker listens
        expect(tcpHandles().servers).toBe(before + 1)
      }))

    it.live("the layer runs the server for the layer's lifetime", () =>
      Effect.gen(function*() {
        const before = tcpHandles().servers
        const status = yield* Effect.gen(function*() {
          const server = yield* FaultServer.FaultServer
          return (yield* request(server.url("/ok"))).status
        }).pipe(Effect.provide(Layer.fresh(FaultServer.layer({ routes: { "/ok": { reply: 204 } } }))))
        expect(status).toBe(204)
        expect(tcpHandles().servers).toBe(before)
      }))
  })

  describe("options", () => {
    const cases: ReadonlyArray<readonly [string, FaultServer.Options]> = [
      ["hosts", { hosts: 0 }],
      ["hosts", { hosts: 255 }],
      ["hosts[0]", { hosts: ["10.0.0.1"] }],
      ["hosts[1]", { hosts: ["127.0.0.1", "127.0.0.1"] }],
      ["port", { port: -1 }],
      ["port", { port: 70000 }],
      ["seed", { seed: Number.NaN }],
      ["shutdownGrace", { shutdownGrace: -1 }],
      ["maxRecorded", { maxRecorded: -1 }],
      ["routes[\"nope\"]", { routes: { nope: {} } }],
      ["routes[\"/a*\"]", { routes: { "/a*": {} } }],
      ["routes[\"/a\"]", { routes: { "/a": { reply: 200, mix: [[200, 1]] } } }],
      ["routes[\"/a\"].latency", { routes: { "/a": { latency: -5 } } }],
      ["routes[\"/a\"].latency.max", { routes: { "/a": { latency: { kind: "uniform", min: 10, max: 5 } } } }],
      ["routes[\"/a\"].latency.sigma", { routes: { "/a": { latency: { kind: "lognormal", median: 5, sigma: -1 } } } }],
      ["routes[\"/a\"].latency.choices", { routes: { "/a": { latency: { kind: "weighted", choices: [] } } } }],
      ["routes[\"/a\"].reply", { routes: { "/a": { reply: 99 } } }],
      ["routes[\"/a\"].reply.status", { routes: { "/a": { reply: { status: 600 } } } }],
      ["routes[\"/a\"].reply.retryAfter", { routes: { "/a": { reply: { status: 503, retryAfter: 1.5 } } } }],
      ["routes[\"/a\"].reply.retryAfterFormat", {
        routes: { "/a": { reply: { status: 503, retryAfter: 1, retryAfterFormat: "date" as "http-date" } } }
      }],
      ["routes[\"/a\"].reply.headers.bad name", { routes: { "/a": { reply: { headers: { "bad name": "x" } } } } }],
      ["routes[\"/a\"].reply.kind", { routes: { "/a": { reply: { kind: "explode" as "echo" } } } }],
      ["routes[\"/a\"].reply.chunks", { routes: { "/a": { reply: { kind: "trickle", chunks: 0, delay: 1 } } } }],
      ["routes[\"/a\"].reply.delay", { routes: { "/a": { reply: { kind: "trickle", chunks: 1, delay: -1 } } } }],
      ["routes[\"/a\"].reply.bytes", { routes: { "/a": { reply: { kind: "large", bytes: -1 } } } }],
      ["routes[\"/a\"].reply.chunkBytes", { routes: { "/a": { reply: { kind: "large", bytes: 1, chunkBytes: 0 } } } }],
      ["routes[\"/a\"].reply.chunked", {
        routes: { "/a": { reply: { kind: "large", bytes: 1, chunked: "yes" as unknown as boolean } } }
      }],
      ["routes[\"/a\"].reply.status", { routes: { "/a": { reply: { kind: "sink", status: 99 } } } }],
      ["routes[\"/a\"].reply.bytes", { routes: { "/a": { reply: { kind: "sink", bytes: 1 } as FaultServer.Sink } } }],
      ["routes[\"/a\"].reply.afterBytes", { routes: { "/a": { reply: { kind: "reset", afterBytes: -1 } } } }],
      ["routes[\"/a\"].reply.bytes", { routes: { "/a": { reply: { kind: "echo", bytes: 1 } as FaultServer.Echo } } }],
      ["routes[\"/a\"].mix", { routes: { "/a": { mix: [[200, 0], [500, 0]] } } }],
      ["routes[\"/a\"].mix[0][1]", { routes: { "/a": { mix: [[200, -1]] } } }],
      ["routes[\"/a\"].sequence", { routes: { "/a": { sequence: [] } } }],
      ["routes[\"/a\"].sequence[1]", { routes: { "/a": { sequence: [200, 700] } } }],
      ["routes[\"/a\"].sequenceEnd", { routes: { "/a": { sequence: [200], sequenceEnd: "stop" as "cycle" } } }],
      ["routes[\"/a\"].concurrency", { routes: { "/a": { concurrency: 0 } } }],
      ["routes[\"/a\"].concurrency", { routes: { "/a": { concurrency: 1.5 } } }],
      ["defaultRoute.reply", { defaultRoute: { reply: "explode" as "echo" } }]
    ]
    it.effect.each(cases)(
      "rejects a bad %s with InvalidOptionError naming it",
      ([option, options]) =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(Effect.scoped(FaultServer.make(options)))
          const error = Option.getOrThrow(Cause.findErrorOption(exit._tag === "Failure" ? exit.cause : Cause.empty))
          expect(error._tag).toBe("InvalidOptionError")
          expect(error).toMatchObject({ module: "FaultServer.make", option })
        })
    )
  })
})
