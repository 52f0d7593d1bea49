import { Deadline, Metrics } from "@async-ops/core"
import { HttpResilience } from "@async-ops/http"
import { FaultServer, LeakCheck } from "@async-ops/testing"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Metric, Schedule, Stream } from "effect"
import { HttpBody, HttpClientRequest } from "effect/http"

const clientWith = <A, E, R>(
  options: HttpResilience.Options,
  f: (client: HttpResilience.ResilientClient) => Effect.Effect<A, E, R>
) => Effect.flatMap(HttpResilience.ResilientClient, f).pipe(Effect.provide(HttpResilience.layerUndici(options)))

/** Polls until every host of the server has no open connection (sockets close asynchronously), at most 3 s. */
const awaitNoConnections = (server: FaultServer.FaultServer) =>
  server.stats.pipe(
    Effect.map((s) => Object.values(s.byHost).reduce((n, h) => n + h.openConnections, 0)),
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (open) => open === 0, times: 150 })
  )

const noRetry = { retry: false } as const

describe("HttpResilience", () => {
  it.live("a per-host cap of 3 bounds the server's concurrency and all 50 requests complete", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/slow": { latency: 15 } } })
      const statuses = yield* clientWith(
        { maxConnectionsPerHost: 3 },
        (client) =>
          Effect.forEach(
            Array.from({ length: 50 }, (_, i) => i),
            (i) => Effect.map(client.get(server.url(`/slow?i=${i}`)), (r) => r.status),
            { concurrency: "unbounded" }
          )
      )
      const stats = yield* server.stats
      const host = stats.byHost[server.hosts[0]!]!
      expect(statuses).toEqual(Array.from({ length: 50 }, () => 200))
      expect(host.count).toBe(50)
      expect(host.peakConcurrency).toBeLessThanOrEqual(3)
      expect(host.peakConcurrency).toBe(3)
    })))

  it.live("a global cap bounds the concurrency over three hosts", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ hosts: 3, routes: { "/slow": { latency: 15 } } })
      const outcomes = yield* clientWith(
        { maxConnections: 4, maxConnectionsPerHost: 10 },
        (client) =>
          Effect.forEach(Array.from({ length: 45 }, (_, i) => i), (i) =>
            Effect.map(client.get(server.url("/slow", i % 3)), (r) => r.status), { concurrency: "unbounded" })
      )
      const stats = yield* server.stats
      expect(outcomes.length).toBe(45)
      expect(stats.total).toBe(45)
      expect(stats.peakConcurrency).toBeLessThanOrEqual(4)
      expect(stats.peakConcurrency).toBe(4)
      for (const host of server.hosts) {
        expect(stats.byHost[host]!.count).toBe(15)
      }
    })))

  it.live("a 429 with Retry-After: 1 is retried no earlier than 1 s later", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/limited": { sequence: [{ status: 429, retryAfter: 1 }, 200], sequenceEnd: "repeat-last" } }
      })
      const res = yield* clientWith(
        { retry: { base: "1 millis", maxDelay: "5 millis" } },
        (client) => client.get(server.url("/limited"))
      )
      const requests = yield* server.requests
      expect(res.status).toBe(200)
      expect(res.attempts).toBe(2)
      expect(requests.length).toBe(2)
      expect(requests[1]!.arrivedAt - requests[0]!.arrivedAt).toBeGreaterThanOrEqual(1000)
    })))

  it.live("a 503 with an HTTP-date Retry-After is honoured", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: {
          "/busy": {
            sequence: [{ status: 503, retryAfter: 1, retryAfterFormat: "http-date" }, 200],
            sequenceEnd: "repeat-last"
          }
        }
      })
      const error = yield* clientWith(
        { retry: { base: "1 millis", maxDelay: "5 millis" } },
        (client) => Effect.map(client.get(server.url("/busy")), (r) => r.status)
      )
      const requests = yield* server.requests
      expect(error).toBe(200)
      expect(requests.length).toBe(2)
      // an HTTP-date has whole seconds: the wait is at least what is left of the current second, and > 0
      expect(requests[1]!.arrivedAt - requests[0]!.arrivedAt).toBeGreaterThan(0)
      expect(requests[0]!.retryAfter).toMatch(/GMT$/)
    })))

  it.effect("parseRetryAfter reads seconds and HTTP-dates", () =>
    Effect.sync(() => {
      expect(HttpResilience.parseRetryAfter("2", 0)).toEqual(Duration.seconds(2))
      expect(HttpResilience.parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 1000)).toEqual(Duration.millis(4000))
      expect(HttpResilience.parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 9000)).toEqual(Duration.zero)
      expect(HttpResilience.parseRetryAfter("soon", 0)).toBeUndefined()
      expect(HttpResilience.parseRetryAfter(undefined, 0)).toBeUndefined()
    }))

  it.live("a 503 sequence then 200 succeeds after N attempts", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/flaky": { sequence: [503, 503, 200], sequenceEnd: "repeat-last" } }
      })
      const res = yield* clientWith(
        { retry: { maxAttempts: 4, base: "1 millis", maxDelay: "5 millis" } },
        (client) => client.get(server.url("/flaky"))
      )
      expect(res.status).toBe(200)
      expect(res.attempts).toBe(3)
      expect((yield* server.stats).total).toBe(3)
    })))

  it.live("POST is not retried, unless it carries an Idempotency-Key", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: {
          "/post": { sequence: [503, 200], sequenceEnd: "repeat-last" },
          "/keyed": { sequence: [503, 200], sequenceEnd: "repeat-last" }
        }
      })
      const [plain, keyed] = yield* clientWith(
        { retry: { base: "1 millis", maxDelay: "5 millis" } },
        (client) =>
          Effect.all([
            Effect.flip(client.post(server.url("/post"))),
            client.post(server.url("/keyed"), { headers: { "idempotency-key": "k-1" } })
          ])
      )
      const stats = yield* server.stats
      expect(plain._tag).toBe("StatusError")
      expect(plain._tag === "StatusError" && plain.status).toBe(503)
      expect(stats.byRoute["/post"]).toBe(1)
      expect(keyed.status).toBe(200)
      expect(stats.byRoute["/keyed"]).toBe(2)
    })))

  it.live("a 404 is a StatusError with the status and headers, and is not retried", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/gone": { reply: { status: 404, body: "nope", headers: { "x-why": "gone" } } } }
      })
      const error = yield* clientWith({}, (client) => Effect.flip(client.get(server.url("/gone"))))
      expect(error._tag).toBe("StatusError")
      if (error._tag !== "StatusError") return
      expect(error.status).toBe(404)
      expect(error.headers["x-why"]).toBe("gone")
      expect(error.body).toBe("nope")
      expect((yield* server.stats).total).toBe(1)
    })))

  it.live("the circuit opens after the configured failures and later closes", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/sick": { sequence: [500, 500, 200], sequenceEnd: "repeat-last" } }
      })
      const result = yield* clientWith(
        { ...noRetry, circuitBreaker: { failures: 2, openDuration: "200 millis" } },
        (client) =>
          Effect.gen(function*() {
            const first = yield* Effect.flip(client.get(server.url("/sick")))
            const second = yield* Effect.flip(client.get(server.url("/sick")))
            const rejected = yield* Effect.flip(client.get(server.url("/sick")))
            const countWhileOpen = (yield* server.stats).total
            yield* Effect.sleep("250 millis")
            const probe = yield* client.get(server.url("/sick"))
            const after = yield* client.get(server.url("/sick"))
            return { first, second, rejected, countWhileOpen, probe: probe.status, after: after.status }
          })
      )
      expect(result.first._tag).toBe("StatusError")
      expect(result.second._tag).toBe("StatusError")
      expect(result.rejected._tag).toBe("CircuitOpenError")
      expect(result.countWhileOpen).toBe(2)
      expect(result.probe).toBe(200)
      expect(result.after).toBe(200)
      expect((yield* server.stats).total).toBe(4)
    })))

  it.live("stats.breakers reads each failing host's circuit: closed, open, half-open, closed again", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        hosts: 2,
        routes: { "/sick": { sequence: [500, 500, 200], sequenceEnd: "repeat-last" }, "/ok": {} }
      })
      const [sick, healthy] = [server.hosts[0]!, server.hosts[1]!]
      const states = yield* clientWith(
        { ...noRetry, circuitBreaker: { failures: 2, openDuration: "200 millis" } },
        (client) =>
          Effect.gen(function*() {
            const breakers = Effect.map(client.stats, (s) => s.breakers)
            const seen = [yield* breakers]
            yield* client.get(server.url("/ok", 1))
            yield* Effect.flip(client.get(server.url("/sick", 0)))
            seen.push(yield* breakers)
            yield* Effect.flip(client.get(server.url("/sick", 0)))
            seen.push(yield* breakers)
            const rejected = yield* Effect.flip(client.get(server.url("/sick", 0)))
            seen.push(yield* breakers)
            yield* Effect.sleep("250 millis")
            seen.push(yield* breakers)
            yield* client.get(server.url("/sick", 0))
            seen.push(yield* breakers)
            return { seen, rejected: rejected._tag }
          })
      )
      expect(states.rejected).toBe("CircuitOpenError")
      expect(states.seen).toEqual([
        {},
        { [sick]: "closed" },
        { [sick]: "open" },
        { [sick]: "open" },
        { [sick]: "half-open" },
        { [sick]: "closed" }
      ])
      expect(healthy).not.toBe(sick)
      expect((yield* server.stats).byHost[healthy]!.count).toBe(1)
    })))

  it.live("stats.breakers is empty without a circuit breaker", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/bad": { reply: 500 } } })
      const stats = yield* clientWith(noRetry, (client) =>
        Effect.andThen(Effect.flip(client.get(server.url("/bad"))), client.stats))
      expect(stats.failed).toBe(1)
      expect(stats.breakers).toEqual({})
    })))

  it.live("a body over maxResponseBytes fails with BodyTooLargeError and the socket is released", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: {
          "/big": { reply: { kind: "large", bytes: 5_000_000 } },
          "/chunked": { reply: { kind: "trickle", chunks: 50, delay: 1, chunkBytes: 1000 } },
          "/small": {}
        }
      })
      const [known, chunked, small] = yield* clientWith(
        { ...noRetry, maxResponseBytes: 10_000, maxConnectionsPerHost: 1 },
        (client) =>
          Effect.all([
            Effect.flip(client.get(server.url("/big"))),
            Effect.flip(client.get(server.url("/chunked"))),
            client.get(server.url("/small"))
          ])
      )
      expect(known._tag).toBe("BodyTooLargeError")
      expect(known._tag === "BodyTooLargeError" && known.received).toBe(5_000_000)
      expect(chunked._tag).toBe("BodyTooLargeError")
      expect(chunked._tag === "BodyTooLargeError" && chunked.received).toBeGreaterThan(10_000)
      expect(small.status).toBe(200)
      const requests = yield* server.requests
      expect(requests.map((r) => r.state)).toEqual(["aborted", "aborted", "completed"])
      // the two oversized exchanges closed their sockets: each request came on a new connection
      expect(requests.map((r) => r.connection)).toEqual([1, 2, 3])
      expect(yield* awaitNoConnections(server)).toBe(0)
    })))

  it.live("a full pool fails with PoolWaitTimeoutError, distinct from a request timeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/hang": { reply: "hang" }, "/ok": {} } })
      const [hung, waited] = yield* clientWith(
        { ...noRetry, maxConnectionsPerHost: 1, poolWaitTimeout: "100 millis", headersTimeout: "400 millis" },
        (client) =>
          Effect.gen(function*() {
            const hanging = yield* Effect.forkChild(Effect.flip(client.get(server.url("/hang"))))
            yield* server.awaitRequests(1)
            const waited = yield* Effect.flip(client.get(server.url("/ok")))
            const hung = yield* Fiber.join(hanging)
            return [hung, waited] as const
          })
      )
      expect(waited._tag).toBe("PoolWaitTimeoutError")
      expect(hung._tag).toBe("RequestTimeoutError")
      expect(hung._tag === "RequestTimeoutError" && hung.phase).toBe("headers")
      expect((yield* server.stats).byRoute["/ok"]).toBeUndefined()
    })))

  it.live("requestTimeout bounds the whole exchange, body included", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/drip": { reply: { kind: "trickle", chunks: 100, delay: 20, chunkBytes: 10 } } }
      })
      const error = yield* clientWith(
        { ...noRetry, headersTimeout: "1 second", requestTimeout: "150 millis" },
        (client) => Effect.flip(client.get(server.url("/drip")))
      )
      expect(error._tag).toBe("RequestTimeoutError")
      expect(error._tag === "RequestTimeoutError" && error.phase).toBe("request")
      // headers arrive in time, so the shorter headers timeout does not fire; the request timeout does
      const later = yield* clientWith(
        { ...noRetry, headersTimeout: "60 millis", requestTimeout: "200 millis" },
        (client) => Effect.flip(client.get(server.url("/drip")))
      )
      expect(later._tag === "RequestTimeoutError" && later.phase).toBe("request")
    })))

  it.live("an invalid URL fails with MalformedUrlError and sends nothing", () =>
    Effect.gen(function*() {
      const errors = yield* clientWith(
        {},
        (client) =>
          Effect.forEach(["not a url", "ftp://example.com/x", "", "http://"], (u) => Effect.flip(client.get(u)))
      )
      expect(errors.map((e) => e._tag)).toEqual([
        "MalformedUrlError",
        "MalformedUrlError",
        "MalformedUrlError",
        "MalformedUrlError"
      ])
    }))

  it.live("a refused connection is a ConnectError; a reset is a ConnectionLostError", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/reset": { reply: "reset" } } })
      const [refused, reset] = yield* clientWith(noRetry, (client) =>
        Effect.all([
          Effect.flip(client.get(`http://127.0.0.1:1/`)),
          Effect.flip(client.get(server.url("/reset")))
        ]))
      expect(refused._tag).toBe("ConnectError")
      expect(refused._tag === "ConnectError" && refused.code).toBe("ECONNREFUSED")
      expect(reset._tag).toBe("ConnectionLostError")
    })))

  it.live("transport errors are retried for GET", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/once": { sequence: ["reset", 200], sequenceEnd: "repeat-last" } }
      })
      const res = yield* clientWith({ retry: { base: "1 millis" } }, (client) => client.get(server.url("/once")))
      expect(res.status).toBe(200)
      expect(res.attempts).toBe(2)
    })))

  it.live("the remaining deadline is sent in a header, decreasing, with the user agent", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/a": { latency: 30 } } })
      yield* clientWith({}, (client) =>
        Effect.gen(function*() {
          yield* client.get(server.url("/a"))
          yield* client.get(server.url("/a"))
        }).pipe(Deadline.within("5 seconds")))
      yield* clientWith(
        { deadlineHeader: "x-budget", userAgent: "me/1" },
        (client) => client.get(server.url("/a")).pipe(Deadline.within("2 seconds"))
      )
      yield* clientWith({}, (client) => client.get(server.url("/a")))
      const requests = yield* server.requests
      const first = Number(requests[0]!.headers["x-deadline-ms"])
      const second = Number(requests[1]!.headers["x-deadline-ms"])
      expect(first).toBeLessThanOrEqual(5000)
      expect(first).toBeGreaterThan(4000)
      expect(second).toBeLessThan(first - 25)
      expect(requests[0]!.headers["user-agent"]).toBe("async-ops-http/0.1")
      expect(Number(requests[2]!.headers["x-budget"])).toBeLessThanOrEqual(2000)
      expect(requests[2]!.headers["user-agent"]).toBe("me/1")
      expect(requests[3]!.headers["x-deadline-ms"]).toBeUndefined()
    })))

  it.live("the Deadline bounds retries: the call ends with DeadlineExceededError", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/down": { reply: 503, latency: 20 } } })
      const error = yield* clientWith(
        { retry: { maxAttempts: 100, base: "30 millis", maxDelay: "30 millis", jitter: "none" } },
        (client) => Effect.flip(client.get(server.url("/down")).pipe(Deadline.within("300 millis")))
      )
      expect(["DeadlineExceededError", "StatusError"]).toContain(error._tag)
      expect((yield* server.stats).total).toBeLessThan(10)
    })))

  it.live("a per-host rate limit with onExceeded fail rejects past the limit", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/r": {} } })
      const results = yield* clientWith(
        { ...noRetry, rateLimit: { limit: 2, window: "10 seconds", onExceeded: "fail" } },
        (client) => Effect.forEach([1, 2, 3], () => Effect.exit(client.get(server.url("/r"))))
      )
      expect(results.map(Exit.isSuccess)).toEqual([true, true, false])
      const last = results[2]!
      expect(Exit.isFailure(last) && JSON.stringify(last.cause)).toContain("RateLimitedError")
      expect((yield* server.stats).total).toBe(2)
    })))

  it.live("a per-host rate limit with onExceeded delay spaces requests by the window", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/r": {} } })
      yield* clientWith(
        { rateLimit: { limit: 1, window: "150 millis" } },
        (client) => Effect.forEach([1, 2, 3], () => client.get(server.url("/r")))
      )
      const requests = yield* server.requests
      expect(requests.length).toBe(3)
      expect(requests[2]!.arrivedAt - requests[0]!.arrivedAt).toBeGreaterThanOrEqual(250)
    })))

  it.live("nothing leaks: connections close when the client layer is released", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ hosts: 3, routes: { "/x": { latency: 5 } } })
      const before = process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length
      yield* clientWith(
        { maxConnectionsPerHost: 4 },
        (client) =>
          Effect.forEach(Array.from({ length: 60 }, (_, i) => i), (i) => client.get(server.url("/x", i % 3)), {
            concurrency: 20
          })
      )
      expect(yield* awaitNoConnections(server)).toBe(0)
      const after = process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length
      expect(after).toBeLessThanOrEqual(before)
    })))

  it.live("stats count requests, attempts, retries and outcomes, and go back to idle", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/flaky": { sequence: [503, 200], sequenceEnd: "repeat-last" }, "/bad": { reply: 400 } }
      })
      const stats = yield* clientWith({ name: "api", retry: { base: "1 millis" } }, (client) =>
        Effect.gen(function*() {
          yield* client.get(server.url("/flaky"))
          yield* Effect.flip(client.get(server.url("/bad")))
          return yield* client.stats
        }))
      expect(stats).toEqual({
        name: "api",
        requests: 2,
        inFlight: 0,
        attempts: 3,
        retries: 1,
        succeeded: 1,
        failed: 1,
        connectionsInUse: 0,
        waitingForConnection: 0,
        hosts: 0,
        breakers: {}
      })
    })))

  it.live("metrics report the connections in flight", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/hang": { reply: "hang" } } })
      const gauge = Metric.withAttributes(Metrics.inFlight, { primitive: "KeyedLimiter", name: "metered" })
      const value = yield* clientWith({ ...noRetry, name: "metered", metrics: true }, (client) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(client.get(server.url("/hang")))
          yield* server.awaitRequests(1)
          const during = (yield* Metric.value(gauge)).value
          yield* Fiber.interrupt(fiber)
          return during
        }))
      expect(value).toBe(1)
      expect((yield* Metric.value(gauge)).value).toBe(0)
    })))

  it.live("interrupting calls at random points leaves no held or waiting connection", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/r": { latency: { kind: "uniform", min: 0, max: 30 } }, "/hang": { reply: "hang" } }
      })
      let seed = 7
      const random = () => {
        seed = (seed + 0x6D2B79F5) | 0
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296
      }
      const stats = yield* clientWith(
        { maxConnectionsPerHost: 2, poolWaitTimeout: "200 millis", retry: { base: "1 millis" } },
        (client) =>
          LeakCheck.fibers(Effect.gen(function*() {
            for (let round = 0; round < 5; round++) {
              const fibers = yield* Effect.forEach(Array.from({ length: 12 }, (_, i) => i), (i) =>
                Effect.forkChild(
                  Effect.exit(client.get(server.url(random() < 0.2 ? "/hang" : `/r?i=${i}`))),
                  { startImmediately: true }
                ))
              yield* Effect.sleep(Duration.millis(Math.floor(random() * 40)))
              yield* Effect.forEach(fibers, (f) => random() < 0.5 ? Fiber.interrupt(f) : Effect.void)
              yield* Effect.forEach(fibers, (f) => Fiber.interrupt(f))
            }
            return yield* client.stats
          }))
      )
      expect(stats.inFlight).toBe(0)
      expect(stats.connectionsInUse).toBe(0)
      expect(stats.waitingForConnection).toBe(0)
      expect(stats.hosts).toBe(0)
      expect(yield* awaitNoConnections(server)).toBe(0)
    })))

  it.live("make works over any HttpClient layer in context", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/j": { reply: { status: 200, body: "{\"a\":1}" } } } })
      const { NodeHttpClient } = yield* Effect.promise(() => import("@effect/platform-node"))
      const json = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* HttpResilience.make({ maxConnections: 2 })
        const res = yield* client.execute(HttpClientRequest.get(server.url("/j")))
        return yield* res.json
      })).pipe(Effect.provide(Layer.fresh(NodeHttpClient.layerUndici)))
      expect(json).toEqual({ a: 1 })
    })))

  it.effect("invalid options fail with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, HttpResilience.Options]> = [
        ["maxConnections", { maxConnections: 0 }],
        ["maxConnectionsPerHost", { maxConnectionsPerHost: 1.5 }],
        ["poolWaitTimeout", { poolWaitTimeout: -1 }],
        ["connectTimeout", { connectTimeout: 0 }],
        ["headersTimeout", { headersTimeout: Number.NaN }],
        ["requestTimeout", { requestTimeout: 0 }],
        ["retry.maxAttempts", { retry: { maxAttempts: 0 } }],
        ["retry.base", { retry: { base: -5 } }],
        ["retry.maxDelay", { retry: { maxDelay: -5 } }],
        ["retry.jitter", { retry: { jitter: "some" as "full" } }],
        ["retry.statuses", { retry: { statuses: [99] } }],
        ["retry.methods", { retry: { methods: ["G E T"] } }],
        ["circuitBreaker.failures", { circuitBreaker: { failures: 0 } }],
        ["circuitBreaker.openDuration", { circuitBreaker: { openDuration: 0 } }],
        ["rateLimit.limit", { rateLimit: { limit: 0, window: "1 second" } }],
        ["rateLimit.window", { rateLimit: { limit: 1, window: 0 } }],
        ["rateLimit.onExceeded", { rateLimit: { limit: 1, window: 10, onExceeded: "drop" as "fail" } }],
        ["maxResponseBytes", { maxResponseBytes: -1 }],
        ["deadlineHeader", { deadlineHeader: "bad header" }],
        ["userAgent", { userAgent: "a\nb" }],
        ["name", { name: 1 as unknown as string }]
      ]
      for (const [option, options] of cases) {
        const error = yield* Effect.flip(Effect.scoped(
          Effect.flatMap(
            HttpResilience.ResilientClient,
            () => Effect.void
          ).pipe(Effect.provide(HttpResilience.layerUndici(options)))
        ))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe(option)
      }
    }))
})

