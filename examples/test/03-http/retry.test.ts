import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../03-http/retry.ts"
import { runLiveExample } from "./runLive.ts"

it.live("03-http/retry retries 5xx with backoff, honours Retry-After, and leaves plain POSTs alone", () =>
  Effect.gen(function*() {
    expect(yield* runLiveExample(program)).toEqual([
      "-- 503, 503, then 200: retried with backoff",
      "status 200 after 3 attempts",
      "-- 429 with Retry-After: 1, then 200: the retry waits for the server's delay",
      "status 200 after 2 attempts",
      "first reply: 429, Retry-After: 1",
      "second request came at least 1 s later: true",
      "-- always 503: gives up after maxAttempts with the last StatusError",
      "StatusError 503",
      "/down was tried 4 times",
      "-- POST is not idempotent: not retried, unless it carries an Idempotency-Key",
      "plain POST: StatusError 503",
      "POST with Idempotency-Key: status 201 after 2 attempts",
      "client: 5 calls, 12 attempts, 7 retries"
    ])
  }))
