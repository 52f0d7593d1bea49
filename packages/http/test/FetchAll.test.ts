import { FetchAll, HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream, SubscriptionRef } from "effect"
import { HttpClientRequest } from "effect/http"

const Client = (options: HttpResilience.Options = {}) =>
  HttpResilience.layerUndici({ retry: { base: "1 millis", maxDelay: "5 millis" }, ...options })

describe("FetchAll", () => {
  it.live("200 URLs across 3 hosts with faults give exactly 200 outcomes in input order", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        hosts: 3,
        seed: 42,
        routes: {
          "/item/*": {
            latency: { kind: "uniform", min: 0, max: 10 },
            mix: [[200, 70], [503, 15], [404, 10], ["reset", 5]]
          }
        }
      })
      const urls = Array.from({ length: 200 }, (_, i) => server.url(`/item/${i}`, i % 3))
      const settled = yield* FetchAll.fetchAll(urls, { concurrency: 30 }).pipe(
        Effect.provide(Client({ maxConnectionsPerHost: 8 }))
      )
      expect(settled.outcomes.length).toBe(200)
      settled.outcomes.forEach((o, i) => {
        expect(o.index).toBe(i)
        expect(o.input).toBe(urls[i])
      })
      expect(settled.counts.success + settled.counts.failure).toBe(200)
      expect(settled.counts.success).toBeGreaterThan(100)
      expect(settled.failures.every((f) => ["StatusError", "ConnectionLostError"].includes(f.error._tag))).toBe(true)
      for (const s of settled.successes) expect(s.value.status).toBe(200)
      const stats = yield* server.stats
      for (const host of server.hosts) expect(stats.byHost[host]!.peakConcurrency).toBeLessThanOrEqual(8)
    })))

  it.live("malformed URLs become typed failures of their own items", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/ok": {} } })
      const inputs: ReadonlyArray<FetchAll.Input> = [
        server.url("/ok"),
        "not a url",
        new URL(server.url("/ok")),
        "ftp://example.com/",
        HttpClientRequest.head(server.url("/ok"))
      ]
      const settled = yield* FetchAll.fetchAll(inputs).pipe(Effect.provide(Client()))
      expect(settled.outcomes.map((o) => o._tag)).toEqual(["Success", "Failure", "Success", "Failure", "Success"])
      expect(settled.failures.map((f) => [f.index, f.error._tag])).toEqual([
        [1, "MalformedUrlError"],
        [3, "MalformedUrlError"]
      ])
      expect((yield* server.requests).map((r) => r.method)).toEqual(["GET", "GET", "HEAD"])
    })))

  it.live("progress is observable while the batch runs", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/fast": {}, "/hang": { reply: "hang" } } })
      const progress = yield* FetchAll.makeProgress
      const inputs = [...Array.from({ length: 10 }, () => server.url("/fast")), server.url("/hang")]
      const result = yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(FetchAll.fetchAll(inputs, { progress }))
        const seen = yield* SubscriptionRef.changes(progress).pipe(
          Stream.filter((p) => p.done === 10),
          Stream.take(1),
          Stream.runCollect
        )
        const settled = yield* Fiber.join(fiber)
        return { mid: seen[0]!, settled, end: yield* SubscriptionRef.get(progress) }
      }).pipe(Effect.provide(Client({ retry: false, headersTimeout: "300 millis" })))
      expect(result.mid).toEqual({ total: 11, inFlight: 1, done: 10, succeeded: 10, failed: 0 })
      expect(result.end).toEqual({ total: 11, inFlight: 0, done: 11, succeeded: 10, failed: 1 })
      expect(result.settled.failures[0]!.error._tag).toBe("RequestTimeoutError")
    })))

  it.live("stream emits one outcome per input in completion order", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({
        routes: { "/slow": { latency: 120 }, "/mid": { latency: 60 }, "/fast": {} }
      })
      const outcomes = yield* FetchAll.stream([server.url("/slow"), server.url("/mid"), server.url("/fast")]).pipe(
        Stream.runCollect,
        Effect.provide(Client())
      )
      expect(outcomes.map((o) => o.index)).toEqual([2, 1, 0])
    })))

  it.live("maxFailures stops the batch: the rest are not run", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make({ routes: { "/bad": { reply: 400 } } })
      const settled = yield* FetchAll.fetchAll(Array.from({ length: 5 }, () => server.url("/bad")), {
        concurrency: 1,
        maxFailures: 2
      }).pipe(Effect.provide(Client()))
      expect(settled.outcomes.map((o) => o._tag)).toEqual(["Failure", "Failure", "NotRun", "NotRun", "NotRun"])
      expect((yield* server.stats).total).toBe(2)
    })))

  it.live("invalid batch options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(FetchAll.fetchAll(["http://127.0.0.1:1/"], { concurrency: 0 })).pipe(
        Effect.provide(Client())
      )
      expect(error._tag).toBe("InvalidOptionError")
      expect(error.option).toBe("concurrency")
    }))
})
