import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../08-performance/priority.ts"
import { runExample } from "../runExample.ts"

it.effect("08-performance/priority serves urgent items first and keeps arrival order among equals", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- WorkQueue: lower priority first, arrival order among equals",
      "page-on-call(0) > fraud-alert(1) > welcome-email(3) > invoice(3) > nightly-report(5) > backup(9)",
      "-- WorkerPool: an urgent job submitted while the worker is busy jumps the line",
      "processed: long-import > password-reset > thumbnail-1 > thumbnail-2 > cleanup"
    ])
  }))
