/** @internal */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scheduler from "effect/Scheduler"
import type * as TestClock from "effect/testing/TestClock"
import type { AutojumpOptions } from "../VirtualTime.ts"
import { AutojumpLimitError, AutojumpStalledError } from "../VirtualTime.ts"

const isTestClock = (clock: Clock.Clock): clock is TestClock.TestClock =>
  "setTime" in clock && "adjust" in clock && "withLive" in clock

/**
 * Pending sleeps of the watched fibers, by wake-up time (a multiset).
 */
class SleepSet {
  private readonly counts = new Map<number, number>()
  add(at: number): void {
    this.counts.set(at, (this.counts.get(at) ?? 0) + 1)
  }
  remove(at: number): void {
    const n = this.counts.get(at)
    if (n === undefined) return
    if (n <= 1) this.counts.delete(at)
    else this.counts.set(at, n - 1)
  }
  next(): number | undefined {
    let min: number | undefined
    for (const at of this.counts.keys()) if (min === undefined || at < min) min = at
    return min
  }
}

/**
 * A Scheduler that counts the tasks scheduled by the watched fibers and not yet run, so the runner knows when all
 * of them are idle (suspended on something).
 */
class IdleTracker {
  pending = 0
  /** Tasks run so far: a change means the watched fibers made progress. */
  ran = 0
  private onIdle: (() => void) | undefined = undefined
  readonly scheduler: Scheduler.Scheduler
  constructor(parent: Scheduler.Scheduler) {
    this.scheduler = {
      executionMode: parent.executionMode,
      shouldYield: (fiber) => parent.shouldYield(fiber),
      makeDispatcher: () => this.makeDispatcher(parent)
    }
  }
  private makeDispatcher(parent: Scheduler.Scheduler): Scheduler.SchedulerDispatcher {
    const dispatcher = parent.makeDispatcher()
    return {
      scheduleTask: (task, priority) => {
        this.pending++
        dispatcher.scheduleTask(() => {
          try {
            task()
          } finally {
            this.ran++
            this.pending--
            if (this.pending === 0) this.fireIdle()
          }
        }, priority)
      },
      flush: () => dispatcher.flush()
    }
  }
  private fireIdle(): void {
    const f = this.onIdle
    this.onIdle = undefined
    f?.()
  }
  readonly awaitIdle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.pending === 0) return resume(Effect.void)
    this.onIdle = () => resume(Effect.void)
    return Effect.sync(() => {
      this.onIdle = undefined
    })
  })
}

/** @internal */
export const autojump = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: AutojumpOptions
): Effect.Effect<A, E | AutojumpStalledError | AutojumpLimitError, R> =>
  Effect.gen(function*() {
    const clock = yield* Clock.clockWith(Effect.succeed)
    if (!isTestClock(clock)) {
      return yield* Effect.die(new Error("VirtualTime.autojump needs a TestClock in context (it.effect provides one)"))
    }
    const maxJumps = options?.maxJumps ?? 1_000_000
    const stallMillis = Duration.toMillis(Duration.fromInputUnsafe(options?.stallTimeout ?? "2 seconds"))
    const sleeps = new SleepSet()
    const recording: TestClock.TestClock = {
      currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
      currentTimeMillis: clock.currentTimeMillis,
      currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
      currentTimeNanos: clock.currentTimeNanos,
      monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
      monotonicTimeNanos: clock.monotonicTimeNanos,
      adjust: (d) => clock.adjust(d),
      setTime: (t) => clock.setTime(t),
      withLive: (eff) => clock.withLive(eff),
      sleep: (duration) =>
        Effect.suspend(() => {
          const at = clock.currentTimeMillisUnsafe() + Duration.toMillis(duration)
          if (!(at > clock.currentTimeMillisUnsafe())) return clock.sleep(duration)
          sleeps.add(at)
          return Effect.ensuring(clock.sleep(duration), Effect.sync(() => sleeps.remove(at)))
        })
    }
    const tracker = new IdleTracker(yield* Scheduler.Scheduler)
    const context = yield* Effect.context<R>()
    const watched = Context.add(Context.add(context, Clock.Clock, recording), Scheduler.Scheduler, tracker.scheduler)
    const fiber = Effect.runForkWith(watched)(effect)

    const loop = Effect.gen(function*() {
      let jumps = 0
      let stalledSince: number | undefined
      let lastRan = -1
      while (true) {
        yield* tracker.awaitIdle
        if (fiber.pollUnsafe() !== undefined) return
        const next = sleeps.next()
        if (next !== undefined) {
          stalledSince = undefined
          if (jumps >= maxJumps) {
            return yield* new AutojumpLimitError({ at: clock.currentTimeMillisUnsafe(), jumps })
          }
          jumps++
          yield* clock.setTime(next)
          continue
        }
        // Nothing runnable and nothing asleep: blocked on something outside (I/O) or deadlocked. Poll on real
        // time until the fiber moves again or the stall budget is spent.
        const realNow = yield* clock.withLive(Clock.currentTimeMillis)
        if (tracker.ran !== lastRan) {
          lastRan = tracker.ran
          stalledSince = realNow
        }
        stalledSince ??= realNow
        if (realNow - stalledSince >= stallMillis) {
          return yield* new AutojumpStalledError({ at: clock.currentTimeMillisUnsafe(), jumps })
        }
        yield* clock.withLive(Effect.sleep(1))
      }
    })

    return yield* loop.pipe(
      Effect.onExit((exit) => exit._tag === "Failure" ? Fiber.interrupt(fiber) : Effect.void),
      Effect.andThen(Fiber.join(fiber))
    )
  })
