/**
 * The seed's Pattern 2, `asyncio.Semaphore(limit)` around each task plus `gather`: bound how many tasks run at once.
 * Here the bound is `Gather.settle`'s `concurrency` option. No task waits on a semaphore: a fixed number of slots are
 * handed from one item to the next as items finish, so 100,000 queued items cost no more to schedule than 100.
 *
 * ```python
 * sem = asyncio.Semaphore(3)
 *
 * async def fetch_with_limit(url):
 *     async with sem:
 *         return await fetch(url)
 *
 * results = await asyncio.gather(*(fetch_with_limit(u) for u in urls), return_exceptions=True)
 * ```
 */
import { Gather } from "@async-ops/core"
import { Console, Data, Effect, Ref } from "effect"

class HttpStatusError extends Data.TaggedError("HttpStatusError")<{ readonly status: number }> {}

const urls = Array.from({ length: 10 }, (_, i) => `https://example.com/page/${i + 1}`)

export const program = Effect.gen(function*() {
  // Measure how many fetches really run at once.
  const inFlight = yield* Ref.make(0)
  const peak = yield* Ref.make(0)
  const enter = Ref.updateAndGet(inFlight, (n) => n + 1).pipe(
    Effect.flatMap((now) => Ref.update(peak, (p) => Math.max(p, now)))
  )
  const leave = Ref.update(inFlight, (n) => n - 1)

  const fetchPage = (url: string, index: number) =>
    Effect.acquireUseRelease(
      enter,
      () =>
        Effect.gen(function*() {
          const latency = 20 + (index % 3) * 10 // a fake request
          yield* Effect.sleep(latency)
          if (index === 6) return yield* new HttpStatusError({ status: 404 })
          return `200 after ${latency} ms`
        }),
      () => leave
    )

  const settled = yield* Gather.settle(urls, fetchPage, { concurrency: 3 })

  yield* Console.log(`limit 3, peak in flight ${yield* Ref.get(peak)}`)
  yield* Console.log(`${settled.counts.success} fetched, ${settled.counts.failure} failed`)
  for (const outcome of settled.outcomes) {
    yield* Console.log(
      outcome._tag === "Success"
        ? `${outcome.input}: ${outcome.value}`
        : outcome._tag === "Failure"
        ? `${outcome.input}: HTTP ${outcome.error.status}`
        : `${outcome.input}: ${outcome._tag}`
    )
  }
})
