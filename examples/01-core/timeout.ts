/**
 * Replaces Python's `async with asyncio.timeout(5.0): result = await slow_operation()` with
 * `except TimeoutError: result = None` (the seed's Pattern 4), trio's `move_on_after`: `Deadline.moveOnAfter`
 * interrupts the work when its deadline passes, runs its cleanup and returns `None`, turned into a default here.
 * `Deadline.within` fails with a typed `DeadlineExceededError` instead. Deadlines nest (the earlier one wins), the
 * expiry is reported by the scope whose deadline passed (a move-on inside a shorter deadline does not swallow it),
 * and `Deadline.remaining` tells the work how much time it has left.
 */
import { Deadline } from "@async-ops/core"
import { Console, Duration, Effect, Option } from "effect"

const slowOperation = (took: Duration.Input) =>
  Effect.sleep(took).pipe(
    Effect.as("fresh data"),
    Effect.onInterrupt(() => Console.log("slow operation interrupted, its cleanup ran"))
  )

const showRemaining = Deadline.remaining.pipe(
  Effect.map(Option.match({ onNone: () => "no deadline", onSome: Duration.format }))
)

export const program = Effect.gen(function*() {
  yield* Console.log("-- a 300 ms operation under a 100 ms deadline falls back to a default")
  const late = yield* slowOperation("300 millis").pipe(
    Deadline.moveOnAfter("100 millis"),
    Effect.map(Option.getOrElse(() => "default"))
  )
  yield* Console.log(`result: ${late}`)

  yield* Console.log("-- a 50 ms operation under the same deadline keeps its result")
  const early = yield* slowOperation("50 millis").pipe(
    Deadline.moveOnAfter("100 millis"),
    Effect.map(Option.getOrElse(() => "default"))
  )
  yield* Console.log(`result: ${early}`)

  yield* Console.log("-- nested: an inner 1 s deadline inside an outer 200 ms one")
  yield* Console.log(`outside any deadline: ${yield* showRemaining}`)
  const nested = yield* Effect.gen(function*() {
    yield* Console.log(`remaining inside the inner deadline: ${yield* showRemaining}`)
    yield* Effect.sleep("50 millis")
    yield* Console.log(`after 50 ms of work: ${yield* showRemaining}`)
    return yield* slowOperation("1 second")
  }).pipe(
    Deadline.within("1 second"),
    Deadline.within("200 millis"),
    Effect.catchTag(
      "DeadlineExceededError",
      (e) =>
        Effect.succeed(
          `the outer deadline expired (budget ${e.budget === undefined ? "none" : Duration.format(e.budget)})`
        )
    )
  )
  yield* Console.log(`result: ${nested}`)

  yield* Console.log("-- a 1 s move-on inside a 100 ms deadline: the outer deadline fails, the move-on cannot hide it")
  const outer = yield* slowOperation("1 second").pipe(
    Deadline.moveOnAfter("1 second"),
    Effect.map(Option.getOrElse(() => "default")),
    Deadline.within("100 millis"),
    Effect.catchTag("DeadlineExceededError", (e) => Effect.succeed(`the outer deadline expired at ${e.deadline} ms`))
  )
  yield* Console.log(`result: ${outer}`)
})
