import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../08-performance/pool-tuning.ts"
import { runLiveExample } from "../03-http/runLive.ts"

// Real sockets and real time: the test checks where the knee is and what the table says around it, not timings.
it.live(
  "08-performance/pool-tuning finds the knee at the server's concurrency: flat throughput and a growing p99 past it",
  () =>
    Effect.gen(function*() {
      const lines = yield* runLiveExample(program)
      expect(lines.slice(0, 2)).toEqual([
        "-- 32 requests per cap to one host; the route takes 200 ms and serves 8 at once",
        "cap   req/s   p99 ms"
      ])
      const rows = lines.slice(2, 7).map((line) => {
        const m = /^\s*(\d+)\s+(\d+)\s+(\d+)$/.exec(line)
        expect(m, line).not.toBeNull()
        return { cap: Number(m![1]), perSecond: Number(m![2]), p99: Number(m![3]) }
      })
      expect(rows.map((r) => r.cap)).toEqual([2, 4, 8, 16, 32])
      expect(lines[7]).toBe("knee: 8 connections per host (the smallest cap within 25% of the best throughput)")
      const at = (cap: number) => rows.find((r) => r.cap === cap)!
      // below the knee the server sits idle: halving the cap at least roughly halves the throughput
      expect(at(4).perSecond).toBeLessThan(0.75 * at(8).perSecond)
      // past it requests only queue at the server: four times the cap, the slowest request waits several services
      expect(at(32).p99).toBeGreaterThan(2 * at(8).p99)
      expect(lines[8]).toMatch(/^past it, at 32: \d+\.\d\dx the throughput for \d+\.\dx the p99$/)
      expect(lines).toHaveLength(9)
    }),
  120_000
)
