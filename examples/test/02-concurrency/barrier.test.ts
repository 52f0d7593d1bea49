import { LeakCheck } from "@async-ops/testing"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/barrier.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/barrier lines workers up after each phase and aborts when one of them fails", () =>
  Effect.gen(function*() {
    expect(yield* LeakCheck.fibers(runExample(program))).toEqual([
      "-- three workers meet at the barrier after each phase: nobody starts a phase early",
      "10 ms w1: load done",
      "20 ms w3: load done",
      "30 ms w2: load done",
      "30 ms w1: everyone finished load",
      "40 ms w2: compute done",
      "50 ms w3: compute done",
      "60 ms w1: compute done",
      "60 ms w2: everyone finished compute",
      "70 ms w1: write done",
      "80 ms w2: write done",
      "90 ms w3: write done",
      "90 ms w1: everyone finished write",
      "stats: {\"parties\":3,\"waiting\":0,\"broken\":false,\"rounds\":3}",
      "-- a failing worker aborts the barrier; the others stop instead of waiting forever",
      "w1: loaded, waiting for the others",
      "w2: loaded, waiting for the others",
      "w1: gave up, the barrier is broken",
      "w2: gave up, the barrier is broken",
      "w3: could not load its share",
      "stats: {\"parties\":3,\"waiting\":0,\"broken\":true,\"rounds\":0}",
      "after reset: {\"parties\":3,\"waiting\":0,\"broken\":false,\"rounds\":0}"
    ])
  }))
