/** @internal */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import type { Debounced, Options, Stats } from "../Debounce.ts"
import { DebounceClosedError, DebounceSupersededError } from "../Debounce.ts"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import * as Metrics from "./metrics.ts"

const MODULE = "Debounce.make"

const WAITING = 0
/** Told to run. */
const GRANTED = 1
/** Superseded, closed, or interrupted while waiting. */
const DONE = 2

/** One call parked until it runs, is superseded, or the debouncer closes. */
class Call {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly args: ReadonlyArray<unknown>
  state: typeof WAITING | typeof GRANTED | typeof DONE = WAITING
  outcome: Effect.Effect<void, DebounceSupersededError | DebounceClosedError> | undefined = undefined
  private resume: ((effect: Effect.Effect<void, DebounceSupersededError | DebounceClosedError>) => void) | undefined =
    undefined
  readonly await: Effect.Effect<void, DebounceSupersededError | DebounceClosedError>

  constructor(fiber: Fiber.Fiber<unknown, unknown>, args: ReadonlyArray<unknown>) {
    this.fiber = fiber
    this.args = args
    this.await = Effect.callback((resume) => {
      if (this.outcome !== undefined) resume(this.outcome)
      else this.resume = resume
    })
  }

  /**
   * A refusal (superseded, closed) is delivered at once, as `Deferred` does: the caller's fiber ends right away
   * instead of a scheduler turn later (100k superseded calls: about 140 ms instead of 960 ms). It is only called
   * once the debouncer's state is final. Nesting stays shallow: a refused caller that calls again at once
   * supersedes the call that refused it, which has not started waiting yet, so that one is not resumed inside.
   * The grant to run is always deferred to the caller's next turn, so `f` never runs inside the timer's fiber.
   */
  complete(outcome: Effect.Effect<void, DebounceSupersededError | DebounceClosedError>, granted: boolean): void {
    this.state = granted ? GRANTED : DONE
    this.outcome = outcome
    if (granted) this.fiber.currentDispatcher.scheduleTask(this.wake, 0)
    else this.wake()
  }

  private readonly wake = (): void => {
    const resume = this.resume
    this.resume = undefined
    if (resume !== undefined && this.outcome !== undefined) resume(this.outcome)
  }
}

/**
 * A trailing-edge debouncer (lodash semantics, `leading: false, trailing: true`). The latest call is `pending`;
 * a new call supersedes it. One timer fiber per burst sleeps until the pending call is due, re-reading the deadline
 * each time it wakes (later calls only move it later), then hands the run to the pending caller, which runs `f`
 * in its own fiber.
 *
 * The deadline is `min(lastCall + wait, anchor + maxWait)`. `anchor` is fixed for a burst (while the timer runs):
 * the start of the burst, or the time of the previous run when calls never paused for `wait` since it (and it is
 * less than `maxWait` ago). So a steady stream of calls runs every `maxWait`, as lodash does.
 */
