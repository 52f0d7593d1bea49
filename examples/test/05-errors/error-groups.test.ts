import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../05-errors/error-groups.ts"
import { runExample } from "../runExample.ts"

it.effect("05-errors/error-groups hands each except* handler its failures and raises the unmatched ones again", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- four tasks, three failures of two kinds: each except* clause gets its group",
      "task users: ok",
      "except* ConnectionLost got 2: db-1, db-2",
      "except* InvalidData got: row 17",
      "every failure was handled",
      "-- a failure no clause matches is raised again, as except* does",
      "task users: ok",
      "except* ConnectionLost got 2",
      "except* InvalidData got 1",
      "unhandled, raised again: Timeout (cache warm-up)"
    ])
  }))
