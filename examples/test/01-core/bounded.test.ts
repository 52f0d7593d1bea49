import { expect, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { program } from "../../01-core/bounded.ts"
import { runExample } from "../runExample.ts"

it.effect("01-core/bounded runs at most 3 fetches at once and keeps every result", () =>
  Effect.gen(function*() {
    const lines = yield* runExample(program)
    expect(lines).toEqual([
      "limit 3, peak in flight 3",
      "9 fetched, 1 failed",
      "https://example.com/page/1: 200 after 20 ms",
      "https://example.com/page/2: 200 after 30 ms",
      "https://example.com/page/3: 200 after 40 ms",
      "https://example.com/page/4: 200 after 20 ms",
      "https://example.com/page/5: 200 after 30 ms",
      "https://example.com/page/6: 200 after 40 ms",
      "https://example.com/page/7: HTTP 404",
      "https://example.com/page/8: 200 after 30 ms",
      "https://example.com/page/9: 200 after 40 ms",
      "https://example.com/page/10: 200 after 20 ms"
    ])
    // 10 fetches of 20-40 ms, 3 at a time: 100 ms of virtual time (one at a time would take 290 ms, all at once 40 ms).
    expect(yield* Clock.currentTimeMillis).toBe(100)
  }))
