import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../06-debugging/testing.ts"
import { runExample } from "../runExample.ts"

it.effect("06-debugging/testing shows TestClock, autojump and ConcurrencyProbe checks passing", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- TestClock.adjust: a 30-minute timeout around a 1-hour call, tested at once",
      "ok   after 29 min the call is still running: true",
      "ok   after 30 min it failed with: \"TimeoutError\"",
      "-- VirtualTime.autojump: a call that fails twice, retried with exponential backoff",
      "ok   result: \"200\"",
      "ok   attempts: 3",
      "ok   virtual ms waited (1 s + 2 s): 3000",
      "-- ConcurrencyProbe: 10 jobs with concurrency 3",
      "ok   peak in flight: 3",
      "ok   started / ended: [10,10]",
      "ok   job-3 started when job-0 ended (ms): [100,100]"
    ])
  }))
