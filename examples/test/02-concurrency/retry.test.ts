import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../02-concurrency/retry.ts"
import { runExample } from "../runExample.ts"

it.effect("02-concurrency/retry retries a flaky call with seeded jitter: the same delays on every run", () =>
  Effect.gen(function*() {
    const expected = [
      "-- Effect's exponential backoff, jittered by 0.8-1.2 (nominal 20, 40, 80 ms)",
      "retried after 18, 46, 92 ms; /api/items: 200 OK on attempt 4",
      "-- full jitter: three clients hit by the same outage spread their retries",
      "client a retried after 19, 19, 51 ms; /api/items (client a): 200 OK on attempt 4",
      "client b retried after 4, 15, 57 ms; /api/items (client b): 200 OK on attempt 4",
      "client c retried after 7, 36, 38 ms; /api/items (client c): 200 OK on attempt 4",
      "-- too flaky: the policy gives up after 5 attempts with the last typed error",
      "gave up: ConnectionReset on attempt 5"
    ]
    expect(yield* runExample(program)).toEqual(expected)
  }))
