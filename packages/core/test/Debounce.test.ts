import { Debounce, Metrics } from "@async-ops/core"
import { Chaos, LeakCheck, VirtualTime } from "@async-ops/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Data, type Duration, Effect, Exit, Fiber, Metric, Scope } from "effect"
import { TestClock } from "effect/testing"
import { randomInterruptions, settle, start } from "./support.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly q: string }> {}

/** A function that records the virtual time of each run. */
const recorder = () => {
  const runs: Array<[string, number]> = []
  const f = (q: string) =>
    Effect.map(Clock.currentTimeMillis, (t) => {
      runs.push([q, t])
      return q.toUpperCase()
    })
  return { runs, f }
}

/** How a call ended: its value, or the tag of its error, with the virtual time it ended at. */
const outcome = <E extends { readonly _tag: string }>(effect: Effect.Effect<string, E>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Effect.map(Clock.currentTimeMillis, (t): [string, number] => {
      if (Exit.isSuccess(exit)) return [exit.value, t]
      const error = Cause.findErrorOption(exit.cause)
      return [error._tag === "Some" ? error.value._tag : "interrupted", t]
    }))

/** Calls `call(q)` at virtual time `at` for each `[q, at]`, concurrently, and returns the outcomes in that order. */
const schedule = <E extends { readonly _tag: string }>(
  calls: ReadonlyArray<readonly [string, number]>,
  call: (q: string) => Effect.Effect<string, E>
) =>
  VirtualTime.autojump(
    Effect.forEach(calls, ([q, at]) => Effect.andThen(Effect.sleep(at), outcome(call(q))), {
      concurrency: "unbounded"
    })
  )

