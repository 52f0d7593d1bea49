import * as Main from "@async-ops/service/Main"
import * as Shutdown from "@async-ops/service/Shutdown"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Ref } from "effect"
import { TestClock, TestConsole } from "effect/testing"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

class Greeting extends Context.Service<Greeting, { readonly text: string }>()("test/Greeting") {}

describe("Main", () => {
  it.effect("run gives the program a Shutdown and returns the report of a clean shutdown", () =>
    Effect.gen(function*() {
      const released = yield* Ref.make(false)
      const program = Effect.scoped(Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Ref.set(released, true))
        yield* Shutdown.trigger("test")
        return yield* Effect.never
      }))
      const fiber = yield* Effect.forkChild(
        Main.run(program, { shutdown: { signals: [], drainDelay: "2 seconds" } }),
        { startImmediately: true }
      )
      yield* settle
      yield* TestClock.adjust("2 seconds")
      const report = yield* Fiber.join(fiber)
      expect(report.outcome).toBe("clean")
      expect(report.reason).toBe("test")
      expect(Main.exitCode(Exit.succeed(report))).toBe(0)
      expect(yield* Ref.get(released)).toBe(true)
    }))

  it.effect("run builds options.layer below the orchestrator and gives its services to the program", () =>
    Effect.gen(function*() {
      const text = yield* Main.run(
        Effect.gen(function*() {
          return (yield* Greeting).text
        }),
        { shutdown: { signals: [] }, layer: Layer.succeed(Greeting, { text: "hello" }) }
      ).pipe(Effect.map((r) => r.outcome))
      expect(text).toBe("completed")
    }))

  it.effect("logFormat logfmt logs the phases as logfmt lines", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Main.run(Effect.andThen(Shutdown.trigger(), Effect.never), {
          shutdown: { signals: [], drainDelay: 0 },
          logFormat: "logfmt"
        }),
        { startImmediately: true }
      )
      yield* Fiber.join(fiber)
      const lines = (yield* TestConsole.logLines).map(String)
      const phases = lines.flatMap((l) => /shutdown\.phase=(\w+)/.exec(l)?.[1] ?? [])
      expect(phases).toEqual(["draining", "stopping", "stopped"])
      expect(lines.some((l) => l.includes("level=INFO") && l.includes("shutdown clean"))).toBe(true)
    }))

  it.effect("logLevel filters the orchestrator's logs", () =>
    Effect.gen(function*() {
      yield* Main.run(Effect.andThen(Shutdown.trigger(), Effect.never), {
        shutdown: { signals: [], drainDelay: 0 },
        logLevel: "Warn"
      })
      expect(yield* TestConsole.logLines).toEqual([])
    }))

  it.effect("exitCode maps outcomes and failures: 0 clean, 1 overrun or failure, 130 forced or interrupted", () =>
    Effect.gen(function*() {
      const report = (outcome: Shutdown.Outcome, exitCode: number | undefined): Shutdown.Report => ({
        outcome,
        reason: "SIGTERM",
        phases: [],
        steps: [],
        cutOff: [],
        elapsedMs: 0,
        exitCode
      })
      expect(Main.exitCode(Exit.succeed(report("overrun", 1)))).toBe(1)
      expect(Main.exitCode(Exit.succeed(report("forced", 130)))).toBe(130)
      expect(Main.exitCode(Exit.fail("boom"))).toBe(1)
      expect(Main.exitCode(Exit.interrupt(1))).toBe(130)
      expect(Main.exitCode(Exit.die(new Error("bug")))).toBe(1)
    }))

  it.effect("a program that fails on its own fails run with its error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Main.run(Effect.fail("boom"), { shutdown: { signals: [] } }))
      expect(exit).toStrictEqual(Exit.fail("boom"))
    }))

  it.effect("bad options fail with InvalidOptionError", () =>
    Effect.gen(function*() {
      const message = (options: Main.RunOptions) =>
        Main.run(Effect.void, options).pipe(Effect.flip, Effect.map((e) => (e as { message: string }).message))
      expect(yield* message({ logFormat: "xml" as never })).toContain("Main.run: option logFormat")
      expect(yield* message({ logLevel: "Loud" as never })).toContain("Main.run: option logLevel")
      expect(yield* message({ shutdown: { budget: -1 } })).toContain("Shutdown.make: option budget")
    }))
})
