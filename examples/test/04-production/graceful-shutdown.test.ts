import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../04-production/graceful-shutdown.ts"
import { runExample } from "../runExample.ts"

it.effect("04-production/graceful-shutdown fails readiness at once, waits the drain delay, drains in-flight work", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "t=0ms phase running",
      "t=0ms request 1 started (1000 ms)",
      "t=0ms request 2 started (3000 ms)",
      "t=0ms request 3 started (4000 ms)",
      "t=500ms SIGTERM (Shutdown.trigger)",
      "t=500ms phase draining",
      "t=500ms readiness: not ready (503)",
      "t=1000ms request 1 done",
      "t=2500ms phase stopping",
      "t=3000ms request 2 done",
      "t=4000ms request 3 done",
      "t=4000ms finalizer: connections closed",
      "outcome: clean, exit code 0, after 3500 ms",
      "phases: draining at +0 ms, stopping at +2000 ms, stopped at +3500 ms",
      "  drain delay: done in 2000 ms",
      "  in-flight requests: done in 1500 ms",
      "  finalizers: done in 0 ms"
    ])
  }))
