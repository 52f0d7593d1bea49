import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../05-errors/retry.ts"
import { runExample } from "../runExample.ts"

it.effect("05-errors/retry backs off, retries only transient errors, honours Retry-After, the deadline and a budget", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- exponential backoff (30, 60, 120 ms, capped at 120): fails twice, then answers",
      "  attempt 1 at 0 ms: 503 unavailable",
      "  attempt 2 at 30 ms: 503 unavailable",
      "  attempt 3 at 90 ms: ok",
      "result after 3 attempts",
      "-- a decorator: one policy for many calls, retrying only transient errors",
      "  attempt 1 at 0 ms: 404 not found",
      "get user: 404 not found, not retried",
      "  attempt 1 at 0 ms: 503 unavailable",
      "  attempt 2 at 30 ms: 503 unavailable",
      "  attempt 3 at 90 ms: 503 unavailable",
      "get orders: gave up with the last error (503 unavailable, attempt 3)",
      "-- Retry-After: a 429 from Effect's RateLimiter (1 call per 150 ms) is waited out",
      "message 1:",
      "  attempt 1 at 0 ms: ok",
      "message 2:",
      "  attempt 1 at 0 ms: 429 rate limited",
      "  attempt 2 at 150 ms: ok",
      "-- a 200 ms deadline: stop when the next wait would end past it, with the last error",
      "  attempt 1 at 0 ms: 503 unavailable",
      "  attempt 2 at 30 ms: 503 unavailable",
      "  attempt 3 at 90 ms: 503 unavailable",
      "gave up at 90 ms: 503 unavailable (attempt 3), not a timeout",
      "-- a retry storm: 20 callers, a dependency down for everyone, 4 attempts each",
      "without a budget: 80 calls reach the dependency",
      "with a 10% budget (+1 retry/s): 23 calls",
      "budget: 20 calls, 3 retries allowed, 20 refused"
    ])
  }))
