/** @internal */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type { ConcurrencyProbe, Span, Stats } from "../ConcurrencyProbe.ts"

interface MutableSpan {
  label: string
  start: number
  end: number | undefined
  outcome: Span["outcome"]
}

interface Waiter {
  readonly ready: () => boolean
  readonly wake: () => void
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Span["outcome"] => {
  if (exit._tag === "Success") return "success"
  return Cause.hasInterruptsOnly(exit.cause)
    ? "interrupted"
    : "failure"
}

/** @internal */
export const make = (now: Effect.Effect<number>): ConcurrencyProbe => {
  let current = 0
  let peak = 0
  let started = 0
  let ended = 0
  const spans: Array<MutableSpan> = []
  let waiters: Array<Waiter> = []

  const notify = () => {
    if (waiters.length === 0) return
    const still: Array<Waiter> = []
    for (const w of waiters) {
      if (w.ready()) w.wake()
      else still.push(w)
    }
    waiters = still
  }

  const awaitUntil = (ready: () => boolean): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (ready()) return Effect.void
      return Effect.callback<void>((resume) => {
        const waiter: Waiter = { ready, wake: () => resume(Effect.void) }
        waiters.push(waiter)
        return Effect.sync(() => {
          waiters = waiters.filter((w) => w !== waiter)
        })
      })
    })

  const track = <A, E, R>(effect: Effect.Effect<A, E, R>, label?: string): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(now, (start) => {
        const span: MutableSpan = { label: label ?? String(started), start, end: undefined, outcome: "running" }
        spans.push(span)
        started++
        current++
        if (current > peak) peak = current
        notify()
        return Effect.onExit(restore(effect), (exit) =>
          Effect.map(now, (end) => {
            span.end = end
            span.outcome = outcomeOf(exit)
            current--
            ended++
            notify()
          }))
      })
    )

  return {
    track,
    stats: Effect.sync((): Stats => ({ current, peak, started, ended })),
    timeline: Effect.sync((): ReadonlyArray<Span> => spans.map((s) => ({ ...s }))),
    awaitCurrent: (n) => awaitUntil(() => current >= n),
    awaitEnded: (n) => awaitUntil(() => ended >= n)
  }
}
