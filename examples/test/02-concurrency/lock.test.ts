import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/lock.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/lock loses updates without a lock, and none with Mutex.withLock or Ref.update", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- 100 fibers each add 1 to a shared counter",
      "without a lock: 1 (99 updates lost)",
      "with Mutex.withLock: 100 (0 updates lost)",
      "the lock was taken 100 times, 99 of them after waiting in line",
      "with Ref.update, no lock needed: 100 (0 updates lost)"
    ])
  }))
