import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../../05-errors/circuit-breaker.ts"
import { runExample } from "../runExample.ts"

it.effect("05-errors/circuit-breaker opens, fails fast, probes half-open, closes, and honours a success threshold", () =>
  Effect.gen(function*() {
    expect(yield* runExample(program)).toEqual([
      "-- 3 failures open the circuit; calls then fail fast until a probe succeeds",
      "call 1: failed: service down",
      "call 2: failed: service down",
      "  circuit Closed -> Open",
      "call 3: failed: service down",
      "call 4: rejected at once: circuit open, retry in 100 ms",
      "the dependency was not called while open: true",
      "  circuit Open -> HalfOpen",
      "  circuit HalfOpen -> Closed",
      "call 5: ok",
      "-- half-open: one probe at a time, the other callers are turned away",
      "call 6: failed: service down",
      "call 7: failed: service down",
      "  circuit Closed -> Open",
      "call 8: failed: service down",
      "  circuit Open -> HalfOpen",
      "call 10: rejected at once: half-open, a probe is running",
      "  circuit HalfOpen -> Closed",
      "call 9: ok",
      "-- a success threshold of 2 (a store wrapper): the circuit closes after the second good probe",
      "call 1: failed: service down",
      "call 2: failed: service down",
      "  circuit Closed -> Open",
      "call 3: failed: service down",
      "  circuit Open -> HalfOpen",
      "call 4: ok",
      "state after one good probe: HalfOpen",
      "  circuit HalfOpen -> Closed",
      "call 5: ok",
      "state after two: Closed"
    ])
  }))
