/**
 * Replaces Python's `async with asyncio.TaskGroup() as tg: tg.create_task(process_one(item))` (the seed's
 * Pattern 3): tasks that cannot outlive the block that started them, where the first failure cancels the rest and
 * every failure is reported together (the `ExceptionGroup`); and trio's `nursery.cancel_scope.cancel()` (asyncio
 * 3.15's `tg.cancel()`): stop the whole group early without it counting as a failure.
 */
import { TaskGroup } from "@async-ops/core"
import { Cause, Console, Data, Effect, Option } from "effect"

class ItemFailed extends Data.TaggedError("ItemFailed")<{ readonly item: string }> {}

const processOne = (item: string, ms: number) =>
  Effect.sleep(ms).pipe(
    Effect.andThen(item.startsWith("bad") ? Effect.fail(new ItemFailed({ item })) : Console.log(`processed ${item}`)),
    Effect.onInterrupt(() => Console.log(`cancelled ${item}`))
  )

export const program = Effect.gen(function*() {
  yield* Console.log("-- every task ends before the block does")
  yield* TaskGroup.scoped((tg) =>
    Effect.forEach(
      [["a", 30], ["b", 10], ["c", 20]] as const,
      ([item, ms]) => tg.spawn(processOne(item, ms)),
      { discard: true }
    )
  )
  yield* Console.log("all done")

  yield* Console.log("-- the first failure cancels the siblings")
  const failed = yield* TaskGroup.scoped((tg) =>
    Effect.forEach(
      [["a", 10], ["bad-1", 20], ["slow", 100]] as const,
      ([item, ms]) => tg.spawn(processOne(item, ms)),
      { discard: true }
    )
  ).pipe(Effect.flip)
  yield* Console.log(`group failed: ${failed._tag === "ItemFailed" ? failed.item : failed._tag}`)

  yield* Console.log("-- supervise mode: siblings keep going, every failure is reported at the end")
  const cause = yield* TaskGroup.scoped(
    (tg) =>
      Effect.forEach(
        [["bad-1", 10], ["a", 20], ["bad-2", 30]] as const,
        ([item, ms]) => tg.spawn(processOne(item, ms)),
        { discard: true }
      ),
    { mode: "supervise" }
  ).pipe(Effect.sandbox, Effect.flip)
  const items = cause.reasons.filter(Cause.isFailReason).map((r) => r.error)
    .map((e) => (e._tag === "ItemFailed" ? e.item : e._tag))
  yield* Console.log(`failures: ${items.join(", ")}`)

  yield* Console.log("-- at most 2 at once, in spawn order")
  const stats = yield* TaskGroup.scoped(
    (tg) =>
      Effect.gen(function*() {
        for (const item of ["p", "q", "r", "s"]) yield* tg.spawn(processOne(item, 10))
        return tg
      }),
    { concurrency: 2 }
  ).pipe(Effect.flatMap((tg) => tg.stats))
  yield* Console.log(`peak running: ${stats.peakRunning}, succeeded: ${stats.succeeded}`)

  yield* Console.log("-- cancel: the first mirror to answer wins, the group stops the rest and succeeds")
  const mirrors = [["eu", 30], ["us", 10], ["ap", 20]] as const
  const body = yield* TaskGroup.cancellable((tg) =>
    Effect.gen(function*() {
      for (const [mirror, ms] of mirrors) {
        yield* tg.spawn(
          processOne(mirror, ms).pipe(
            Effect.andThen(Console.log(`${mirror} answered first`)),
            Effect.andThen(tg.cancel)
          )
        )
      }
      return yield* Effect.never // the body waits too, and is interrupted by the cancel
    })
  )
  yield* Console.log(`group cancelled, body returned: ${Option.isSome(body)}`)
})
