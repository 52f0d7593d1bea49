/**
 * Replaces the seed's `CircuitBreaker` class (CLOSED → OPEN after `failure_threshold` failures, calls failing fast
 * with `CircuitOpenError` while open, HALF_OPEN after `timeout` to let a probe through, CLOSED again on success)
 * with Effect's own `CircuitBreaker` from `effect/persistence`: keyed circuits, typed rejections (`CircuitOpen`
 * with `retryAfter`, `CircuitHalfOpen`), a stream of transitions, and in-memory or Redis state. Effect's breaker
 * admits one probe at a time and closes on its first success; the last part shows a small store wrapper for the
 * seed's `success_threshold` (close only after N successful probes in a row).
 */
import { Console, Data, Duration, Effect, Exit, Layer, Ref, Stream } from "effect"
import { CircuitBreaker } from "effect/persistence"

class ServiceDown extends Data.TaggedError("ServiceDown")<{}> {}

/**
 * Wraps a `CircuitBreakerStore` so a half-open circuit closes only after `successes` successful probes in a row:
 * a probe's success before that is recorded as `Ignored`, which keeps the circuit half-open and frees the probe
 * slot for the next caller; a failed probe reopens it as usual. Probes still run one at a time.
 */
const withSuccessThreshold = (successes: number) =>
  Layer.effect(
    CircuitBreaker.CircuitBreakerStore,
    Effect.gen(function*() {
      const inner = yield* CircuitBreaker.CircuitBreakerStore
      const probe = new Map<string, number>() // key -> generation of the probe running now
      const streak = new Map<string, number>() // key -> successful probes in a row
      return CircuitBreaker.CircuitBreakerStore.of({
        admit: (key) =>
          Effect.map(inner.admit(key), (admission) => {
            if (admission.probe) probe.set(key, admission.generation)
            return admission
          }),
        record: (options) => {
          if (probe.get(options.key) !== options.generation) return inner.record(options)
          probe.delete(options.key)
          const n = options.outcome === "Success" ? (streak.get(options.key) ?? 0) + 1 : 0
          if (options.outcome === "Success" && n < successes) {
            streak.set(options.key, n)
            return inner.record({ ...options, outcome: "Ignored" })
          }
          streak.delete(options.key)
          return inner.record(options)
        },
        state: inner.state
      })
    })
  )

const describe = <A>(exit: Exit.Exit<A, ServiceDown | CircuitBreaker.CircuitBreakerError>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const error = exit.cause.reasons[0]?._tag === "Fail" ? exit.cause.reasons[0].error : undefined
  if (error?._tag === "ServiceDown") return "failed: service down"
  if (error?._tag === "CircuitBreakerError") {
    return error.reason._tag === "CircuitOpen"
      ? `rejected at once: circuit open, retry in ${
        Math.round(Duration.toMillis(error.reason.retryAfter) / 10) * 10
      } ms`
      : error.reason._tag === "CircuitHalfOpen"
      ? "rejected at once: half-open, a probe is running"
      : "store error"
  }
  return "?"
}

/** A breaker (3 failures in a row open it for 100 ms) over a dependency whose health the demo flips. */
const scenario = (title: string, store: Layer.Layer<CircuitBreaker.CircuitBreakerStore>) =>
  Effect.gen(function*() {
    yield* Console.log(title)
    const breaker = yield* CircuitBreaker.make({
      tripPolicy: CircuitBreaker.consecutive(3),
      openDuration: "100 millis"
    })
    // Transitions are printed as the breaker makes them: before the line of the call whose outcome caused them.
    yield* breaker.transitions.pipe(
      Stream.runForEach((t) => Console.log(`  circuit ${t.from} -> ${t.to}`)),
      Effect.forkScoped({ startImmediately: true })
    )
    const healthy = yield* Ref.make(false)
    const reached = yield* Ref.make(0)
    const dependency = Effect.gen(function*() {
      yield* Ref.update(reached, (n) => n + 1)
      yield* Effect.sleep("10 millis")
      if (!(yield* Ref.get(healthy))) return yield* new ServiceDown()
      return "200 OK"
    })
    let n = 0
    const call = Effect.gen(function*() {
      const i = ++n
      const exit = yield* Effect.exit(dependency.pipe(breaker.execute({ key: "payments" })))
      yield* Console.log(`call ${i}: ${describe(exit)}`)
      // let the transition printer catch up, so its lines come in order
      yield* Effect.yieldNow
    })
    return { breaker, call, healthy, reached }
  }).pipe(Effect.provide(store))

export const program = Effect.scoped(Effect.gen(function*() {
  const { call, healthy, reached } = yield* scenario(
    "-- 3 failures open the circuit; calls then fail fast until a probe succeeds",
    CircuitBreaker.layerStoreMemory()
  )
  yield* call
  yield* call
  yield* call
  const before = yield* Ref.get(reached)
  yield* call
  yield* Console.log(`the dependency was not called while open: ${(yield* Ref.get(reached)) === before}`)
  yield* Effect.sleep("100 millis")
  yield* Ref.set(healthy, true)
  yield* call

  yield* Console.log("-- half-open: one probe at a time, the other callers are turned away")
  yield* Ref.set(healthy, false)
  yield* call
  yield* call
  yield* call
  yield* Effect.sleep("100 millis")
  yield* Ref.set(healthy, true)
  yield* Effect.all([call, Effect.sleep("5 millis").pipe(Effect.andThen(call))], { concurrency: "unbounded" })

  const strict = yield* scenario(
    "-- a success threshold of 2 (a store wrapper): the circuit closes after the second good probe",
    withSuccessThreshold(2).pipe(Layer.provide(CircuitBreaker.layerStoreMemory()))
  )
  yield* strict.call
  yield* strict.call
  yield* strict.call
  yield* Effect.sleep("100 millis")
  yield* Ref.set(strict.healthy, true)
  yield* strict.call
  yield* Console.log(`state after one good probe: ${(yield* strict.breaker.state("payments"))._tag}`)
  yield* strict.call
  yield* Console.log(`state after two: ${(yield* strict.breaker.state("payments"))._tag}`)
}))