class DebouncerImpl {
  readonly name: string
  readonly f: (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>
  readonly wait: number
  readonly maxWait: number
  readonly scope: Scope.Scope
  readonly instruments: Metrics.Instruments | undefined
  closed = false
  pending: Call | undefined = undefined
  timerActive = false
  anchor = 0
  lastCallTime: number | undefined = undefined
  lastRunTime: number | undefined = undefined
  calls = 0
  runs = 0
  superseded = 0
  cancelled = 0
  running = 0
  /** Shared by every superseded call: an error carries only the debouncer's name, and a stack trace per call is waste. */
  private readonly supersededOutcome: Effect.Effect<never, DebounceSupersededError>

  constructor(
    name: string,
    f: (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>,
    wait: number,
    maxWait: number,
    scope: Scope.Scope,
    instruments: Metrics.Instruments | undefined
  ) {
    this.name = name
    this.f = f
    this.wait = wait
    this.maxWait = maxWait
    this.scope = scope
    this.instruments = instruments
    this.supersededOutcome = Effect.fail(new DebounceSupersededError({ name }))
  }

  private deadline(): number {
    const quiet = this.lastCallTime! + this.wait
    const max = this.anchor + this.maxWait
    return quiet < max ? quiet : max
  }

  private setPending(call: Call | undefined): void {
    this.pending = call
    this.instruments?.setWaiting(call === undefined ? 0 : 1)
  }

  /** Hands the run to the pending caller. */
  private fire(now: number): boolean {
    const call = this.pending
    if (call === undefined) return false
    this.lastRunTime = now
    this.anchor = now
    this.setPending(undefined)
    call.complete(Effect.void, true)
    return true
  }

  private readonly timer: Effect.Effect<void> = Effect.suspend(() => {
    if (this.pending === undefined || this.closed) {
      this.timerActive = false
      return Effect.void
    }
    return Effect.clockWith((clock) => {
      const now = clock.currentTimeMillisUnsafe()
      const deadline = this.deadline()
      if (now >= deadline) {
        this.timerActive = false
        this.fire(now)
        return Effect.void
      }
      return Effect.flatMap(Effect.sleep(deadline - now), () => this.timer)
    })
  })

  /** The wait of a call ended with a failure: superseded or closed (nothing to do), or interrupted. */
  private abandon(call: Call): void {
    if (call.state === WAITING) {
      // The last caller was interrupted before its run: nobody is waiting for it, the run is cancelled. The
      // timer finds nothing pending and ends.
      if (this.pending === call) this.setPending(undefined)
      call.state = DONE
      this.cancelled++
    } else if (call.state === GRANTED) {
      // Granted, then interrupted before it started running: the same.
      this.cancelled++
    }
  }

  private readonly endRun = (_: Exit.Exit<unknown, unknown>): undefined => {
    this.running--
    this.instruments?.setInFlight(this.running)
    return undefined
  }

  readonly call = (...args: ReadonlyArray<unknown>): Effect.Effect<unknown, unknown, unknown> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiber((fiber) => {
        if (this.closed) return Effect.fail(new DebounceClosedError({ name: this.name }))
        const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
        this.calls++
        const previous = this.pending
        if (!this.timerActive) {
          // A new burst.
          const continues = this.lastRunTime !== undefined && this.lastCallTime !== undefined &&
            now - this.lastCallTime < this.wait && now - this.lastRunTime < this.maxWait
          this.anchor = continues ? this.lastRunTime! : now
        }
        this.lastCallTime = now
        const call = new Call(fiber, args)
        this.setPending(call)
        const startTimer = !this.timerActive
        this.timerActive = true
        if (previous !== undefined) {
          // Answered now that the state is final: its fiber may resume at once and even call again.
          this.superseded++
          this.instruments?.addRejected()
          previous.complete(this.supersededOutcome, false)
        }
        const waited = Effect.onExitPrimitive(restore(call.await), (exit) => {
          if (exit._tag === "Failure") this.abandon(call)
          return undefined
        }, true)
        const run = Effect.flatMap(waited, () => {
          this.runs++
          this.running++
          this.instruments?.addAcquired()
          this.instruments?.setInFlight(this.running)
          return Effect.onExitPrimitive(restore(this.f(...call.args)), this.endRun, true)
        })
        return startTimer ? Effect.andThen(Effect.forkIn(this.timer, this.scope), run) : run
      })
    )

  readonly flush: Effect.Effect<boolean> = Effect.clockWith((clock) =>
    Effect.sync(() => this.fire(clock.currentTimeMillisUnsafe()))
  )

  readonly close: Effect.Effect<void> = Effect.sync(() => {
    this.closed = true
    const call = this.pending
    if (call !== undefined) {
      this.setPending(undefined)
      call.complete(Effect.fail(new DebounceClosedError({ name: this.name })), false)
    }
  })

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    name: this.name,
    pending: this.pending !== undefined,
    running: this.running,
    calls: this.calls,
    runs: this.runs,
    superseded: this.superseded,
    cancelled: this.cancelled
  }))
}

/** The debounced functions {@link make} returned (a function cannot be told apart by its class). */
const made = new WeakSet<object>()

/** @internal */
export const isDebounced = (u: unknown): u is Debounced<Array<never>, unknown, unknown, unknown> =>
  typeof u === "function" && made.has(u)

/** @internal */
export const make = <Args extends ReadonlyArray<unknown>, A, E, R>(
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options: Options
): Effect.Effect<Debounced<Args, A, E, R>, InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const wait = yield* Effect.fromResult(InvalidOption.duration(MODULE, "wait", options.wait, { finite: true }))
    const waitMillis = Duration.toMillis(wait)
    // No maxWait: no limit. One shorter than wait fails with the bound in the message: "a duration >= 20 ms".
    const maxWait = options.maxWait === undefined
      ? undefined
      : yield* Effect.fromResult(InvalidOption.duration(MODULE, "maxWait", options.maxWait, { min: waitMillis }))
    const instruments = yield* Metrics.make("Debounce", options)
    const outer = yield* Effect.scope
    // The timer fibers live in a scope of their own, closed after `close` has failed the pending caller.
    const timers = yield* Scope.fork(outer)
    const impl = new DebouncerImpl(
      options.name ?? "Debounce",
      f as (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown, unknown>,
      waitMillis,
      maxWait === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(maxWait),
      timers,
      instruments
    )
    yield* Scope.addFinalizer(outer, impl.close)
    const debounced = ((...args: Args) => impl.call(...args)) as Debounced<Args, A, E, R>
    // A function's own `name` is read-only but configurable: define it, with the other members.
    made.add(debounced)
    return Object.defineProperties(debounced, {
      name: { value: impl.name },
      flush: { value: impl.flush },
      stats: { value: impl.stats }
    })
  })
