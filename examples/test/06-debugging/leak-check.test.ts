import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../06-debugging/leak-check.ts"
import { runExample } from "../runExample.ts"

it.effect("06-debugging/leak-check catches a forgotten fork and passes a scoped one", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- a forgotten fork: startListener returns, the listener fiber lives on",
      "FiberLeakError: LeakCheck: 1 of the 1 fibers started by the effect are still alive after it returned",
      "-- a heartbeat owned by a scope: it ends when the scope closes",
      "done: fibers still alive 0",
      "LeakCheck.fibers passed"
    ])
  }))
