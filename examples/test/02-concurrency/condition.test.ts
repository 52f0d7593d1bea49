import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/condition.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/condition wakes every waiter with notifyAll and runs a bounded buffer on two conditions", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- workers wait until the config is loaded",
      "w1 waits",
      "w2 waits",
      "w3 waits",
      "config loaded: notify all",
      "w1 starts with https://api.example.com",
      "w2 starts with https://api.example.com",
      "w3 starts with https://api.example.com",
      "-- a buffer of 2: the producer waits while it is full, the consumer while it is empty",
      "put 1 (buffer: 1)",
      "put 2 (buffer: 1, 2)",
      "got 1",
      "put 3 (buffer: 2, 3)",
      "got 2",
      "put 4 (buffer: 3, 4)",
      "got 3",
      "put 5 (buffer: 4, 5)",
      "got 4",
      "got 5",
      "done: 5 items through a buffer of 2, 0 left"
    ])
  }))
