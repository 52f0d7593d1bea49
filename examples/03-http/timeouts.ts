/**
 * Replaces aiohttp's `ClientTimeout(total=..., sock_read=...)` and the `asyncio.TimeoutError` it raises for both a
 * slow server and a full connection pool (aio-libs/aiohttp#5415): here each phase has its own timeout, and waiting
 * for a pool slot fails with its own error.
 */
import { HttpResilience, HttpResilienceError } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Console, Effect, Fiber, Layer } from "effect"

const Server = FaultServer.layer({
  routes: {
    "/hang": { reply: "hang" },
    "/drip": { reply: { kind: "trickle", chunks: 20, delay: 75, chunkBytes: 10 } },
    "/ok": { latency: 5 }
  }
})

const Client = HttpResilience.layerUndici({
  retry: false,
  maxConnectionsPerHost: 1,
  // wide enough apart that a loaded machine still tells the phases apart
  poolWaitTimeout: "200 millis",
  headersTimeout: "500 millis",
  requestTimeout: "800 millis"
})

const describe = (error: HttpResilienceError.HttpError): string =>
  error._tag === "RequestTimeoutError" ? `${error._tag} (phase: ${error.phase})` : error._tag

export const program = Effect.gen(function*() {
  const server = yield* FaultServer.FaultServer
  const client = yield* HttpResilience.ResilientClient

  yield* Console.log("-- the server never answers: the headers timeout fires")
  yield* Console.log(describe(yield* Effect.flip(client.get(server.url("/hang")))))

  yield* Console.log("-- headers come at once, the body drips for 1.5 s: the request timeout fires")
  yield* Console.log(describe(yield* Effect.flip(client.get(server.url("/drip")))))

  yield* Console.log("-- the only connection is busy: waiting for it fails with a pool error, not a timeout")
  const busy = yield* Effect.forkChild(Effect.flip(client.get(server.url("/hang"))))
  yield* server.awaitRequests(3)
  const waited = yield* Effect.flip(client.get(server.url("/ok")))
  yield* Console.log(`waiting caller: ${describe(waited)}`)
  yield* Console.log(`busy caller: ${describe(yield* Fiber.join(busy))}`)
  const stats = yield* server.stats
  yield* Console.log(`/ok reached the server: ${stats.byRoute["/ok"] ?? 0} times`)

  yield* Console.log("-- once the connection is free, the same call succeeds")
  yield* Console.log(`status: ${(yield* client.get(server.url("/ok"))).status}`)
}).pipe(Effect.provide(Layer.merge(Server, Client)))
