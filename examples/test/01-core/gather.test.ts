import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../01-core/gather.ts"
import { runExample } from "../runExample.ts"

it.effect("01-core/gather returns every outcome typed, in input order, and as completed", () =>
  Effect.gen(function*() {
    const lines = yield* runExample(program)
    expect(lines).toEqual([
      "3 succeeded, 2 failed",
      "ok   #0 id=1: user-1",
      "ok   #1 id=2: user-2",
      "ok   #3 id=4: user-4",
      "fail #2 id=3: no such user",
      "fail #4 id=5: rate limited, retry in 2 s",
      "in input order: 1 Success, 2 Success, 3 Failure, 4 Success, 5 Failure",
      "as completed:   5 Failure, 4 Success, 3 Failure, 2 Success, 1 Success"
    ])
  }))
