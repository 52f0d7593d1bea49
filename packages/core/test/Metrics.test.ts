import { Metrics } from "@async-ops/core"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Metric } from "effect"
import * as Instruments from "../src/internal/metrics.ts"

describe("Metrics", () => {
  it.effect("instruments update labelled series that Metric.value reads, and nothing when off", () =>
    Effect.gen(function*() {
      const off = yield* Instruments.make("Probe", { name: "off" })
      expect(off).toBeUndefined()
      const on = yield* Instruments.make("Probe", { name: "db", metrics: true })
      on!.setInFlight(3)
      on!.setWaiting(7)
      on!.addRejected()
      on!.addRejected(2)
      on!.recordWait(12)
      const attrs = { primitive: "Probe", name: "db" }
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(3)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(7)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.rejected, attrs))).count).toBe(3)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waitTime, attrs))).count).toBe(1)
      // another name is another series
      const other = Instruments.makeUnsafe("Probe", { name: "cache", metrics: true }, Context.empty())
      other!.setInFlight(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(3)
    }))

  it("percentile is the nearest rank: the smallest value with at least p % of the values at or below it", () => {
    const sorted = [15, 20, 35, 40, 50]
    // the textbook example (Wikipedia, "Percentile", nearest-rank method)
    expect([5, 30, 40, 50, 100].map((p) => Metrics.percentile(sorted, p))).toEqual([15, 20, 20, 35, 50])
    expect(Metrics.percentile([7], 0.1)).toBe(7)
    expect(Metrics.percentile(Float64Array.of(1, 2, 3, 4), 75)).toBe(3)
    expect(Metrics.percentile([], 50)).toBeUndefined()
  })
})
