/**
 * Replaces Python's `BatchProcessor` (an `asyncio.Queue` drained into lists of at most `max_batch_size` items,
 * flushed after `max_wait`, one future per caller), the cure for N+1 queries, with `Batcher.make`: many concurrent
 * `get(id)` calls become a few `lookup(ids)` calls, duplicates share one entry, and a missing id fails only the
 * callers that asked for it.
 */
import { Batcher } from "@async-ops/core"
import { Console, Effect } from "effect"

/** A fake database with a bulk endpoint (`SELECT ... WHERE id IN (...)`) that records the size of each query. */
const database = (missing: ReadonlyArray<number> = []) => {
  const queries: Array<number> = []
  const lookup = (ids: ReadonlyArray<number>) =>
    Effect.sleep("20 millis").pipe(
      Effect.andThen(Effect.sync(() => queries.push(ids.length))),
      Effect.as(ids.filter((id) => !missing.includes(id)).map((id) => [id, `user-${id}`] as const))
    )
  return { queries, lookup }
}

export const program = Effect.gen(function*() {
  yield* Console.log("-- 40 comments by 12 authors, one author lookup per comment (the N+1 pattern)")
  const authors = database([7])
  const names = yield* Effect.scoped(Effect.gen(function*() {
    const users = yield* Batcher.make({ maxBatchSize: 50, maxDelay: "5 millis", lookup: authors.lookup })
    const comments = Array.from({ length: 40 }, (_, i) => (i * 5) % 12)
    return yield* Effect.forEach(
      comments,
      (author) => users.get(author).pipe(Effect.catchTag("BatchKeyNotFoundError", () => Effect.succeed("[deleted]"))),
      { concurrency: "unbounded" }
    ).pipe(Effect.tap(() => Effect.flatMap(users.stats, (s) => Console.log(`40 gets, ${s.deduplicated} deduplicated`))))
  }))
  yield* Console.log(`lookups: ${authors.queries.length}, batch sizes: [${authors.queries.join(", ")}]`)
  yield* Console.log(`comments by the deleted author 7: ${names.filter((n) => n === "[deleted]").length}`)

  yield* Console.log("-- 60 distinct products, at most 25 ids per query")
  const products = database()
  yield* Effect.scoped(Effect.gen(function*() {
    const catalog = yield* Batcher.make({ maxBatchSize: 25, maxDelay: "5 millis", lookup: products.lookup })
    yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => 100 + i), (id) => catalog.get(id), {
      concurrency: "unbounded",
      discard: true
    })
    const stats = yield* catalog.stats
    yield* Console.log(`60 gets, mean batch size ${stats.meanBatchSize}`)
  }))
  yield* Console.log(`lookups: ${products.queries.length}, batch sizes: [${products.queries.join(", ")}]`)
})
