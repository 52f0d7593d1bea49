/**
 * Replaces `asyncio.gather(*tasks, return_exceptions=True)`: run every task, keep going when some fail, and get one
 * outcome per input, in input order, with each failure's typed error and its input instead of exception objects
 * mixed into the results.
 *
 * ```python
 * results = await asyncio.gather(*(fetch_user(i) for i in ids), return_exceptions=True)
 * users = [r for r in results if not isinstance(r, BaseException)]
 * errors = [(i, r) for i, r in zip(ids, results) if isinstance(r, BaseException)]
 * ```
 */
import { Gather } from "@async-ops/core"
import { Console, Data, Effect, Stream } from "effect"

class NotFound extends Data.TaggedError("NotFound")<{ readonly id: number }> {}
class RateLimited extends Data.TaggedError("RateLimited")<{ readonly retryAfterSeconds: number }> {}

interface User {
  readonly id: number
  readonly name: string
}

const fetchUser = (id: number): Effect.Effect<User, NotFound | RateLimited> =>
  Effect.gen(function*() {
    yield* Effect.sleep(`${60 - 10 * id} millis`) // the later ids answer first
    if (id === 3) return yield* new NotFound({ id })
    if (id === 5) return yield* new RateLimited({ retryAfterSeconds: 2 })
    return { id, name: `user-${id}` }
  })

export const program = Effect.gen(function*() {
  const settled = yield* Gather.settle([1, 2, 3, 4, 5], fetchUser)
  yield* Console.log(`${settled.counts.success} succeeded, ${settled.counts.failure} failed`)

  // successes and failures keep the input and its index; `error` is NotFound | RateLimited, not unknown.
  for (const ok of settled.successes) {
    yield* Console.log(`ok   #${ok.index} id=${ok.input}: ${ok.value.name}`)
  }
  for (const failed of settled.failures) {
    const why = failed.error._tag === "NotFound"
      ? "no such user"
      : `rate limited, retry in ${failed.error.retryAfterSeconds} s`
    yield* Console.log(`fail #${failed.index} id=${failed.input}: ${why}`)
  }

  // Or walk every outcome in input order (whatever order they finished in).
  yield* Console.log(`in input order: ${settled.outcomes.map((o) => `${o.input} ${o._tag}`).join(", ")}`)

  // asyncio.as_completed: the same outcomes as a Stream, in the order they finish.
  const byCompletion = yield* Gather.asCompleted([1, 2, 3, 4, 5], fetchUser).pipe(
    Stream.map((o) => `${o.input} ${o._tag}`),
    Stream.runCollect
  )
  yield* Console.log(`as completed:   ${byCompletion.join(", ")}`)
})
