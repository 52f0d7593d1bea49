/**
 * Replaces the seed's memory advice for a flood of work (do not `create_task` for every item up front, bound the
 * queue, do not keep a `defaultdict(asyncio.Semaphore)` that grows with every user ever seen): memory stays bounded
 * by the work in progress, not by the size of the flood. Every size printed here is measured while it runs.
 *
 * ```python
 * tasks = [asyncio.create_task(handle(i)) for i in items]  # one task per item, all at once
 * queue = asyncio.Queue(maxsize=100)                        # bounded: put() waits for room
 * per_user = defaultdict(lambda: asyncio.Semaphore(1))      # one entry per user, forever
 * ```
 */
import { KeyedLimiter, Limiter } from "@async-ops/core"
import { Cause, Console, Effect, Queue, Semaphore } from "effect"

const items = Array.from({ length: 20_000 }, (_, i) => i)

/** Counts the handlers alive now and the most ever alive at once. */
const makeGauge = () => {
  let now = 0
  let peak = 0
  return {
    around: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        now++
        peak = Math.max(peak, now)
        return Effect.ensuring(effect, Effect.sync(() => now--))
      }),
    peak: () => peak
  }
}

export const program = Effect.gen(function*() {
  yield* Console.log("-- one fiber per item, all parked on a limiter of 100 (create_task for everything)")
  const limiter = yield* Limiter.make({ limit: 100 })
  const fibers = makeGauge()
  let parked = 0
  yield* Effect.forEach(
    items,
    () =>
      fibers.around(limiter.withPermit(
        Effect.flatMap(limiter.stats, (s) => Effect.sync(() => (parked = Math.max(parked, s.waiting)))).pipe(
          Effect.andThen(Effect.yieldNow)
        )
      )),
    { concurrency: "unbounded", discard: true }
  )
  yield* Console.log(`${items.length} items: ${fibers.peak()} fibers alive at once, ${parked} parked on the limiter`)

  yield* Console.log("-- a bounded queue of 100 and 100 workers: the producer waits for room (backpressure)")
  const queue = yield* Queue.bounded<number, Cause.Done>(100)
  const workers = makeGauge()
  let peakQueued = 0
  const worker = workers.around(
    Effect.forever(Effect.andThen(Queue.take(queue), Effect.yieldNow)).pipe(
      Effect.catchIf(Cause.isDone, () => Effect.void)
    )
  )
  const producer = Effect.forEach(items, (item) =>
    Queue.offer(queue, item).pipe(
      Effect.andThen(Queue.size(queue)),
      Effect.map((size) => {
        peakQueued = Math.max(peakQueued, size)
      })
    ), { discard: true }).pipe(Effect.andThen(Queue.end(queue)))
  yield* Effect.all([producer, Effect.all(Array.from({ length: 100 }, () => worker), { concurrency: "unbounded" })], {
    concurrency: "unbounded"
  })
  yield* Console.log(`${items.length} items: ${workers.peak()} workers, queue never above ${peakQueued}`)

  yield* Console.log("-- one permit per user: a keyed limiter drops idle users, a Map of semaphores keeps them all")
  const users = 5_000
  const perUser = yield* KeyedLimiter.make<number>({ perKey: 1, global: 50 })
  const naive = new Map<number, Semaphore.Semaphore>()
  let peakKeys = 0
  yield* Effect.forEach(items, (i) => {
    const user = i % users
    if (!naive.has(user)) naive.set(user, Semaphore.makeUnsafe(1))
    return perUser.withPermit(
      user,
      Effect.flatMap(perUser.stats, (s) => Effect.sync(() => (peakKeys = Math.max(peakKeys, s.keys)))).pipe(
        Effect.andThen(Effect.yieldNow)
      )
    )
  }, { concurrency: 200, discard: true })
  const after = yield* perUser.stats
  yield* Console.log(`${users} users, ${items.length} requests at most 200 at once`)
  yield* Console.log(`keyed limiter: at most ${peakKeys} keys in memory, ${after.keys} after the flood`)
  yield* Console.log(`Map of semaphores: ${naive.size} entries after the flood`)
})
