import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../08-performance/batching.ts"
import { runExample } from "../runExample.ts"

it.effect("08-performance/batching turns many gets into a few lookups, deduplicated and capped in size", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- 40 comments by 12 authors, one author lookup per comment (the N+1 pattern)",
      "40 gets, 28 deduplicated",
      "lookups: 1, batch sizes: [12]",
      "comments by the deleted author 7: 3",
      "-- 60 distinct products, at most 25 ids per query",
      "60 gets, mean batch size 20",
      "lookups: 3, batch sizes: [25, 25, 10]"
    ])
  }))
