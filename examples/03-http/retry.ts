/**
 * Replaces a hand-written aiohttp retry loop (`for attempt in range(5): async with session.get(url) as r: if r.status
 * in (429, 503): await asyncio.sleep(int(r.headers.get("Retry-After", 2 ** attempt))); continue`): the client retries
 * idempotent requests on 5xx and 429 with exponential backoff, waiting at least the server's `Retry-After`.
 */
import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Console, Effect, Layer } from "effect"

const Server = FaultServer.layer({
  routes: {
    "/flaky": { sequence: [503, 503, 200], sequenceEnd: "repeat-last" },
    "/limited": { sequence: [{ status: 429, retryAfter: 1 }, 200], sequenceEnd: "repeat-last" },
    "/down": { reply: 503 },
    "/create": { sequence: [503, 201], sequenceEnd: "repeat-last" }
  }
})

const Client = HttpResilience.layerUndici({ retry: { maxAttempts: 4, base: "10 millis", maxDelay: "50 millis" } })

export const program = Effect.gen(function*() {
  const server = yield* FaultServer.FaultServer
  const client = yield* HttpResilience.ResilientClient

  yield* Console.log("-- 503, 503, then 200: retried with backoff")
  const flaky = yield* client.get(server.url("/flaky"))
  yield* Console.log(`status ${flaky.status} after ${flaky.attempts} attempts`)

  yield* Console.log("-- 429 with Retry-After: 1, then 200: the retry waits for the server's delay")
  const limited = yield* client.get(server.url("/limited"))
  const [first, second] = (yield* server.requests).filter((r) => r.path === "/limited")
  yield* Console.log(`status ${limited.status} after ${limited.attempts} attempts`)
  yield* Console.log(`first reply: ${first!.status}, Retry-After: ${first!.retryAfter}`)
  yield* Console.log(`second request came at least 1 s later: ${second!.arrivedAt - first!.arrivedAt >= 1000}`)

  yield* Console.log("-- always 503: gives up after maxAttempts with the last StatusError")
  const down = yield* Effect.flip(client.get(server.url("/down")))
  yield* Console.log(`${down._tag}${down._tag === "StatusError" ? ` ${down.status}` : ""}`)
  yield* Console.log(`/down was tried ${(yield* server.stats).byRoute["/down"]} times`)

  yield* Console.log("-- POST is not idempotent: not retried, unless it carries an Idempotency-Key")
  const post = yield* Effect.flip(client.post(server.url("/create")))
  yield* Console.log(`plain POST: ${post._tag}${post._tag === "StatusError" ? ` ${post.status}` : ""}`)
  yield* server.reset
  const keyed = yield* client.post(server.url("/create"), { headers: { "idempotency-key": "order-42" } })
  yield* Console.log(`POST with Idempotency-Key: status ${keyed.status} after ${keyed.attempts} attempts`)

  const stats = yield* client.stats
  yield* Console.log(`client: ${stats.requests} calls, ${stats.attempts} attempts, ${stats.retries} retries`)
}).pipe(Effect.provide(Layer.merge(Server, Client)))
