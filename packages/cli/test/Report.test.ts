import { Limiter, Registry } from "@async-ops/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Report from "../src/internal/report.ts"
import { openings, renderHtml } from "../src/internal/reportHtml.ts"

const info: Report.RunInfo = { command: "test run", perHostCap: 2, totalCap: 4, openDurationMs: 500 }

/** The `data-points` of the series `name` of chart `chart` in `html`. */
const points = (html: string, chart: string, name: string): number => {
  const svg = html.slice(html.indexOf(`data-chart="${chart}"`))
  const match = new RegExp(`data-series="${name}" data-points="(\\d+)"`).exec(svg.slice(0, svg.indexOf("</svg>")))
  return match === null ? -1 : Number(match[1])
}

describe("Report", () => {
  it.effect("records attempts per host, retries, outcomes and an adaptive limit over time, all drawn", () =>
    Effect.gen(function*() {
      const recorder = yield* Report.make(info)
      const limiter = yield* Limiter.adaptive({
        algorithm: "aimd",
        initial: 8,
        min: 1,
        max: 8,
        backoffRatio: 0.5,
        name: "api",
        classify: (exit) => Exit.isFailure(exit) ? "overload" : "success"
      })
      // two attempts on host a (the second a retry) and one on host b, overlapping
      const a1 = yield* Effect.forkChild(recorder.attempt("http://a.test/1", 1, Effect.sleep("300 millis")))
      const b1 = yield* Effect.forkChild(recorder.attempt("http://b.test/1", 1, Effect.sleep("300 millis")))
      const a2 = yield* Effect.forkChild(recorder.attempt("http://a.test/2", 2, Effect.sleep("300 millis")))
      for (let i = 0; i < 3; i++) {
        yield* Effect.exit(limiter.withPermit(Effect.fail("overloaded")))
        yield* TestClock.adjust("100 millis")
      }
      yield* Fiber.joinAll([a1, b1, a2])
      recorder.outcome("200 ok", 300, 1_300)
      recorder.outcome("CircuitOpenError", 0, 1_300, { host: "b.test", retryAfterMs: 500 })
      recorder.endedAt = 400
      const html = renderHtml(recorder)

      expect(recorder.hosts).toEqual(["a.test", "b.test"])
      expect(recorder.retries.length).toBe(1)
      expect(html).toContain("a.test (peak 2)")
      expect(html).toContain("b.test (peak 1)")
      expect(points(html, "inflight", "a.test")).toBe(300)
      expect(points(html, "latency", "latency")).toBe(48)
      expect(points(html, "outcomes", "outcomes")).toBe(2)
      expect(points(html, "timeline", "retries")).toBe(60)
      expect(points(html, "timeline", "breaker-openings")).toBe(1)
      expect(openings(recorder)).toEqual([{ host: "b.test", at: 1_300 }])
      // the limit halved on each overload, sampled every 100 ms from the registry
      const series = recorder.limits.get("api")!
      const limits = series.map(([, limit]) => limit)
      expect(limits).toEqual(expect.arrayContaining([4, 2, 1]))
      expect(limits.at(-1)).toBe(1)
      expect(limits.every((l, i) => i === 0 || l <= limits[i - 1]!)).toBe(true)
      expect(series.map(([t]) => t % 100)).toEqual(series.map(() => 0))
      expect(points(html, "adaptive", "api")).toBe(series.length)
      expect(limiter.name).toBe("api")
    }).pipe(Effect.scoped, Effect.provideService(Registry.Registry, Registry.makeUnsafe())))

  it("escapes what it shows and draws the empty cases", () => {
    const empty = new Report.Recorder({ ...info, command: "<b>run</b>", openDurationMs: undefined }, {
      currentTimeMillisUnsafe: () => 0
    } as never)
    const html = renderHtml(empty)
    expect(html).toContain("&lt;b&gt;run&lt;/b&gt;")
    expect(html).toContain("no latency measured")
    expect(html).toContain("no outcome recorded")
    expect(html).toContain("no adaptive limiter was live during this run")
    expect(html).toContain("(no circuit breaker in this run)")
  })
})
