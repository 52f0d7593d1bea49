/**
 * Replaces Python's async generators and `async for` (`async def pages(): ... yield item`, `async for item in
 * pages(): ...`, breaking out early, and processing items concurrently) with Effect's `Stream`: an existing async
 * iterable becomes a Stream with `Stream.fromAsyncIterable`, a generator written in Effect is `Stream.paginate`,
 * and `Stream.mapEffect` with `concurrency` processes items concurrently in input or completion order.
 */
import { Console, Data, Duration, Effect, Option, Stream } from "effect"

class ReadError extends Data.TaggedError("ReadError")<{ readonly cause: unknown }> {}

/** One page of results and the next page to fetch, if any (like `async def pages(): ... yield`). */
const fetchPage = (page: number) =>
  Effect.sleep(10).pipe(
    Effect.andThen(Console.log(`fetched page ${page}`)),
    Effect.as([[`item-${page}a`, `item-${page}b`], page < 3 ? Option.some(page + 1) : Option.none<number>()] as const)
  )

/** Per-item work that takes longer for some items than others. */
const delays: Record<number, number> = { 1: 70, 2: 10, 3: 30, 4: 50 }
const enrich = (id: number) => Effect.sleep(delays[id] ?? 0).pipe(Effect.as(`user-${id}`))

/** Runs an effect and returns how long it took, to the nearest 10 ms (exact under the test's virtual clock). */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.timed(effect).pipe(
    Effect.map(([duration, a]) => [Math.round(Duration.toMillis(duration) / 10) * 10, a] as const)
  )

export const program = Effect.gen(function*() {
  yield* Console.log("-- async for over an async generator from plain JS code: Stream.fromAsyncIterable")
  let closed = false
  // what a JS library hands you: an async generator with cleanup in `finally`
  const readLines = async function*() {
    try {
      for (const line of ["alpha", "beta", "gamma", "delta"]) {
        await Promise.resolve()
        yield line
      }
    } finally {
      closed = true
    }
  }
  yield* Stream.fromAsyncIterable(readLines(), (cause) => new ReadError({ cause })).pipe(
    Stream.map((line) => line.toUpperCase()),
    Stream.runForEach((line) => Console.log(line))
  )

  yield* Console.log("-- breaking out early: Stream.take(2) closes the generator (its finally runs)")
  closed = false
  const firstTwo = yield* Stream.fromAsyncIterable(readLines(), (cause) => new ReadError({ cause })).pipe(
    Stream.take(2),
    Stream.runCollect
  )
  yield* Console.log(`first two: ${firstTwo.join(", ")}; generator closed: ${closed}`)

  yield* Console.log("-- an async generator written as a Stream: pages fetched one at a time, on demand")
  const items = yield* Stream.paginate(1, fetchPage).pipe(Stream.take(3), Stream.runCollect)
  yield* Console.log(`took: ${items.join(", ")} (page 3 was never fetched)`)

  yield* Console.log("-- concurrent processing: mapEffect with concurrency 2")
  const [orderedMs, ordered] = yield* Stream.make(1, 2, 3, 4).pipe(
    Stream.mapEffect(enrich, { concurrency: 2 }),
    Stream.runCollect,
    timed
  )
  // in order, a slow item holds back the ones after it: 3 and 4 start only once 1 is out
  yield* Console.log(`input order: ${ordered.join(", ")} (${orderedMs} ms)`)
  const [unorderedMs, asCompleted] = yield* Stream.make(1, 2, 3, 4).pipe(
    Stream.mapEffect(enrich, { concurrency: 2, unordered: true }), // asyncio.as_completed
    Stream.runCollect,
    timed
  )
  yield* Console.log(`completion order: ${asCompleted.join(", ")} (${unorderedMs} ms)`)
})
