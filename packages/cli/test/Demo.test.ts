import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import * as internal from "../src/internal/demo.ts"
import * as Progress from "../src/internal/progress.ts"

describe("demo percentiles", () => {
  it("uses the nearest rank", () => {
    expect(internal.percentiles([5, 1, 4, 2, 3])).toStrictEqual({ p50: 3, p95: 5, p99: 5, max: 5 })
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i) // 100..1
    expect(internal.percentiles(hundred)).toStrictEqual({ p50: 50, p95: 95, p99: 99, max: 100 })
    const thousand = Array.from({ length: 1000 }, (_, i) => i + 1)
    expect(internal.percentiles(thousand)).toStrictEqual({ p50: 500, p95: 950, p99: 990, max: 1000 })
  })

  it("gives zeros for no values and the value for one", () => {
    expect(internal.percentiles([])).toStrictEqual({ p50: 0, p95: 0, p99: 0, max: 0 })
    expect(internal.percentiles([7.5])).toStrictEqual({ p50: 7.5, p95: 7.5, p99: 7.5, max: 7.5 })
  })

  it("does not reorder its input", () => {
    const values = [3, 1, 2]
    internal.percentiles(values)
    expect(values).toStrictEqual([3, 1, 2])
  })
})

describe("demo countOpenings", () => {
  it("counts one opening per burst of rejections and host", () => {
    expect(internal.countOpenings([], 1000)).toBe(0)
    expect(
      internal.countOpenings([
        { host: "a", at: 1_000, retryAfterMs: 900 },
        { host: "a", at: 1_050, retryAfterMs: 850 },
        { host: "b", at: 1_060, retryAfterMs: 1_000 },
        { host: "a", at: 3_000, retryAfterMs: 1_000 },
        { host: "a", at: 3_020, retryAfterMs: 975 }
      ], 1_000)
    ).toBe(3)
  })
})

const summary: internal.Summary = {
  urls: 10,
  hosts: 2,
  done: 10,
  notRun: 0,
  stoppedBy: undefined,
  elapsedMs: 2500,
  outcomes: [["200 ok", 7], ["CircuitOpenError", 2], ["StatusError 503", 1]],
  ok: 7,
  failed: 3,
  attempts: 12,
  retries: 2,
  rateLimited: 3,
  rateLimitedFinal: 1,
  breakerOpenings: 1,
  latency: { p50: 12.25, p95: 150, p99: 1020, max: 2000 },
  perHost: [
    { host: "127.0.0.1:4000", role: "normal", requests: 6, peak: 3, cap: 4 },
    { host: "127.0.0.2:4000", role: "slow", requests: 4, peak: 4, cap: 4 }
  ]
}

describe("demo formatSummary", () => {
  it("prints every measured number, with a total equal to the URLs", () => {
    expect(internal.formatSummary(summary).split("\n")).toStrictEqual([
      "async-ops demo: 10 URLs over 2 hosts in 2.50 s",
      "",
      "outcomes",
      "  200 ok                        7",
      "  CircuitOpenError              2",
      "  StatusError 503               1",
      "  total                        10",
      "",
      "succeeded          7",
      "failed             3",
      "attempts           12 (2 retries)",
      "429 Retry-After    3 responses: 2 retried after the wait, 1 final (StatusError 429)",
      "breaker openings   1",
      "latency ms         p50 12.3  p95 150  p99 1020  max 2000",
      "throughput         4 URLs/s",
      "",
      "per host (seen by the server)",
      "  host            role    requests  peak/cap",
      "  127.0.0.1:4000  normal         6       3/4",
      "  127.0.0.2:4000  slow           4       4/4"
    ])
  })

  it("says when a signal stopped the run and counts what never ran", () => {
    const lines = internal.formatSummary({
      ...summary,
      done: 6,
      notRun: 4,
      stoppedBy: "SIGINT",
      outcomes: [["200 ok", 6]]
    })
      .split("\n")
    expect(lines[0]).toBe("async-ops demo: stopped by SIGINT after 2.50 s, 6 of 10 URLs done")
    expect(lines).toContain("  not run (stopped)             4")
    expect(lines).toContain("  total                        10")
  })
})

