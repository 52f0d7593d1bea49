/**
 * Replaces Python's single-flight idiom (a dict of in-flight `asyncio.Future`s, or `async_lru.alru_cache`, so that
 * concurrent requests for one key await a single computation instead of each starting its own) with Effect's own
 * `Cache`: concurrent `Cache.get`s of a missing key share one lookup, and the value is kept for `timeToLive`.
 */
import { Cache, Console, Effect } from "effect"

export const program = Effect.gen(function*() {
  let lookups = 0
  const config = yield* Cache.make({
    lookup: (key: string) =>
      Effect.sync(() => lookups++).pipe(
        Effect.andThen(Effect.sleep("50 millis")), // a slow backend
        Effect.as(`${key}-v1`)
      ),
    capacity: 100,
    timeToLive: "200 millis"
  })
  const concurrently = (keys: ReadonlyArray<string>) =>
    Effect.forEach(keys, (key) => Cache.get(config, key), { concurrency: "unbounded" })

  yield* Console.log("-- 10 concurrent requests for one key")
  const values = yield* concurrently(Array.from({ length: 10 }, () => "pricing"))
  yield* Console.log(`10 requests got ${new Set(values).size} value (${values[0]}); the lookup ran ${lookups} time`)

  yield* Console.log("-- 5 requests for each of 3 keys: one lookup per key")
  lookups = 0
  yield* concurrently(["a", "b", "c"].flatMap((key) => Array.from({ length: 5 }, () => key)))
  yield* Console.log(`15 requests, lookups: ${lookups}`)

  yield* Console.log("-- later requests are served from the cache until the value expires")
  lookups = 0
  yield* concurrently(["pricing", "pricing"])
  yield* Console.log(`cached: lookups ${lookups}`)
  yield* Effect.sleep("200 millis")
  yield* concurrently(["pricing", "pricing"])
  yield* Console.log(`after timeToLive: lookups ${lookups}`)
})
