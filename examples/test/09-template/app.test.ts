import * as Health from "@async-ops/service/Health"
import * as Main from "@async-ops/service/Main"
import * as Shutdown from "@async-ops/service/Shutdown"
import { FaultServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import * as Http from "node:http"
import { program, serve } from "../../09-template/app.ts"
import { runLiveExample } from "../03-http/runLive.ts"

it.live("09-template/app serves, answers probes and metrics, and shuts down cleanly with a request in flight", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- listening on a free port",
      "GET /work?ms=20 200 {\"ok\":true}",
      "GET /items/7 200 {\"id\":7,\"name\":\"item-7\"}",
      "GET /aggregate 200 {\"items\":[{\"id\":1,\"name\":\"item-1\"},{\"id\":2,\"name\":\"item-2\"},{\"id\":3,\"name\":\"item-3\"},{\"id\":4,\"name\":\"item-4\"},{\"id\":5,\"name\":\"item-5\"}],\"failed\":0}",
      "GET /readyz 200 (empty)",
      "GET /healthz 200 healthy: shutdown healthy",
      "GET /metrics 200 shows async_ops_in_flight for the server: true",
      "-- shutdown triggered with a request in flight",
      "GET /readyz 503 (the listener is still open)",
      "in-flight GET /work 200 {\"ok\":true}",
      "phases: running -> draining -> stopping -> stopped",
      "steps: drain delay done, demo caller done, http done, finalizers done",
      "outcome: clean, exit code 0, cut off: 0"
    ])
  }))

/** A GET with the given headers on the raw Node client (which, unlike fetch, lets a caller forge `Host`). */
const rawGet = (url: string, headers: Record<string, string> = {}) =>
  Effect.callback<{ readonly status: number; readonly body: string }>((resume) => {
    const request = Http.get(url, { headers }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, body })))
    })
    request.on("error", (e) => resume(Effect.die(e)))
  })

/** Runs the template's service on a free port, runs `f` with its URL, then shuts it down. */
const withService = <A>(upstream: string | undefined, f: (url: string) => Effect.Effect<A>) =>
  Effect.gen(function*() {
    const result = yield* Deferred.make<A>()
    yield* Main.run(
      serve({ port: 0, host: "127.0.0.1", drainDelayMs: 0, budgetMs: 10_000, upstream }, (url) =>
        Effect.gen(function*() {
          yield* Deferred.succeed(result, yield* f(url))
          yield* Shutdown.trigger("test")
        })),
      { layer: Health.layer, shutdown: { signals: [], drainDelay: 0, budget: 10_000 }, logLevel: "None" }
    )
    return yield* Deferred.await(result)
  })

describe("09-template/app", () => {
  it.live("/aggregate never calls the address a forged Host header names", () =>
    Effect.gen(function*() {
      const target = yield* FaultServer.make({ defaultRoute: { reply: "echo" } })
      const reply = yield* withService(undefined, (url) => rawGet(`${url}/aggregate`, { host: target.hosts[0]! }))
      expect(reply.status).toBe(200)
      // the items came from the service itself, and the forged address got nothing
      expect(JSON.parse(reply.body)).toMatchObject({ failed: 0, items: [{ id: 1, name: "item-1" }, {}, {}, {}, {}] })
      expect((yield* target.stats).total).toBe(0)
    }).pipe(Effect.scoped), 60_000)

  it.live("/aggregate calls the configured upstream whatever the Host header says", () =>
    Effect.gen(function*() {
      const upstream = yield* FaultServer.make({ routes: { "/items/*": { reply: { status: 200, body: "{}" } } } })
      const forged = yield* FaultServer.make({})
      const reply = yield* withService(
        upstream.urls[0],
        (url) => rawGet(`${url}/aggregate`, { host: forged.hosts[0]! })
      )
      expect(JSON.parse(reply.body)).toStrictEqual({ items: [{}, {}, {}, {}, {}], failed: 0 })
      expect((yield* upstream.requests).map((r) => r.path).toSorted()).toStrictEqual(
        ["/items/1", "/items/2", "/items/3", "/items/4", "/items/5"]
      )
      expect((yield* forged.stats).total).toBe(0)
    }).pipe(Effect.scoped), 60_000)

  it.live("bad parameters are a 400 problem, not a 500", () =>
    Effect.gen(function*() {
      const replies = yield* withService(undefined, (url) =>
        Effect.all([
          rawGet(`${url}/items/abc`),
          rawGet(`${url}/items/1.5`),
          rawGet(`${url}/work?ms=abc`),
          rawGet(`${url}/work?ms=-1`),
          rawGet(`${url}/items/3`),
          rawGet(`${url}/work?ms=1`)
        ]))
      expect(replies.map((r) => r.status)).toStrictEqual([400, 400, 400, 400, 200, 200])
      expect(JSON.parse(replies[0]!.body)).toMatchObject({ status: 400 })
    }), 60_000)
})
