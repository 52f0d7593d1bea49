import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../04-production/background-manager.ts"
import { runExample } from "../runExample.ts"

it.effect("04-production/background-manager restarts a crashing task with backoff, fails it at the cap, lists all", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "t=0s consumer: connecting (attempt 1)",
      "t=1s consumer: connecting (attempt 2)",
      "t=2.5s listing:",
      "  consumer   restarting restarts=1 last error: BrokerUnavailable: attempt 2: connection refused",
      "  heartbeat  running    restarts=0",
      "  migrate    running    restarts=0",
      "t=3s migrate: done",
      "t=3s consumer: connecting (attempt 3)",
      "t=7s consumer: connecting (attempt 4)",
      "t=12.5s listing:",
      "  consumer   failed     restarts=3 last error: BrokerUnavailable: attempt 4: connection refused",
      "  heartbeat  running    restarts=0",
      "  migrate    completed  restarts=0",
      "readiness: degraded",
      "stats: running=0 completed=1 failed=1 stopped=1 restarts=3",
      "-- scope closes: every task still running is interrupted"
    ])
  }))
