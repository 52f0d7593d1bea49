/**
 * Replaces the seed's `retry_with_backoff(coro_func, max_retries, base_delay, max_delay, exceptions)` loop
 * (`await asyncio.sleep(min(base_delay * 2 ** attempt, max_delay))` between tries) and its `@with_retry(...)`
 * decorator with a `Retry` policy: exponential backoff with a cap, only the errors a predicate calls transient,
 * at least the `Retry-After` an error carries, never past the `Deadline`, and a retry budget that keeps a failing
 * dependency from being hit `maxAttempts` times by every caller.
 */
import { Deadline, Retry } from "@async-ops/core"
import { Clock, Console, Data, Effect, Layer } from "effect"
import { RateLimiter } from "effect/persistence"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly attempt: number }> {}
class NotFound extends Data.TaggedError("NotFound")<{ readonly id: number }> {}
type ApiError = Unavailable | NotFound

const describe = (e: { readonly _tag: string }): string =>
  e._tag === "Unavailable"
    ? "503 unavailable"
    : e._tag === "NotFound"
    ? "404 not found"
    : e._tag === "RateLimiterError"
    ? "429 rate limited"
    : e._tag

/**
 * A call that logs each attempt with its time since `start`, and fails with what `fail(n)` returns for the n-th
 * attempt (or answers when it returns undefined).
 */
const flaky = <E extends { readonly _tag: string }>(fail: (attempt: number) => Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    let attempt = 0
    return Effect.gen(function*() {
      const n = ++attempt
      const at = (yield* Clock.currentTimeMillis) - start
      yield* fail(n).pipe(Effect.tapError((e) => Console.log(`  attempt ${n} at ${at} ms: ${describe(e)}`)))
      yield* Console.log(`  attempt ${n} at ${at} ms: ok`)
      return n
    })
  })

const unavailableUntil = (ok: number) => (n: number) =>
  n < ok ? Effect.fail(new Unavailable({ attempt: n })) : Effect.void

export const program = Effect.gen(function*() {
  yield* Console.log("-- exponential backoff (30, 60, 120 ms, capped at 120): fails twice, then answers")
  const profile = yield* flaky(unavailableUntil(3))
  const attempts = yield* profile.pipe(
    Retry.retry({ base: "30 millis", maxDelay: "120 millis", maxAttempts: 5, jitter: "none" })
  )
  yield* Console.log(`result after ${attempts} attempts`)

  yield* Console.log("-- a decorator: one policy for many calls, retrying only transient errors")
  const withRetry = Retry.retry<ApiError>({
    base: "30 millis",
    maxAttempts: 3,
    jitter: "none",
    retryOn: (e) => e._tag === "Unavailable"
  })
  const getUser = yield* flaky((): Effect.Effect<void, ApiError> => Effect.fail(new NotFound({ id: 42 })))
  const user = yield* Effect.flip(withRetry(getUser))
  yield* Console.log(`get user: ${describe(user)}, not retried`)
  const getOrders = yield* flaky(unavailableUntil(Infinity))
  const orders = yield* Effect.flip(withRetry(getOrders))
  const attempt = orders._tag === "Unavailable" ? orders.attempt : "?"
  yield* Console.log(`get orders: gave up with the last error (${describe(orders)}, attempt ${attempt})`)

  yield* Console.log("-- Retry-After: a 429 from Effect's RateLimiter (1 call per 150 ms) is waited out")
  yield* Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    const send = flaky(() => Effect.asVoid(limiter.consume({ key: "sms", limit: 1, window: "150 millis" })))
    yield* Console.log("message 1:")
    yield* Effect.flatten(send)
    yield* Console.log("message 2:")
    const second = yield* send
    yield* second.pipe(Retry.retry({ base: "10 millis", maxAttempts: 3, jitter: "none" }))
  }).pipe(Effect.provide(Layer.fresh(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)))))

  yield* Console.log("-- a 200 ms deadline: stop when the next wait would end past it, with the last error")
  const start = yield* Clock.currentTimeMillis
  const down = yield* flaky(unavailableUntil(Infinity))
  const last = yield* down.pipe(
    Retry.retry({ base: "30 millis", maxAttempts: Infinity, jitter: "none" }),
    Deadline.within("200 millis"),
    Effect.flip
  )
  yield* Console.log(
    `gave up at ${(yield* Clock.currentTimeMillis) - start} ms: ${describe(last)} (attempt ${
      last._tag === "Unavailable" ? last.attempt : "?"
    }), not a timeout`
  )

  yield* Console.log("-- a retry storm: 20 callers, a dependency down for everyone, 4 attempts each")
  const storm = (budget: Retry.RetryBudget | undefined) =>
    Effect.gen(function*() {
      let calls = 0
      const dependency = Effect.suspend(() => {
        calls++
        return Effect.fail(new Unavailable({ attempt: calls }))
      })
      const policy = { base: "10 millis", maxAttempts: 4, jitter: "none", ...(budget ? { budget } : {}) } as const
      yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        () => Effect.ignore(dependency.pipe(Retry.retry(policy))),
        { concurrency: "unbounded", discard: true }
      )
      return calls
    })
  yield* Console.log(`without a budget: ${yield* storm(undefined)} calls reach the dependency`)
  const budget = yield* Retry.makeBudget({ ratio: 0.1, minRetriesPerSecond: 1, window: "1 second" })
  yield* Console.log(`with a 10% budget (+1 retry/s): ${yield* storm(budget)} calls`)
  const stats = yield* budget.stats
  yield* Console.log(`budget: ${stats.calls} calls, ${stats.retries} retries allowed, ${stats.rejected} refused`)
})
