import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../04-production/lifespan.ts"
import { runExample } from "../runExample.ts"

it.effect("04-production/lifespan starts layers in dependency order, drains, and cleans up in reverse", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "startup: open config",
      "startup: open database pool (postgres://db/app)",
      "startup: open cache",
      "startup: open worker pool",
      "serving",
      "SIGTERM (Shutdown.trigger)",
      "drain: worker pool flushes 2 queued jobs",
      "database: insert job-1",
      "database: insert job-2",
      "cleanup: close worker pool",
      "cleanup: close cache",
      "cleanup: close database pool (postgres://db/app)",
      "cleanup: close config",
      "shutdown clean: drain delay, worker pool, finalizers"
    ])
  }))
