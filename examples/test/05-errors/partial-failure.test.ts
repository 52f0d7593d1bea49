import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../05-errors/partial-failure.ts"
import { runExample } from "../runExample.ts"

it.effect("05-errors/partial-failure reports successes and typed failures, and stops after maxFailures", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- every order runs; the batch reports what worked and what did not",
      "ok   #0: o-1 shipped",
      "ok   #2: o-3 shipped",
      "ok   #4: o-5 shipped",
      "ok   #5: o-6 shipped",
      "fail #1: payment declined for declined-2",
      "fail #3: out of stock: sku9",
      "4 succeeded, 2 failed",
      "-- maxFailures 2, 3 at a time: the second failure stops the batch",
      "  o-2: interrupted",
      "  o-5: interrupted",
      "declined-1: Failure, o-2: Interrupted, oos-sku3: Failure, o-4: Success, o-5: Interrupted, o-6: NotRun",
      "1 succeeded, 2 failed, 2 interrupted, 1 not run"
    ])
  }))
