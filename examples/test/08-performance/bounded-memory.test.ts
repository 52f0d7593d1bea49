import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../08-performance/bounded-memory.ts"
import { runExample } from "../runExample.ts"

it.effect(
  "08-performance/bounded-memory keeps memory bounded by the work in progress, not by the flood",
  () =>
    Effect.gen(function*() {
      expect(yield* runExample(program)).toEqual([
        "-- one fiber per item, all parked on a limiter of 100 (create_task for everything)",
        "20000 items: 20000 fibers alive at once, 19800 parked on the limiter",
        "-- a bounded queue of 100 and 100 workers: the producer waits for room (backpressure)",
        "20000 items: 100 workers, queue never above 100",
        "-- one permit per user: a keyed limiter drops idle users, a Map of semaphores keeps them all",
        "5000 users, 20000 requests at most 200 at once",
        "keyed limiter: at most 200 keys in memory, 0 after the flood",
        "Map of semaphores: 5000 entries after the flood"
      ])
    }),
  60_000
) // about 5 s on a loaded 2-core machine (before this branch too), over vitest's default
