/**
 * Replaces the seed's partial-failure handling, `results = await asyncio.gather(*tasks, return_exceptions=True)`
 * then splitting `results` into successes and exceptions (and raising once more than `max_failures` failed), with
 * `Gather.settle`: typed outcomes per input, the successes and failures with their inputs, and `maxFailures` to stop
 * the batch early, interrupting what still runs and skipping what has not started.
 */
import { Gather } from "@async-ops/core"
import { Console, Data, Effect } from "effect"

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{ readonly order: string }> {}
class OutOfStock extends Data.TaggedError("OutOfStock")<{ readonly sku: string }> {}

/** Processing an order takes `ms`; orders named "declined-*" or "oos-*" fail. */
const processOrder = ([order, ms]: readonly [string, number]): Effect.Effect<string, PaymentDeclined | OutOfStock> =>
  Effect.gen(function*() {
    yield* Effect.sleep(ms)
    if (order.startsWith("declined")) return yield* new PaymentDeclined({ order })
    if (order.startsWith("oos")) return yield* new OutOfStock({ sku: order.slice(4) })
    return `${order} shipped`
  }).pipe(Effect.onInterrupt(() => Console.log(`  ${order}: interrupted`)))

const why = (e: PaymentDeclined | OutOfStock): string =>
  e._tag === "PaymentDeclined" ? `payment declined for ${e.order}` : `out of stock: ${e.sku}`

const orders = [
  ["o-1", 10],
  ["declined-2", 20],
  ["o-3", 30],
  ["oos-sku9", 40],
  ["o-5", 50],
  ["o-6", 60]
] as const

export const program = Effect.gen(function*() {
  yield* Console.log("-- every order runs; the batch reports what worked and what did not")
  const all = yield* Gather.settle(orders, processOrder)
  for (const ok of all.successes) yield* Console.log(`ok   #${ok.index}: ${ok.value}`)
  for (const failed of all.failures) yield* Console.log(`fail #${failed.index}: ${why(failed.error)}`)
  yield* Console.log(`${all.counts.success} succeeded, ${all.counts.failure} failed`)

  yield* Console.log("-- maxFailures 2, 3 at a time: the second failure stops the batch")
  const stopped = yield* Gather.settle(
    [["declined-1", 10], ["o-2", 100], ["oos-sku3", 20], ["o-4", 5], ["o-5", 10], ["o-6", 10]] as const,
    processOrder,
    { maxFailures: 2, concurrency: 3 }
  )
  yield* Console.log(stopped.outcomes.map((o) => `${o.input[0]}: ${o._tag}`).join(", "))
  const { counts } = stopped
  yield* Console.log(
    `${counts.success} succeeded, ${counts.failure} failed, ${counts.interrupted} interrupted, ${counts.notRun} not run`
  )
})
