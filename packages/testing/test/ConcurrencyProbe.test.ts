import { ConcurrencyProbe, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

describe("ConcurrencyProbe", () => {
  it.effect("records current, peak and a timeline on virtual time", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      yield* VirtualTime.autojump(
        Effect.forEach([100, 200, 300, 400], (ms) => probe.track(Effect.sleep(ms), `t${ms}`), { concurrency: 2 })
      )
      expect(yield* probe.stats).toEqual({ current: 0, peak: 2, started: 4, ended: 4 })
      const timeline = yield* probe.timeline
      expect(timeline.map((s) => [s.label, s.start, s.end, s.outcome])).toEqual([
        ["t100", 0, 100, "success"],
        ["t200", 0, 200, "success"],
        ["t300", 100, 400, "success"],
        ["t400", 200, 600, "success"]
      ])
    }))

  it.effect("counts failures and interruptions as ended", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      yield* Effect.exit(probe.track(Effect.fail("x")))
      yield* Effect.exit(Effect.timeout(probe.track(Effect.never), 0))
      expect((yield* probe.timeline).map((s) => s.outcome)).toEqual(["failure", "interrupted"])
      expect((yield* probe.stats).current).toBe(0)
    }))

  it.effect("awaitCurrent waits until that many run at once", () =>
    Effect.gen(function*() {
      const probe = yield* ConcurrencyProbe.make
      yield* Effect.forkChild(Effect.forEach([1, 2, 3], () => probe.track(Effect.never), { concurrency: 3 }))
      yield* probe.awaitCurrent(3)
      expect((yield* probe.stats).current).toBe(3)
    }))
})
