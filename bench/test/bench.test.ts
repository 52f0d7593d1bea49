/**
 * The benchmark harness must not rot: every workload runs at a tiny size (one round, no warm-up) and each system
 * either measures (with the right check value) or is skipped with a reason; a full run is `pnpm bench`, never part
 * of the tests.
 */
import { describe, expect, it } from "@effect/vitest"
import { type CaseResult, runWorkload, type Workload } from "../harness.ts"
import { runBench } from "../run.ts"
import { triangle } from "../runner.ts"
import { NO_REDIS, redisAvailable } from "../systems/w8/redisServer.ts"
import { workloads } from "../workloads.ts"

const tiny = { rounds: 1, warmup: 0, scale: 0.001, timeoutMs: 60_000 }

const httpIds = ["w4", "w6"]
const redisIds = ["w8"]

/** Each system measures with the right check value or is skipped with a reason; ours and a peer measure. */
const expectSound = (report: Awaited<ReturnType<typeof runBench>>) => {
  expect(report.failures).toEqual([])
  for (const run of report.runs) {
    expect(run.cases.length).toBeGreaterThan(0)
    for (const c of run.cases) {
      const r = run.results.get(c.key) as CaseResult
      if (r.status === "skipped") {
        expect(r.reason.length, `${c.system.label} is skipped without a reason`).toBeGreaterThan(0)
      } else {
        expect(r.status, `${run.workload.id} ${c.system.label}`).toBe("ok")
        if (r.status === "ok") {
          expect(r.summary.rounds).toBe(1)
          expect(r.summary.medianMs).toBeGreaterThan(0)
          expect(r.summary.peakRssKb).toBeGreaterThan(0)
        }
      }
    }
    // At least one system of ours and one peer measured in every workload.
    const ok = run.cases.filter((c) => run.results.get(c.key)?.status === "ok")
    expect(ok.some((c) => c.system.ours === true), run.workload.id).toBe(true)
    expect(ok.some((c) => c.system.ours !== true), run.workload.id).toBe(true)
    expect(report.markdown).toContain(`### ${run.workload.title}`)
  }
  expect(report.bars.length).toBeGreaterThan(0)
  for (const bar of report.bars) expect(["pass", "miss", "skipped"]).toContain(bar.verdict.status)
}

describe("bench", () => {
  it("runs every in-process workload at a tiny size: each system measures or is skipped with a reason", async () => {
    const report = await runBench(workloads.filter((w) => !httpIds.includes(w.id) && !redisIds.includes(w.id)), tiny)
    expect(report.runs.map((r) => r.workload.id)).toEqual(["w1", "w2", "w3", "w5", "w7"])
    expectSound(report)
  }, 300_000)

  it("runs the HTTP workloads (W4 fetch-all, W6 server) at a few hundred requests against real sockets", async () => {
    // 200 GETs for W4, 1,000 requests for W6: every client and server path runs, over 127.0.0.1.
    const report = await runBench(workloads.filter((w) => httpIds.includes(w.id)), { ...tiny, scale: 0.01 })
    expect(report.runs.map((r) => r.workload.id)).toEqual(httpIds)
    expectSound(report)
    const w4 = report.runs[0]!
    const measured = w4.cases.filter((c) => w4.results.get(c.key)?.status === "ok").map((c) => c.system.label)
    // every Node row of W4 ran (the aiohttp row depends on the machine)
    expect(measured).toEqual(expect.arrayContaining([
      "undici Pool + p-limit",
      "Effect HttpClient (undici, tracing on)",
      "Effect HttpClient (undici, tracing off)",
      "HttpResilience client + Effect.forEach",
      "FetchAll.fetchAll"
    ]))
    const w6 = report.runs[1]!
    expect(w6.cases.every((c) => w6.results.get(c.key)?.status === "ok")).toBe(true)
    expect(w6.cases[0]?.size).toBe(1_000)
    expect(report.markdown).toContain("| req/s |")
  }, 120_000)

  it(
    "runs W8 (distributed permits) tiny against a real redis-server, or skips every row naming the install",
    async () => {
      // 5 permits in one process, 8 over 4 processes: every system's child and the spawning runner run.
      const report = await runBench(workloads.filter((w) => redisIds.includes(w.id)), tiny)
      expect(report.runs.map((r) => r.workload.id)).toEqual(redisIds)
      const run = report.runs[0]!
      if (redisAvailable()) {
        expectSound(report)
        expect(run.cases.every((c) => run.results.get(c.key)?.status === "ok")).toBe(true)
      } else {
        expect(report.failures).toEqual([])
        for (const c of run.cases) expect(run.results.get(c.key)).toEqual({ status: "skipped", reason: NO_REDIS })
        expect(report.markdown).toContain("apt-get install redis-server")
      }
    },
    180_000
  )

  it("fails a system that returns the wrong check value or crashes, and skips one that cannot run", async () => {
    const fixture: Workload = {
      id: "fixture",
      aliases: [],
      title: "fixture",
      about: "",
      bars: [],
      tables: [{
        kind: "systems",
        title: "fixture",
        size: 10,
        expect: triangle,
        reference: "measures",
        systems: [
          { label: "measures", file: "w1/promise-all.ts" },
          { label: "wrong check", file: "../test/fixtures/wrong-check.ts" },
          { label: "crashes", file: "../test/fixtures/crashes.ts" },
          { label: "skips", file: "../test/fixtures/skips.ts" },
          { label: "module missing", file: "w1/effect-foreach.ts", requires: ["NoSuchModule"] }
        ]
      }]
    }
    const run = await runWorkload(fixture, { ...tiny, scale: 1 })
    const byLabel = new Map(run.cases.map((c) => [c.system.label, run.results.get(c.key)]))
    expect(byLabel.get("measures")?.status).toBe("ok")
    expect(byLabel.get("wrong check")).toMatchObject({ status: "failed", error: expect.stringContaining("check") })
    expect(byLabel.get("crashes")).toMatchObject({
      status: "failed",
      error: expect.stringContaining("TypeError: fixture crashed")
    })
    expect(byLabel.get("skips")).toEqual({ status: "skipped", reason: "not available in this fixture" })
    expect(byLabel.get("module missing")).toMatchObject({
      status: "skipped",
      reason: expect.stringContaining("NoSuchModule is not written yet")
    })
  }, 60_000)
})
