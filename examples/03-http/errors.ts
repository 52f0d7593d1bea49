/**
 * Replaces aiohttp's `except aiohttp.ClientConnectorError / ServerDisconnectedError / ClientResponseError /
 * asyncio.TimeoutError` ladder: every failure of a call is a tagged error in one union, matched with
 * `Effect.catchTag` / `Effect.catchTags`, and the compiler knows which tags are left.
 */
import { HttpResilience, HttpResilienceError } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Console, Effect } from "effect"

const withClient = <A, E, R>(
  options: HttpResilience.Options,
  f: (client: HttpResilience.ResilientClient) => Effect.Effect<A, E, R>
) => Effect.flatMap(HttpResilience.ResilientClient, f).pipe(Effect.provide(HttpResilience.layerUndici(options)))

/** One line per outcome: every tag of the union handled, each with the fields it carries. */
const outcome = <R>(call: Effect.Effect<HttpResilience.Response, HttpResilienceError.HttpError, R>) =>
  call.pipe(
    Effect.map((res) => `ok ${res.status}`),
    Effect.catchTags({
      MalformedUrlError: (e) => Effect.succeed(`MalformedUrlError: ${e.reason}`),
      ConnectError: (e) => Effect.succeed(`ConnectError: ${e.code}`),
      ConnectionLostError: () => Effect.succeed("ConnectionLostError: the connection was reset"),
      RequestTimeoutError: (e) => Effect.succeed(`RequestTimeoutError: ${e.phase} phase`),
      PoolWaitTimeoutError: () => Effect.succeed("PoolWaitTimeoutError"),
      StatusError: (e) => Effect.succeed(`StatusError: ${e.status} ${JSON.stringify(e.body)}`),
      BodyTooLargeError: (e) => Effect.succeed(`BodyTooLargeError: over ${e.limit} bytes`),
      BodyDecodeError: () => Effect.succeed("BodyDecodeError"),
      CircuitOpenError: () => Effect.succeed("CircuitOpenError"),
      RateLimitedError: () => Effect.succeed("RateLimitedError")
    }),
    Effect.flatMap(Console.log)
  )

export const program = Effect.scoped(Effect.gen(function*() {
  const server = yield* FaultServer.make({
    routes: {
      "/missing": { reply: { status: 404, body: "no such item" } },
      "/reset": { reply: "reset" },
      "/hang": { reply: "hang" },
      "/big": { reply: { kind: "large", bytes: 100_000 } },
      "/text": { reply: { status: 200, body: "not json" } },
      "/down": { reply: 500 },
      "/ok": {}
    }
  })

  yield* Console.log("-- one client, one union of errors")
  yield* withClient(
    { retry: false, headersTimeout: "1 second", maxResponseBytes: 10_000 },
    (client) =>
      Effect.gen(function*() {
        yield* outcome(client.get("not a url"))
        yield* outcome(client.get("http://127.0.0.1:1/"))
        yield* outcome(client.get(server.url("/reset")))
        yield* outcome(client.get(server.url("/hang")))
        yield* outcome(client.get(server.url("/missing")))
        yield* outcome(client.get(server.url("/big")))
        yield* outcome(client.get(server.url("/text")).pipe(Effect.tap((res) => res.json)))
      })
  )

  yield* Console.log("-- a circuit breaker opens after 2 failures")
  yield* withClient(
    { retry: false, circuitBreaker: { failures: 2, openDuration: "1 second" } },
    (client) =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) yield* outcome(client.get(server.url("/down")))
      })
  )

  yield* Console.log("-- a rate limit of 2 per second, failing fast")
  yield* withClient(
    { rateLimit: { limit: 2, window: "1 second", onExceeded: "fail" } },
    (client) =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) yield* outcome(client.get(server.url("/ok")))
      })
  )

  yield* Console.log("-- handle one tag, let the rest through")
  const status = yield* withClient({ retry: false }, (client) =>
    client.get(server.url("/missing")).pipe(
      Effect.map((res) => res.status),
      Effect.catchTag("StatusError", (e) => Effect.succeed(e.status))
    ))
  yield* Console.log(`status: ${status}`)
}))