/**
 * The two ways a request goes: `layerUndici`'s direct undici exchange, and Effect's `HttpClient` (here
 * `NodeHttpClient.layerUndici`) under `layer`. The behaviours below must be the same on both.
 */
const paths = [
  {
    path: "layerUndici (direct undici exchange)",
    live: (options: HttpResilience.Options) => HttpResilience.layerUndici(options)
  },
  {
    path: "layer over an HttpClient",
    live: (options: HttpResilience.Options) =>
      HttpResilience.layer(options).pipe(Layer.provide(Layer.fresh(NodeHttpClient.layerUndici)))
  }
]

describe.each(paths)("HttpResilience on $path", ({ live }) => {
  const on = <A, E, R>(
    options: HttpResilience.Options,
    f: (client: HttpResilience.ResilientClient) => Effect.Effect<A, E, R>
  ) => Effect.flatMap(HttpResilience.ResilientClient, f).pipe(Effect.provide(live(options)))

  it.live("a 200 carries status, headers and body; the request's method, query, headers and body arrive", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/echo": { reply: { kind: "echo" } } } })
      const res = yield* on({}, (client) =>
        client.post(server.url("/echo?x=1"), {
          urlParams: { q: "a b" },
          // the client's deadline header replaces the request's own
          headers: { "x-k": "v", "x-deadline-ms": "1" },
          body: HttpBody.text("hello")
        }).pipe(Deadline.within("5 seconds")))
      const echoed = (yield* res.json) as {
        readonly method: string
        readonly query: Record<string, string>
        readonly headers: Record<string, string>
        readonly body: string
      }
      expect(res.status).toBe(200)
      expect(res.attempts).toBe(1)
      expect(res.headers["content-type"]).toContain("application/json")
      expect(res.body).toBeInstanceOf(Uint8Array)
      expect(res.body.length).toBe(Number(res.headers["content-length"]))
      expect(echoed.method).toBe("POST")
      expect(echoed.query).toEqual({ x: "1", q: "a b" })
      expect(echoed.body).toBe("hello")
      expect(echoed.headers["x-k"]).toBe("v")
      expect(echoed.headers["content-type"]).toBe("text/plain")
      expect(echoed.headers["user-agent"]).toBe("async-ops-http/0.1")
      expect(Number(echoed.headers["x-deadline-ms"])).toBeLessThanOrEqual(5000)
      expect(Number(echoed.headers["x-deadline-ms"])).toBeGreaterThan(4000)
    })))

  it.live("a stream body is sent whole", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/echo": { reply: { kind: "echo" } } } })
      const encoder = new TextEncoder()
      const res = yield* on({}, (client) =>
        client.execute(
          HttpClientRequest.post(server.url("/echo")).pipe(
            HttpClientRequest.bodyStream(Stream.fromIterable(["a", "b", "c"].map((s) => encoder.encode(s))))
          )
        ))
      expect(((yield* res.json) as { readonly body: string }).body).toBe("abc")
    })))

  it.live("a 404 is a StatusError with its body and headers; a 503 is retried", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: {
          "/gone": { reply: { status: 404, body: "nope", headers: { "x-why": "gone" } } },
          "/flaky": { sequence: [{ status: 503, retryAfter: 0 }, 200], sequenceEnd: "repeat-last" }
        }
      })
      const [gone, flaky] = yield* on(
        { retry: { base: "1 millis" } },
        (client) => Effect.all([Effect.flip(client.get(server.url("/gone"))), client.get(server.url("/flaky"))])
      )
      expect(gone._tag).toBe("StatusError")
      expect(gone._tag === "StatusError" && [gone.status, gone.body, gone.headers["x-why"]]).toEqual([
        404,
        "nope",
        "gone"
      ])
      expect(flaky.status).toBe(200)
      expect(flaky.attempts).toBe(2)
    })))

  it.live("bodies over maxResponseBytes fail and close their sockets; HEAD reads no body", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: {
          "/big": { reply: { kind: "large", bytes: 5_000_000 } },
          "/chunked": { reply: { kind: "large", bytes: 5_000_000, chunked: true, chunkBytes: 16_384 } },
          "/small": {}
        }
      })
      const [known, chunked, small, head] = yield* on(
        { ...noRetry, maxResponseBytes: 10_000, maxConnectionsPerHost: 1 },
        (client) =>
          Effect.all([
            Effect.flip(client.get(server.url("/big"))),
            Effect.flip(client.get(server.url("/chunked"))),
            client.get(server.url("/small")),
            client.head(server.url("/big"))
          ])
      )
      expect(known._tag === "BodyTooLargeError" && known.received).toBe(5_000_000)
      expect(chunked._tag === "BodyTooLargeError" && chunked.received).toBeGreaterThan(10_000)
      expect(small.status).toBe(200)
      expect(head.status).toBe(200)
      expect(head.body.length).toBe(0)
      const requests = yield* server.requests
      expect(requests.slice(0, 3).map((r) => r.state)).toEqual(["aborted", "aborted", "completed"])
      expect(requests.slice(0, 3).map((r) => r.connection)).toEqual([1, 2, 3])
      expect(yield* awaitNoConnections(server)).toBe(0)
    })))

  it.live("the headers timeout and the request timeout fail with their phase", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/hang": { reply: "hang" }, "/body": { reply: { kind: "hang", afterHeaders: true } } }
      })
      const [headers, request] = yield* on(
        { ...noRetry, headersTimeout: "100 millis", requestTimeout: "200 millis" },
        (client) =>
          Effect.all([Effect.flip(client.get(server.url("/hang"))), Effect.flip(client.get(server.url("/body")))])
      )
      expect(headers._tag === "RequestTimeoutError" && headers.phase).toBe("headers")
      expect(request._tag === "RequestTimeoutError" && request.phase).toBe("request")
      expect(request._tag === "RequestTimeoutError" && Duration.toMillis(request.timeout)).toBe(200)
      expect(yield* awaitNoConnections(server)).toBe(0)
      expect((yield* server.requests).map((r) => r.state)).toEqual(["aborted", "aborted"])
    })))

  it.live("a refused connection is a ConnectError; a reset before or after the head is a ConnectionLostError", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/reset": { reply: "reset" }, "/cut": { reply: { kind: "reset", afterBytes: 10 } } }
      })
      const errors = yield* on(noRetry, (client) =>
        Effect.forEach(
          ["http://127.0.0.1:1/", server.url("/reset"), server.url("/cut")],
          (url) => Effect.flip(client.get(url))
        ))
      expect(errors.map((e) => e._tag)).toEqual(["ConnectError", "ConnectionLostError", "ConnectionLostError"])
      expect(errors[0]!._tag === "ConnectError" && errors[0]!.code).toBe("ECONNREFUSED")
    })))

  it.live("interrupting calls in flight aborts their requests: no fiber, permit or connection is left", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/hang": { reply: "hang" } } })
      const stats = yield* on({ maxConnectionsPerHost: 2 }, (client) =>
        LeakCheck.fibers(Effect.gen(function*() {
          const fibers = yield* Effect.forEach([1, 2, 3], () =>
            Effect.forkChild(client.get(server.url("/hang")), { startImmediately: true }))
          yield* server.awaitRequests(2)
          yield* Fiber.interruptAll(fibers)
          return yield* client.stats
        })))
      expect([stats.inFlight, stats.connectionsInUse, stats.waitingForConnection]).toEqual([0, 0, 0])
      expect(yield* awaitNoConnections(server)).toBe(0)
      const requests = yield* server.requests
      expect(requests.map((r) => r.state)).toEqual(["aborted", "aborted"])
    })))

  it.live("a call after the layer is released fails at once with a ConnectionLostError", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/x": {} } })
      const client = yield* on(
        { ...noRetry, requestTimeout: "1 hour" },
        (client) => Effect.as(client.get(server.url("/x")), client)
      )
      const error = yield* Effect.flip(client.get(server.url("/x")))
      expect(error._tag).toBe("ConnectionLostError")
      expect((yield* server.stats).total).toBe(1)
    })))

  it.live("trace headers are sent only with tracing on, from the caller's span", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/t": {} } })
      const send = (tracing: boolean) =>
        on({ tracing }, (client) => client.get(server.url("/t"))).pipe(Effect.withSpan("caller"))
      yield* send(false)
      yield* send(true)
      const [off, traced] = yield* server.requests
      expect(off!.headers["traceparent"]).toBeUndefined()
      expect(traced!.headers["traceparent"]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
    })))
})
