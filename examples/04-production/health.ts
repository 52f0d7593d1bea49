/**
 * Replaces the Python guide's `HealthChecker` (component checks gathered with `asyncio.gather` under
 * `asyncio.wait_for`, each mapped to healthy/degraded/unhealthy with its latency, behind an aiohttp `/health`
 * handler) with `Health`: checks with a timeout (a hanging dependency is reported, never waited on), a result
 * cache, critical and non-critical components, one report per Kubernetes probe, and an open circuit breaker read
 * as degraded. Runs on virtual time, so the latencies printed are exact.
 */
import * as Health from "@async-ops/service/Health"
import { VirtualTime } from "@async-ops/testing"
import { Console, Data, Effect } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { TestClock } from "effect/testing"

class CacheDown extends Data.TaggedError("CacheDown")<{}> {
  override get message() {
    return "connection refused"
  }
}

const print = (title: string, report: Health.Report) =>
  Effect.gen(function*() {
    yield* Console.log(`-- ${title}: ${report.status}`)
    for (const c of report.checks) {
      const details = [
        `${c.latencyMs} ms`,
        ...(c.cached ? ["cached"] : []),
        ...(c.critical ? [] : ["non-critical"]),
        ...(c.error === undefined ? [] : [c.error])
      ]
      yield* Console.log(`  ${c.name.padEnd(9)} ${c.status.padEnd(9)} (${details.join(", ")})`)
    }
  })

export const program = Effect.scoped(Effect.gen(function*() {
  let dbQueries = 0
  // A database answering in 12 ms; cached for 5 s so probes do not hammer it.
  yield* Health.register({
    name: "database",
    kinds: ["readiness", "startup"],
    run: Effect.sleep("12 millis").pipe(Effect.andThen(Effect.sync(() => void dbQueries++))),
    cacheFor: "5 seconds"
  })
  // A cache that is down, but the service works without it: only degrades.
  yield* Health.register({ name: "cache", kinds: ["readiness"], run: new CacheDown(), critical: false })
  // A downstream API that hangs: cut off at 500 ms and reported, never waited on.
  yield* Health.register({ name: "search", kinds: ["readiness"], run: Effect.never, timeout: "500 millis" })
  // The process itself: liveness only.
  yield* Health.register({ name: "process", kinds: ["liveness"], run: Effect.void })
  // A circuit breaker on the payment provider, tripped by three failures.
  const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "30 seconds" })
    .pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))
  yield* Health.register(Health.fromCircuitBreaker({ name: "payments", breaker, keys: ["payments"] }))
  for (let i = 0; i < 3; i++) yield* Effect.exit(breaker.execute(Effect.fail("502"), { key: "payments" }))

  yield* print("readiness", yield* Health.report("readiness"))
  yield* print("liveness", yield* Health.report("liveness"))
  yield* Effect.sleep("1 second")
  yield* print("readiness 1 s later (database from the cache)", yield* Health.report("readiness"))
  yield* Console.log(`database queried ${dbQueries} time(s)`)
  const all = yield* Health.report()
  yield* Console.log(`/healthz would answer ${Health.statusCode(all.status)} (${all.status})`)
})).pipe(Effect.provide(Health.layer), VirtualTime.autojump, Effect.provide(TestClock.layer()))
