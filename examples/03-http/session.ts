/**
 * Replaces aiohttp's `async with aiohttp.ClientSession() as session:` reused for many `session.get(url)` calls: one
 * shared client (one connection pool) for the whole program instead of a session per request.
 */
import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Console, Effect, Layer } from "effect"

const Server = FaultServer.layer({ routes: { "/items/*": { latency: 5 } } })
const Client = HttpResilience.layerUndici({ name: "shared", maxConnectionsPerHost: 4 })

export const program = Effect.gen(function*() {
  const server = yield* FaultServer.FaultServer
  const client = yield* HttpResilience.ResilientClient

  yield* Console.log("-- 20 requests, 4 at a time, through one shared client")
  const statuses = yield* Effect.forEach(
    Array.from({ length: 20 }, (_, i) => i),
    (i) => Effect.map(client.get(server.url(`/items/${i}`)), (res) => res.status),
    { concurrency: 4 }
  )
  yield* Console.log(`statuses: ${statuses.filter((s) => s === 200).length} x 200`)

  const stats = yield* client.stats
  yield* Console.log(
    `client "${stats.name}": ${stats.requests} requests, ${stats.succeeded} succeeded, ${stats.inFlight} in flight`
  )

  const host = (yield* server.stats).byHost[server.hosts[0]!]!
  yield* Console.log(`server saw ${host.count} requests`)
  yield* Console.log(`connections opened: at most 4 (keep-alive reuse): ${host.connections <= 4}`)
}).pipe(Effect.provide(Layer.merge(Server, Client)))
