import { FaultServer, RedisServer } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { fixture, spawnNode } from "./support/processes.ts"

const REPLICAS = 3
const TTL = 2_000
const REFRESH = 500
const RETRY = 100
const EVERY = 150
const JOB_LATENCY = 100
/** How long before its lease runs out a holder with failing refreshes stops (RedisElection's guard). */
const GUARD = Math.min(REFRESH, (TTL - REFRESH) / 2)
/** Process start-up and scheduling on a busy 2-core machine: the takeover's allowance beyond its own bound. */
const SCHEDULING_SLACK = 3_000

describe.skipIf(!RedisServer.available())(
  "singleton Periodic across processes (RedisElection, real redis-server)",
  () => {
    it.live(
      "3 replicas: exactly one runs the job; kill -9 it and another takes over within the TTL; the route never sees two at once",
      () =>
        Effect.gen(function*() {
          const redis = yield* RedisServer.make()
          const server = yield* FaultServer.make({ routes: { "/job": { latency: JOB_LATENCY } } })
          const replicas = yield* Effect.forEach(Array.from({ length: REPLICAS }), () =>
            spawnNode(fixture("singleton-worker.ts"), [
              redis.url,
              server.url("/job"),
              String(EVERY),
              String(TTL),
              String(REFRESH),
              String(RETRY)
            ]))
          yield* Effect.forEach(replicas, (r) =>
            r.awaitLine((l) =>
              l === "ready"
            ), { concurrency: "unbounded" })
          const pidsOf = Effect.map(server.requests, (rs) => rs.map((r) => Number(r.query["pid"])))

          // all three are up and campaigning: the next runs all come from one of them
          const before = (yield* server.requests).length
          yield* server.awaitRequests(before + 10)
          const leaders = new Set((yield* pidsOf).slice(before))
          expect(leaders.size).toBe(1)
          const leaderPid = [...leaders][0]!
          const leader = replicas.find((r) => r.pid === leaderPid)!
          expect(leader).toBeDefined()

          const killedAt = Date.now()
          yield* leader.kill("SIGKILL")
          expect(yield* Deferred.await(leader.exited)).toBe("SIGKILL")
          // wait for the first run of another replica
          let seen = (yield* server.requests).length
          while (true) {
            yield* server.awaitRequests(seen + 1)
            const requests = yield* server.requests
            const next = requests.slice(seen).find((r) => Number(r.query["pid"]) !== leaderPid)
            seen = requests.length
            if (next === undefined) continue
            const takeover = next.arrivedAt - killedAt
            // not before the dead leader's lease could have run out (it was valid for at least GUARD more) ...
            expect(takeover).toBeGreaterThanOrEqual(GUARD)
            // ... and within the TTL, one campaign retry and one tick
            expect(takeover).toBeLessThanOrEqual(TTL + RETRY + EVERY + SCHEDULING_SLACK)
            break
          }
          // the new leader alone runs it from then on
          const from = seen
          yield* server.awaitRequests(from + 10)
          expect(new Set((yield* pidsOf).slice(from - 1)).size).toBe(1)
          // the route never saw two runs at once, over the whole test
          expect((yield* server.stats).peakConcurrency).toBe(1)

          const survivors = replicas.filter((r) => r !== leader)
          yield* Effect.forEach(survivors, (r) => r.kill("SIGTERM"), { discard: true })
          for (const r of survivors) expect(yield* Deferred.await(r.exited)).toBe(130)
        }).pipe(Effect.scoped),
      120_000
    )
  }
)
