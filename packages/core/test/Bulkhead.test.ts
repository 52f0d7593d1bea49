import { Bulkhead, Metrics } from "@async-ops/core"
import { Chaos, ConcurrencyProbe, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Metric, Ref } from "effect"
import { holdUntilReleased, isInterrupted, runRandomCallers, start } from "./support.ts"

const hold = (bulkhead: Bulkhead.Bulkhead) => holdUntilReleased((effect) => bulkhead.withPermit(effect))

describe("Bulkhead", () => {
  it.effect("bad options fail with InvalidOptionError naming the option", () =>
    Effect.gen(function*() {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(Bulkhead.make({ maxConcurrent: bad, maxQueued: 1 }))
        expect(error.option).toBe("maxConcurrent")
        expect(error.message).toContain("Bulkhead.make: option maxConcurrent must be an integer >= 1")
      }
      for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(Bulkhead.make({ maxConcurrent: 1, maxQueued: bad }))
        expect(error.option).toBe("maxQueued")
        expect(error.expected).toBe("an integer >= 0")
      }
      for (const bad of [Number.NaN, -1, "-5 seconds", "soon"]) {
        const error = yield* Effect.flip(Bulkhead.make({ maxConcurrent: 1, maxQueued: 1, queueTimeout: bad as any }))
        expect(error.option).toBe("queueTimeout")
      }
      const ok = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 0, queueTimeout: "Infinity" })
      expect((yield* ok.stats).maxQueued).toBe(0)
    }))

  it.effect("runs maxConcurrent calls, queues maxQueued, and rejects the rest at once with queue-full", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueued: 3, name: "db" })
      const probe = yield* ConcurrencyProbe.make
      const outcomes = yield* VirtualTime.autojump(
        Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          () =>
            bulkhead.withPermit(probe.track(Effect.sleep(100))).pipe(
              Effect.andThen(Clock.currentTimeMillis),
              Effect.map((t) => `ok at ${t}`),
              Effect.catchTag("BulkheadRejectedError", (e) =>
                Effect.map(Clock.currentTimeMillis, (t) => `${e.reason} at ${t}`))
            ),
          { concurrency: "unbounded" }
        )
      )
      expect(outcomes).toEqual([
        "ok at 100",
        "ok at 100",
        "ok at 200",
        "ok at 200",
        "ok at 300",
        "queue-full at 0",
        "queue-full at 0",
        "queue-full at 0"
      ])
      expect((yield* probe.stats).peak).toBe(2)
      expect(yield* bulkhead.stats).toEqual({
        name: "db",
        maxConcurrent: 2,
        maxQueued: 3,
        inFlight: 0,
        queued: 0,
        acquired: 5,
        waited: 3,
        rejectedQueueFull: 3,
        rejectedQueueTimeout: 0
      })
    }))

  it.effect("the rejection is a typed error carrying the reason and the limits", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 0, name: "api" })
      const held = yield* hold(bulkhead)
      const error = yield* Effect.flip(Bulkhead.withPermit(bulkhead, Effect.succeed(1)))
      expect(error).toBeInstanceOf(Bulkhead.BulkheadRejectedError)
      expect(Bulkhead.isBulkheadRejectedError(error)).toBe(true)
      expect(error).toMatchObject({ name: "api", reason: "queue-full", maxConcurrent: 1, maxQueued: 0 })
      expect(error.message).toBe("Bulkhead api: rejected, 1 running and 0 queued (queue full)")
      yield* held.release
      expect(yield* Effect.succeed(2).pipe(Bulkhead.withPermit(bulkhead))).toBe(2)
    }))

  it.effect("a queued call that waits longer than queueTimeout fails with queue-timeout and never runs", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 2, queueTimeout: "50 millis" })
      const ran = yield* Ref.make(0)
      const result = yield* VirtualTime.autojump(
        Effect.all([
          bulkhead.withPermit(Effect.sleep(80)),
          bulkhead.withPermit(Ref.update(ran, (n) => n + 1)).pipe(
            Effect.flip,
            Effect.flatMap((e) => Effect.map(Clock.currentTimeMillis, (t) => [e.reason, e.queueTimeout, t]))
          )
        ], { concurrency: "unbounded" })
      )
      expect(result[1]).toEqual(["queue-timeout", 50, 50])
      expect(yield* Ref.get(ran)).toBe(0)
      expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, queued: 0, rejectedQueueTimeout: 1 })
    }))

  it.effect("a queued call admitted before its queueTimeout runs normally", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 1, queueTimeout: "50 millis" })
      const result = yield* VirtualTime.autojump(
        Effect.all([
          bulkhead.withPermit(Effect.sleep(30)),
          bulkhead.withPermit(Effect.sleep(100).pipe(Effect.andThen(Clock.currentTimeMillis)))
        ], { concurrency: "unbounded" })
      )
      expect(result[1]).toBe(130)
    }))

  it.effect("interrupting a queued call frees its queue slot at once (cockatiel's bug)", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 1 })
      const held = yield* hold(bulkhead)
      const queued = yield* start(bulkhead.withPermit(Effect.succeed("never")))
      expect((yield* Effect.flip(bulkhead.withPermit(Effect.void))).reason).toBe("queue-full")
      yield* Fiber.interrupt(queued)
      expect((yield* bulkhead.stats).queued).toBe(0)
      // the slot is free: the next call queues instead of being rejected, and runs
      const next = yield* start(bulkhead.withPermit(Effect.succeed("next")))
      expect((yield* bulkhead.stats).queued).toBe(1)
      yield* held.release
      expect(yield* Fiber.join(next)).toBe("next")
      expect(isInterrupted(yield* Fiber.await(queued))).toBe(true)
    }))

  it.effect("queued calls are admitted in arrival order", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 10 })
      const held = yield* hold(bulkhead)
      const order = yield* Ref.make<Array<number>>([])
      const fibers = []
      for (let i = 0; i < 5; i++) fibers.push(yield* start(bulkhead.withPermit(Ref.update(order, (xs) => [...xs, i]))))
      yield* held.release
      yield* Fiber.joinAll(fibers)
      expect(yield* Ref.get(order)).toEqual([0, 1, 2, 3, 4])
    }))

  it.effect("a failing or interrupted call releases its slot", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 0 })
      expect(yield* Effect.flip(bulkhead.withPermit(Effect.fail("boom" as const)))).toBe("boom")
      const running = yield* start(bulkhead.withPermit(Effect.never))
      yield* Fiber.interrupt(running)
      expect(yield* bulkhead.withPermit(Effect.succeed("free"))).toBe("free")
      expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, rejectedQueueFull: 0 })
    }))

  it.effect("one withPermit effect run by several fibers at once holds and frees a slot per run", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 3, maxQueued: 0 })
      const gate = yield* Deferred.make<void>()
      const call = bulkhead.withPermit(Deferred.await(gate))
      const first = yield* start(call)
      const second = yield* start(call)
      expect((yield* bulkhead.stats).inFlight).toBe(2)
      yield* Fiber.interrupt(first)
      expect((yield* bulkhead.stats).inFlight).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(second)
      expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, acquired: 2, waited: 0 })
    }))

  it.effect("a call with a free slot runs in the caller's interruptibility and frees its slot after", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 0 })
      const started = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const done = yield* Ref.make(false)
      const body = Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Deferred.await(finish)),
        Effect.andThen(Ref.set(done, true))
      )
      const fiber = yield* Effect.forkChild(Effect.uninterruptible(bulkhead.withPermit(body)))
      yield* Deferred.await(started)
      const interrupting = yield* start(Fiber.interrupt(fiber))
      expect((yield* bulkhead.stats).inFlight).toBe(1)
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(interrupting)
      expect(yield* Ref.get(done)).toBe(true)
      expect((yield* bulkhead.stats).inFlight).toBe(0)
    }))

  it.effect("a slot granted at the moment the queue wait times out is passed on, not lost", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 2, queueTimeout: 50 })
      // the holder ends exactly when the first queued call times out; the second queued call has time left
      const results = yield* VirtualTime.autojump(
        Effect.all([
          bulkhead.withPermit(Effect.sleep(50)),
          bulkhead.withPermit(Effect.succeed("first")).pipe(
            Effect.catchTag("BulkheadRejectedError", (e) => Effect.succeed(e.reason))
          ),
          Effect.sleep(10).pipe(Effect.andThen(bulkhead.withPermit(Effect.succeed("second"))))
        ], { concurrency: "unbounded" })
      )
      expect(["first", "queue-timeout"]).toContain(results[1])
      expect(results[2]).toBe("second")
      expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, queued: 0 })
    }))

  it.effect("reports in flight, queued and rejections as metrics when asked", () =>
    Effect.gen(function*() {
      const attrs = { primitive: "Bulkhead", name: "bulkhead-metrics" }
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: 1,
        maxQueued: 1,
        name: "bulkhead-metrics",
        metrics: true
      })
      const held = yield* hold(bulkhead)
      const queued = yield* start(bulkhead.withPermit(Effect.void))
      yield* Effect.flip(bulkhead.withPermit(Effect.void))
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(1)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.rejected, attrs))).count).toBe(1)
      yield* held.release
      yield* Fiber.join(queued)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.acquired, attrs))).count).toBe(2)
    }))

  it.effect("random schedules with queue timeouts and interruptions leave nothing running or queued", () =>
    Effect.gen(function*() {
      const seen = { rejected: 0, timedOut: 0, interrupted: 0, completed: 0 }
      yield* Chaos.forEachSeed(150, (random) =>
        Effect.gen(function*() {
          const maxConcurrent = 1 + random.int(3)
          const bulkhead = yield* Bulkhead.make({
            maxConcurrent,
            maxQueued: random.int(4),
            queueTimeout: random.chance(0.5) ? 2 + random.int(15) : undefined
          })
          const probe = yield* ConcurrencyProbe.make
          yield* runRandomCallers(random, (ms) => bulkhead.withPermit(probe.track(Effect.sleep(ms))), {
            onCompleted: () => seen.completed++,
            onFailure: (e) => {
              if (e.reason === "queue-full") seen.rejected++
              else seen.timedOut++
            },
            onInterrupt: () => seen.interrupted++
          })
          expect(yield* bulkhead.stats).toMatchObject({ inFlight: 0, queued: 0 })
          expect((yield* probe.stats).peak).toBeLessThanOrEqual(maxConcurrent)
        }))
      expect(seen.rejected).toBeGreaterThan(100)
      expect(seen.timedOut).toBeGreaterThan(20)
      expect(seen.interrupted).toBeGreaterThan(100)
      expect(seen.completed).toBeGreaterThan(500)
    }))
})
