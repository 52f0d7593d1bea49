import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../04-production/periodic.ts"
import { runExample } from "../runExample.ts"

it.effect("04-production/periodic skips overlapping ticks, isolates a failing run and fires on a cron", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- every 10 s, overlap: skip (run 2 takes 25 s, run 3 fails)",
      "t=10s run 1 starts",
      "t=14s run 1 done",
      "t=20s run 2 starts",
      "t=45s run 2 done",
      "t=50s run 3 starts",
      "WARN Periodic sync: run failed (database unavailable)",
      "t=60s run 4 starts",
      "t=64s run 4 done",
      "t=70s run 5 starts",
      "t=74s run 5 done",
      "stats: runs=5 succeeded=4 failed=1 skipped=2",
      "-- cron \"*/5 * * * *\" started at 10:02:30 UTC",
      "report at 10:05:00",
      "report at 10:10:00",
      "report at 10:15:00",
      "next run at 10:20:00; scope closes, task stops"
    ])
  }))
