/**
 * The distributed limiter across real Node processes: four processes share one limit in front of a FaultServer
 * route, and a holder killed with SIGKILL gives its permits back after its leases expire, not before.
 */
import { DistributedLimiter, RedisConnection } from "@async-ops/redis"
import { FaultServer, RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const worker = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "limiterWorker.ts")

interface Worker {
  readonly child: ChildProcess
  /** Resolves with the first stdout line equal to (or, for JSON, starting with) `prefix`. */
  readonly line: (prefix: string) => Effect.Effect<string>
}

/** Spawns a worker process, killed (SIGKILL) when the scope closes. */
const start = (args: object) =>
  Effect.acquireRelease(
    Effect.sync((): Worker => {
      const child = spawn(process.execPath, [worker, JSON.stringify(args)], { stdio: ["pipe", "pipe", "pipe"] })
      let buffer = ""
      let stderr = ""
      const seen: Array<string> = []
      const listeners = new Set<() => void>()
      child.stdout!.on("data", (chunk: Buffer) => {
        buffer += chunk.toString("utf8")
        let nl: number
        while ((nl = buffer.indexOf("\n")) >= 0) {
          seen.push(buffer.slice(0, nl))
          buffer = buffer.slice(nl + 1)
        }
        for (const l of listeners) l()
      })
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString("utf8")).slice(-4000)
      })
      const line = (prefix: string) =>
        Effect.callback<string>((resume) => {
          const check = () => {
            const found = seen.find((l) => l.startsWith(prefix))
            if (found !== undefined) {
              listeners.delete(check)
              resume(Effect.succeed(found))
            } else if (child.exitCode !== null) {
              listeners.delete(check)
              resume(Effect.die(new Error(`worker exited (${child.exitCode}) before "${prefix}": ${stderr}`)))
            }
          }
          listeners.add(check)
          child.once("exit", check)
          check()
          return Effect.sync(() => listeners.delete(check))
        })
      return { child, line }
    }),
    ({ child }) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
  )

describe.skipIf(!RedisServer.available())("DistributedLimiter across processes", () => {
  it.live(
    "4 processes share a limit of 10: the server's peak is 9-10 and every process gets >= 15% of grants",
    () =>
      Effect.gen(function*() {
        const redis = yield* RedisServer.make()
        const server = yield* FaultServer.make({ routes: { "/work": { latency: 15 } } })
        const budget = 400
        const workers = yield* Effect.forEach(Array.from({ length: 4 }), () =>
          start({
            mode: "share",
            url: redis.url,
            name: "fleet",
            limit: 10,
            target: server.url("/work"),
            budget,
            concurrency: 6
          }))
        for (const w of workers) yield* w.line("ready")
        for (const w of workers) w.child.stdin!.write("go\n")
        const results = yield* Effect.forEach(workers, (w) => w.line("{"))
        const grants = results.map((r) => JSON.parse(r).grants as number)
        expect(grants.reduce((a, b) => a + b, 0)).toBe(budget)
        for (const g of grants) expect(g).toBeGreaterThanOrEqual(0.15 * budget)
        const stats = yield* server.stats
        expect(stats.total).toBe(budget)
        expect(stats.peakConcurrency).toBeLessThanOrEqual(10)
        expect(stats.peakConcurrency).toBeGreaterThanOrEqual(9)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a holder killed with SIGKILL: its permits come back after its leases expire, within TTL + one refresh",
    () =>
      Effect.gen(function*() {
        const redis = yield* RedisServer.make()
        const ttl = 3000
        const refreshInterval = 1000
        const holder = yield* start({
          mode: "hold",
          url: redis.url,
          name: "killed",
          limit: 2,
          holds: 2,
          ttl,
          refreshInterval
        })
        yield* holder.line("holding")
        const limiter = yield* DistributedLimiter.make({
          name: "killed",
          limit: 2,
          ttl,
          refreshInterval,
          recheckInterval: 200
        }).pipe(Effect.provide(yield* Layer.build(Layer.fresh(RedisConnection.layer({ url: redis.url })))))
        // The leases' expiries as Redis has them just before the kill (Redis' clock is this machine's clock).
        const scores =
          (yield* redis.command("ZRANGE", "async-ops:limiter:{killed}:h", "0", "-1", "WITHSCORES")) as Array<
            string
          >
        holder.child.kill("SIGKILL")
        const killedAt = Date.now()
        const expiries = scores.filter((_, i) => i % 2 === 1).map(Number)
        expect(expiries).toHaveLength(2)
        const admittedAt = yield* limiter.withPermit(Effect.sync(() => Date.now()))
        // Not before: a lease is valid until its expiry, and a refresh just before the kill only moves it later.
        expect(admittedAt).toBeGreaterThanOrEqual(Math.min(...expiries))
        // Within TTL + one refresh interval of the kill.
        expect(admittedAt - killedAt).toBeLessThanOrEqual(ttl + refreshInterval)
        const both = yield* Effect.all([
          limiter.withPermit(Effect.sync(() => Date.now())),
          limiter.withPermit(Effect.sync(() => Date.now()))
        ], { concurrency: 2 })
        expect(Math.min(...both)).toBeGreaterThanOrEqual(Math.max(...expiries))
      }).pipe(Effect.scoped),
    120_000
  )
})
