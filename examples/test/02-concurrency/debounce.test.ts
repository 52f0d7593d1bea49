import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/debounce.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/debounce searches once per burst, and every maxWait while typing goes on", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- two bursts of typing: only the last keystroke of each burst searches, 50 ms after it",
      "t=70ms search(\"eff\")",
      "t=190ms search(\"effect\")",
      "6 keystrokes, 2 searches, 4 superseded",
      "-- steady typing with maxWait: a search at least every 100 ms, with the latest text",
      "t=100ms search(\"conc\")",
      "t=200ms search(\"concurr\")",
      "t=300ms search(\"concurrent\")",
      "10 keystrokes, 3 searches, 7 superseded"
    ])
  }))