describe("demo fault plan", () => {
  it("gives the last host the slow role and the second the flaky one", () => {
    expect([0, 1, 2, 3].map((i) => internal.roleOf(i, 4))).toStrictEqual(["normal", "flaky", "normal", "slow"])
    expect([0, 1].map((i) => internal.roleOf(i, 2))).toStrictEqual(["normal", "slow"])
    expect(internal.roleOf(0, 1)).toBe("normal")
  })

  it("has no faults at scale 0 and a burst of 503s on the flaky host otherwise", () => {
    for (const role of ["normal", "flaky", "slow"] as const) {
      expect(internal.routeFor(role, { faults: 0, latency: 5, timeoutMs: 1000 }).mix).toStrictEqual([[200, 1]])
    }
    const flaky = internal.routeFor("flaky", { faults: 1, latency: 5, timeoutMs: 1000 }).sequence!
    expect(flaky).toHaveLength(400)
    expect(flaky.slice(150, 160)).toStrictEqual(Array(10).fill(503))
    const slow = internal.routeFor("slow", { faults: 2, latency: 5, timeoutMs: 1000 }).mix!
    expect(slow).toContainEqual([{ status: 200, latency: 1500 }, 0.02])
  })

  it.effect("rejects bad options with a usage error", () =>
    Effect.gen(function*() {
      const base: internal.DemoOptions = {
        urls: 10,
        hosts: 2,
        concurrency: 4,
        perHost: 2,
        faults: 1,
        latency: 1,
        timeout: "1s",
        deadline: "2s",
        retries: 1,
        seed: 1
      }
      const cases: ReadonlyArray<readonly [Partial<internal.DemoOptions>, string]> = [
        [{ urls: 0 }, "--urls must be an integer >= 1, got 0"],
        [{ hosts: 255 }, "--hosts must be at most 254, got 255"],
        [{ faults: -1 }, "--faults must be a number from 0 to 10, got -1"],
        [{ latency: Number.NaN }, "--latency must be a number of milliseconds >= 0, got NaN"],
        [{ deadline: "0ms" }, "--deadline must be > 0"]
      ]
      for (const [patch, message] of cases) {
        const error = yield* Effect.flip(internal.resolveOptions({ ...base, ...patch }))
        expect(error.message).toBe(message)
      }
    }))
})

describe("progress", () => {
  it("renders done, failures, retries, in flight, rate and ETA", () => {
    expect(Progress.render({ total: 200, done: 50, failed: 2, inFlight: 8, retrying: 1, elapsedMs: 1000 }, 10)).toBe(
      "[###.......] 50/200 25%  failed 2  retrying 1  in flight 8  50/s  ETA 3s"
    )
    expect(Progress.render({ total: 0, done: 0, failed: 0, inFlight: 0, retrying: 0, elapsedMs: 0 }, 4)).toBe(
      "[####] 0/0 100%  failed 0  retrying 0  in flight 0  0/s  ETA --"
    )
  })

  it.effect("without a terminal prints a plain line at a quarter, half and three quarters (virtual time)", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk))
        return true
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => spy.mockRestore()))
      const done = yield* Ref.make(0)
      yield* Progress.show(
        Effect.map(
          Ref.get(done),
          (n) => ({ total: 100, done: n, failed: 0, inFlight: 1, retrying: 0, elapsedMs: 1000 })
        ),
        { tty: false, plain: true }
      )
      yield* TestClock.adjust("100 millis")
      expect(written).toStrictEqual([])
      for (const n of [30, 40, 60, 80, 100]) {
        yield* Ref.set(done, n)
        yield* TestClock.adjust("100 millis")
      }
      expect(written.map((l) => l.split(" ")[2])).toStrictEqual(["30/100", "60/100", "80/100"])
      expect(written.every((l) => l.startsWith("progress: [") && l.endsWith("\n"))).toBe(true)
    }).pipe(Effect.scoped))
})
