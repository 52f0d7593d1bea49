/**
 * Replaces guessing aiohttp's `TCPConnector(limit_per_host=N)`: sweep the per-host connection cap against a server
 * whose capacity you do not know, measure throughput and p99 for each cap, and pick the knee, the smallest cap that
 * reaches the best throughput. Below the knee the client leaves the server idle; above it, requests only queue at
 * the server (throughput stays flat, latency grows) while holding sockets and memory on both sides.
 *
 * ```python
 * for limit in (2, 4, 8, 16, 32):
 *     connector = aiohttp.TCPConnector(limit_per_host=limit)
 *     async with aiohttp.ClientSession(connector=connector) as session:
 *         start = time.perf_counter()
 *         await asyncio.gather(*(session.get(url) for _ in range(32)))
 *         print(limit, 32 / (time.perf_counter() - start))
 * ```
 *
 * The server here is a FaultServer route with a fixed service time (200 ms) that serves at most 8 requests at once
 * (`concurrency: 8`), like a backend with 8 workers. p99 is the time a request spent at the server (waiting for a
 * worker plus service), from the server's own records.
 */
import { HttpResilience } from "@async-ops/http"
import { FaultServer } from "@async-ops/testing"
import { Clock, Console, Effect } from "effect"

const SERVICE_MS = 200
const SERVER_WORKERS = 8
const REQUESTS = 32
const CAPS = [2, 4, 8, 16, 32]
/** The knee: the smallest cap whose throughput is within this share of the best one. */
const NEAR_BEST = 0.75

interface Run {
  readonly cap: number
  readonly perSecond: number
  readonly p99: number
}

/** Nearest-rank percentile of a non-empty list. */
const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/** One run: `REQUESTS` requests fired at once through a client capped at `cap` connections per host. */
const measure = (cap: number): Effect.Effect<Run, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* FaultServer.make({
      routes: { "/work": { latency: SERVICE_MS, concurrency: SERVER_WORKERS } }
    })
    const client = yield* HttpResilience.ResilientClient
    const start = yield* Clock.currentTimeMillis
    yield* Effect.forEach(
      Array.from({ length: REQUESTS }, (_, i) => i),
      (i) => client.get(server.url(`/work?i=${i}`)),
      { concurrency: "unbounded", discard: true }
    )
    const elapsed = (yield* Clock.currentTimeMillis) - start
    yield* server.awaitIdle
    const atServer = (yield* server.requests).map((r) => (r.endedAt ?? r.arrivedAt) - r.arrivedAt)
    return { cap, perSecond: (REQUESTS * 1000) / elapsed, p99: percentile(atServer, 99) }
  })).pipe(Effect.provide(HttpResilience.layerUndici({ maxConnectionsPerHost: cap })))

export const program = Effect.gen(function*() {
  yield* Console.log(
    `-- ${REQUESTS} requests per cap to one host; the route takes ${SERVICE_MS} ms and serves ` +
      `${SERVER_WORKERS} at once`
  )
  yield* Console.log("cap   req/s   p99 ms")
  const runs: Array<Run> = []
  for (const cap of CAPS) {
    const run = yield* measure(cap)
    runs.push(run)
    yield* Console.log(
      `${String(cap).padStart(3)} ${run.perSecond.toFixed(0).padStart(7)} ${run.p99.toFixed(0).padStart(8)}`
    )
  }
  const best = Math.max(...runs.map((r) => r.perSecond))
  const knee = runs.find((r) => r.perSecond >= NEAR_BEST * best)!
  const last = runs[runs.length - 1]!
  yield* Console.log(
    `knee: ${knee.cap} connections per host (the smallest cap within ${Math.round((1 - NEAR_BEST) * 100)}% of ` +
      `the best throughput)`
  )
  yield* Console.log(
    `past it, at ${last.cap}: ${(last.perSecond / knee.perSecond).toFixed(2)}x the throughput for ` +
      `${(last.p99 / knee.p99).toFixed(1)}x the p99`
  )
})
