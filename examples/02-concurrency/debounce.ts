/**
 * Replaces Python's hand-written `Debouncer` (one asyncio timer handle that every call cancels and re-arms with
 * `loop.call_later(wait, ...)`) with `Debounce.make`: of a burst of calls only the last one runs, once the burst
 * has been quiet for `wait`; every replaced call is told so with a typed `DebounceSupersededError`.
 */
import { Debounce } from "@async-ops/core"
import { Clock, Console, Effect } from "effect"

/** A search box: the user types `to` after `from`, one keystroke every `every` ms, starting at `at` ms. */
const keystrokes = (from: string, to: string, at: number, every: number) =>
  Array.from({ length: to.length - from.length }, (_, i) => ({
    query: to.slice(0, from.length + i + 1),
    at: at + i * every
  }))

const typing = (options: Debounce.Options, keys: ReadonlyArray<{ readonly query: string; readonly at: number }>) =>
  Effect.scoped(Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    // virtual time in tests; on a real clock, rounded to 10 ms so the timer's jitter does not show
    const elapsed = Effect.map(Clock.currentTimeMillis, (t) => Math.round((t - t0) / 10) * 10)
    const search = yield* Debounce.make(
      (query: string) => Effect.flatMap(elapsed, (t) => Console.log(`t=${t}ms search("${query}")`)),
      options
    )
    let superseded = 0
    yield* Effect.forEach(
      keys,
      ({ at, query }) =>
        Effect.sleep(at).pipe(
          Effect.andThen(search(query)),
          Effect.catchTag("DebounceSupersededError", () => Effect.sync(() => superseded++))
        ),
      { concurrency: "unbounded", discard: true }
    )
    const stats = yield* search.stats
    yield* Console.log(`${stats.calls} keystrokes, ${stats.runs} searches, ${superseded} superseded`)
  }))

export const program = Effect.gen(function*() {
  yield* Console.log("-- two bursts of typing: only the last keystroke of each burst searches, 50 ms after it")
  yield* typing({ wait: "50 millis" }, [...keystrokes("", "eff", 0, 10), ...keystrokes("eff", "effect", 120, 10)])

  yield* Console.log("-- steady typing with maxWait: a search at least every 100 ms, with the latest text")
  yield* typing({ wait: "50 millis", maxWait: "100 millis" }, keystrokes("", "concurrent", 0, 30))
})
