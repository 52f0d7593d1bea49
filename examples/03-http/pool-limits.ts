/**
 * Replaces aiohttp's `TCPConnector(limit=4, limit_per_host=2)`: caps on the connections in flight overall and per
 * host, shown by the peak concurrency each FaultServer host measured.
 */
import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Console, Effect } from "effect"

const withClient = <A, E, R>(
  options: HttpResilience.Options,
  f: (client: HttpResilience.ResilientClient) => Effect.Effect<A, E, R>
) => Effect.flatMap(HttpResilience.ResilientClient, f).pipe(Effect.provide(HttpResilience.layerUndici(options)))

const printPeaks = (server: FaultServer.FaultServer) =>
  Effect.gen(function*() {
    const stats = yield* server.stats
    for (const [i, host] of server.hosts.entries()) {
      const h = stats.byHost[host]!
      yield* Console.log(`host ${i + 1}: ${h.count} requests, peak concurrency ${h.peakConcurrency}`)
    }
    yield* Console.log(`all hosts: ${stats.total} requests, peak concurrency ${stats.peakConcurrency}`)
  })

export const program = Effect.gen(function*() {
  yield* Console.log("-- limit_per_host=3: 30 requests fired at once at one host")
  yield* Effect.scoped(Effect.gen(function*() {
    const server = yield* FaultServer.make({ routes: { "/slow": { latency: 20 } } })
    yield* withClient({ maxConnectionsPerHost: 3 }, (client) =>
      Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => client.get(server.url(`/slow?i=${i}`)),
        { concurrency: "unbounded", discard: true }
      ))
    yield* printPeaks(server)
  }))

  yield* Console.log("-- limit=4 overall: 36 requests fired at once over 3 hosts, up to 10 per host")
  yield* Effect.scoped(Effect.gen(function*() {
    const server = yield* FaultServer.make({ hosts: 3, routes: { "/slow": { latency: 20 } } })
    yield* withClient({ maxConnections: 4, maxConnectionsPerHost: 10 }, (client) =>
      Effect.forEach(
        Array.from({ length: 36 }, (_, i) => i),
        (i) => client.get(server.url(`/slow?i=${i}`, i % 3)),
        { concurrency: "unbounded", discard: true }
      ))
    const stats = yield* server.stats
    for (const [i, host] of server.hosts.entries()) {
      yield* Console.log(`host ${i + 1}: ${stats.byHost[host]!.count} requests`)
    }
    yield* Console.log(`all hosts: ${stats.total} requests, peak concurrency ${stats.peakConcurrency}`)
  }))

  yield* Console.log("-- both: limit=4, limit_per_host=2 over 2 hosts, 24 requests")
  yield* Effect.scoped(Effect.gen(function*() {
    const server = yield* FaultServer.make({ hosts: 2, routes: { "/slow": { latency: 20 } } })
    yield* withClient({ maxConnections: 4, maxConnectionsPerHost: 2 }, (client) =>
      Effect.forEach(
        Array.from({ length: 24 }, (_, i) => i),
        (i) => client.get(server.url(`/slow?i=${i}`, i < 12 ? 0 : 1)),
        { concurrency: "unbounded", discard: true }
      ))
    yield* printPeaks(server)
  }))
})
