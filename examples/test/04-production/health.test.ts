import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../04-production/health.ts"
import { runExample } from "../runExample.ts"

it.effect("04-production/health reports degraded, unhealthy and timed-out checks with latencies and a cache", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- readiness: unhealthy",
      "  database  healthy   (12 ms)",
      "  cache     degraded  (0 ms, non-critical, CacheDown: connection refused)",
      "  search    unhealthy (500 ms, timed out after 500ms)",
      "  payments  degraded  (0 ms)",
      "-- liveness: healthy",
      "  process   healthy   (0 ms)",
      "-- readiness 1 s later (database from the cache): unhealthy",
      "  database  healthy   (12 ms, cached)",
      "  cache     degraded  (0 ms, non-critical, CacheDown: connection refused)",
      "  search    unhealthy (500 ms, timed out after 500ms)",
      "  payments  degraded  (0 ms)",
      "database queried 1 time(s)",
      "/healthz would answer 503 (unhealthy)"
    ])
  }))
