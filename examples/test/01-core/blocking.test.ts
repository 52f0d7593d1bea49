import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../01-core/blocking.ts"
import { runExample } from "../runExample.ts"

it.effect("01-core/blocking shows a blocking call stalling the heartbeat and Effect.sleep not", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "blocking sleep (Atomics.wait 50 ms): heartbeat ticked 0 times",
      "Effect.sleep(55 ms): heartbeat ticked 5 times",
      "CPU loop, no yield: heartbeat ticked 0 times",
      "CPU loop, sleeping 11 ms between chunks: heartbeat ticked 5 times"
    ])
  }))