describe("Debounce", () => {
  it.effect("a wait that is not a finite duration >= 0 fails with InvalidOptionError naming wait", () =>
    Effect.gen(function*() {
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, "Infinity", "later"] as const) {
        const error = yield* Effect.flip(Debounce.make(Effect.succeed, { wait: bad as Duration.Input }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("wait")
        expect(error.message).toContain("Debounce.make: option wait must be")
      }
    }))

  it.effect("a maxWait shorter than wait or not a duration fails with InvalidOptionError naming maxWait", () =>
    Effect.gen(function*() {
      for (const bad of [50, -1, Number.NaN, "never"] as const) {
        const error = yield* Effect.flip(Debounce.make(Effect.succeed, { wait: 100, maxWait: bad as Duration.Input }))
        expect(error._tag).toBe("InvalidOptionError")
        expect(error.option).toBe("maxWait")
      }
      const ok = yield* Debounce.make(Effect.succeed, { wait: 100, maxWait: 100 })
      expect(ok.name).toBe("Debounce")
    }))

  it.effect("only the last call of a burst runs, wait after it; each earlier call fails when superseded", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const search = yield* Debounce.make(f, { wait: 100 })
      const outcomes = yield* schedule([["a", 0], ["b", 30], ["c", 60]], search)
      expect(outcomes).toEqual([["DebounceSupersededError", 30], ["DebounceSupersededError", 60], ["C", 160]])
      expect(runs).toEqual([["c", 160]])
    }))

  it.effect("stats count calls, runs and superseded calls", () =>
    Effect.gen(function*() {
      const { f } = recorder()
      const search = yield* Debounce.make(f, { wait: 100, name: "search" })
      yield* schedule([["a", 0], ["b", 30], ["c", 60], ["d", 500]], search)
      expect(yield* Debounce.stats(search)).toEqual({
        name: "search",
        pending: false,
        running: 0,
        calls: 4,
        runs: 2,
        superseded: 2,
        cancelled: 0
      })
    }))

  it.effect("calls further apart than wait each run", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const search = yield* Debounce.make(f, { wait: 100 })
      const outcomes = yield* schedule([["a", 0], ["b", 150]], search)
      expect(outcomes).toEqual([["A", 100], ["B", 250]])
      expect(runs).toEqual([["a", 100], ["b", 250]])
    }))

  it.effect("maxWait: a steady stream of calls runs every maxWait with the latest arguments", () =>
    Effect.gen(function*() {
      const calls = Array.from({ length: 10 }, (_, i) => [`q${i * 30}`, i * 30] as const)
      const capped = recorder()
      yield* schedule(calls, yield* Debounce.make(capped.f, { wait: 50, maxWait: 100 }))
      expect(capped.runs).toEqual([["q90", 100], ["q180", 200], ["q270", 300]])
      // without maxWait the same stream runs once, after it stops
      const plain = recorder()
      const t0 = yield* Clock.currentTimeMillis
      yield* schedule(calls, yield* Debounce.make(plain.f, { wait: 50 }))
      expect(plain.runs).toEqual([["q270", t0 + 320]])
    }))

  it.effect("interrupting the last caller before its run cancels the run", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const search = yield* Debounce.make(f, { wait: 100 })
      const a = yield* start(search("a"))
      yield* TestClock.adjust(50)
      yield* Fiber.interrupt(a)
      expect((yield* search.stats).pending).toBe(false)
      yield* TestClock.adjust(200)
      expect(runs).toEqual([])
      expect(yield* search.stats).toMatchObject({ pending: false, calls: 1, runs: 0, cancelled: 1 })
      // the debouncer keeps working
      const b = yield* start(search("b"))
      yield* TestClock.adjust(100)
      expect(yield* Fiber.join(b)).toBe("B")
      expect(runs).toEqual([["b", 350]])
    }))

  it.effect("the last caller interrupted after its run was due but before it started: no run, counted cancelled", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const search = yield* Debounce.make(f, { wait: 100 })
      const a = yield* start(search("a"))
      // flush hands the run to a, which would start on its next scheduler turn; it is interrupted before that
      expect(yield* search.flush).toBe(true)
      yield* Effect.sync(() => a.interruptUnsafe())
      const exit = yield* Fiber.await(a)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      yield* TestClock.adjust(200)
      expect(runs).toEqual([])
      expect(yield* search.stats).toMatchObject({ pending: false, calls: 1, runs: 0, cancelled: 1 })
    }))

  it.effect("interrupting a superseded caller leaves the pending run alone", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const search = yield* Debounce.make(f, { wait: 100 })
      const a = yield* start(search("a"))
      yield* TestClock.adjust(10)
      const b = yield* start(search("b"))
      yield* TestClock.adjust(10)
      yield* Fiber.interrupt(a)
      yield* TestClock.adjust(100)
      expect(yield* Fiber.join(b)).toBe("B")
      expect(runs).toEqual([["b", 110]])
    }))

  it.effect("a call during a run starts a new burst and does not interrupt the run", () =>
    Effect.gen(function*() {
      const search = yield* Debounce.make((q: string) => Effect.as(Effect.sleep(200), q), { wait: 50 })
      const a = yield* start(search("a")) // runs 50..250
      yield* TestClock.adjust(100)
      const b = yield* start(search("b")) // runs 150..350
      yield* TestClock.adjust(100)
      expect(yield* search.stats).toMatchObject({ running: 2, runs: 2, superseded: 0 })
      yield* TestClock.adjust(200)
      expect([yield* Fiber.join(a), yield* Fiber.join(b)]).toEqual(["a", "b"])
      expect((yield* search.stats).running).toBe(0)
    }))

  it.effect("callers that call again as soon as they are superseded do not nest without end", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const search = yield* Debounce.make(f, { wait: 10 })
      // two fibers that each retry at once when superseded, 5,000 times: they supersede each other in turn
      const retrying = (name: string) => {
        const loop = (n: number): Effect.Effect<string, Debounce.DebounceClosedError> =>
          search(`${name}${n}`).pipe(
            Effect.catchTag("DebounceSupersededError", () => n < 5000 ? loop(n + 1) : Effect.succeed("gave up"))
          )
        return loop(0)
      }
      const results = yield* VirtualTime.autojump(
        Effect.all([retrying("a"), retrying("b")], { concurrency: "unbounded" })
      )
      expect(results).toContain("gave up")
      expect(runs.length).toBe(1)
      const stats = yield* search.stats
      expect(stats.calls).toBe(stats.runs + stats.superseded)
    }))

  it.effect("f's failure reaches the caller that ran it", () =>
    Effect.gen(function*() {
      const search = yield* Debounce.make((q: string) => Effect.fail(new Boom({ q })), { wait: 10 })
      const outcomes = yield* schedule([["a", 0], ["b", 5]], search)
      expect(outcomes).toEqual([["DebounceSupersededError", 5], ["Boom", 15]])
    }))

  it.effect("closing the scope fails the pending caller with DebounceClosedError and refuses later calls", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const scope = yield* Scope.make()
      const search = yield* Debounce.make(f, { wait: 100 }).pipe(Scope.provide(scope))
      const a = yield* start(search("a"))
      yield* TestClock.adjust(50)
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(Fiber.join(a))
      expect(error).toBeInstanceOf(Debounce.DebounceClosedError)
      yield* TestClock.adjust(500)
      expect(runs).toEqual([])
      expect((yield* Effect.flip(search("b")))._tag).toBe("DebounceClosedError")
      expect(yield* search.stats).toMatchObject({ pending: false, calls: 1, runs: 0 })
    }))

  it.effect("closing the scope ends the timer fiber", () =>
    Effect.gen(function*() {
      const { f } = recorder()
      const exit = yield* LeakCheck.fibers(
        Effect.scoped(Effect.gen(function*() {
          const search = yield* Debounce.make(f, { wait: 1000 })
          return yield* start(search("a"))
        })).pipe(Effect.flatMap(Fiber.await))
      )
      expect(Exit.isFailure(exit)).toBe(true)
    }))

  it.effect("flush runs the pending call now", () =>
    Effect.gen(function*() {
      const { f, runs } = recorder()
      const save = yield* Debounce.make(f, { wait: 1000 })
      const a = yield* start(save("draft"))
      yield* TestClock.adjust(100)
      expect(yield* Debounce.flush(save)).toBe(true)
      expect(yield* Fiber.join(a)).toBe("DRAFT")
      expect(runs).toEqual([["draft", 100]])
      expect(yield* save.flush).toBe(false)
    }))

  it.effect("with metrics on, waiting and in-flight gauges follow the pending call and the run", () =>
    Effect.gen(function*() {
      const search = yield* Debounce.make((q: string) => Effect.as(Effect.sleep(100), q), {
        wait: 50,
        name: "typeahead",
        metrics: true
      })
      const attrs = { primitive: "Debounce", name: "typeahead" }
      const a = yield* start(search("a"))
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(1)
      yield* TestClock.adjust(60)
      yield* settle
      expect((yield* Metric.value(Metric.withAttributes(Metrics.waiting, attrs))).value).toBe(0)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(1)
      yield* TestClock.adjust(100)
      yield* Fiber.join(a)
      expect((yield* Metric.value(Metric.withAttributes(Metrics.inFlight, attrs))).value).toBe(0)
    }))

  it.effect(
    "random calls with random interruptions: every call is answered once and nothing is left",
    () =>
      Effect.gen(function*() {
        yield* Chaos.forEachSeed(150, (random) =>
          Effect.gen(function*() {
            const wait = 10 * (1 + random.int(5))
            const maxWait = random.chance(0.5) ? undefined : wait + 10 * random.int(5)
            const hold = random.int(30)
            const ran: Array<{ readonly q: string; readonly at: number; readonly called: number }> = []
            const answers = new Map<string, string>()
            const run = Effect.scoped(Effect.gen(function*() {
              const search = yield* Debounce.make(
                (q: string, called: number) =>
                  Effect.flatMap(Clock.currentTimeMillis, (at) => {
                    ran.push({ q, at, called })
                    return Effect.as(Effect.sleep(hold), q)
                  }),
                { wait, maxWait }
              )
              const fibers: Array<Fiber.Fiber<unknown>> = []
              const callers = 1 + random.int(20)
              for (let i = 0; i < callers; i++) {
                const q = `q${i}`
                const at = random.int(300)
                fibers.push(
                  yield* Effect.forkChild(
                    Effect.sleep(at).pipe(
                      Effect.andThen(Clock.currentTimeMillis),
                      Effect.flatMap((now) => search(q, now)),
                      Effect.exit,
                      Effect.flatMap((exit) =>
                        Effect.sync(() => {
                          const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
                          answers.set(q, error === undefined ? "ran" : error._tag === "Some" ? error.value._tag : "x")
                        })
                      ),
                      Effect.onInterrupt(() => Effect.sync(() => answers.set(q, "interrupted")))
                    )
                  )
                )
              }
              yield* Effect.forEach(
                randomInterruptions(random, fibers, random.int(callers), 350),
                (interruption) => Effect.forkChild(interruption)
              )
              yield* Fiber.awaitAll(fibers)
              return yield* search.stats
            }))
            const stats = yield* LeakCheck.fibers(VirtualTime.autojump(run))
            expect(stats).toMatchObject({ pending: false, running: 0 })
            expect(stats.calls).toBe(stats.runs + stats.superseded + stats.cancelled)
            expect(stats.runs).toBe(ran.length)
            const superseded = Array.from(answers.values()).filter((a) => a === "DebounceSupersededError").length
            expect(superseded).toBe(stats.superseded)
            for (const r of ran) {
              // a run happens `wait` after its call, or earlier when maxWait cut the burst short
              if (maxWait === undefined) expect(r.at).toBe(r.called + wait)
              else expect(r.at).toBeLessThanOrEqual(r.called + wait)
            }
          }))
      }),
    60_000
  )

  it.effect("isDebounced tells a debounced function made by make from any other function", () =>
    Effect.scoped(Effect.gen(function*() {
      const plain = (n: number) => Effect.succeed(n)
      const debounced = yield* Debounce.make(plain, { wait: "10 millis" })
      expect(Debounce.isDebounced(debounced)).toBe(true)
      expect(Debounce.isDebounced(plain)).toBe(false)
      expect(Debounce.isDebounced({ name: "Debounce" })).toBe(false)
    })))
})
