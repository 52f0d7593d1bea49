/** @internal */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import * as Result from "effect/Result"
import type { Hedger, Options, Stats } from "../Hedge.ts"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import { percentile } from "../Metrics.ts"
import * as metrics from "./metrics.ts"
import type { BudgetImpl } from "./retryBudget.ts"

const module = "Hedge.make"

/** @internal */
export class HedgerImpl implements Hedger {
  readonly name: string
  readonly instruments: metrics.Instruments | undefined
  readonly budget: BudgetImpl | undefined
  readonly maxExtra: number
  private readonly fixedDelay: number
  private readonly percentile: number | undefined
  private readonly minSamples: number
  /** Latency samples in milliseconds: a ring of the last `window` attempts. */
  private readonly samples: Float64Array
  private sampleCount = 0
  private sampleNext = 0
  private cachedDelay: number
  /** Samples recorded since the percentile was last computed; it is recomputed every `refresh` samples. */
  private fresh = 0
  private computed = false
  private readonly refresh: number
  calls = 0
  inFlight = 0
  attempts = 0
  hedges = 0
  won = 0
  rejected = 0

  constructor(config: {
    readonly name: string
    readonly instruments: metrics.Instruments | undefined
    readonly budget: BudgetImpl | undefined
    readonly maxExtra: number
    /** The fixed hedge delay (ms), also the delay until the window holds `minSamples`. */
    readonly fixedDelay: number
    readonly percentile: number | undefined
    /** The number of latency samples kept. */
    readonly window: number
    readonly minSamples: number
  }) {
    const { budget, fixedDelay, instruments, maxExtra, minSamples, name, percentile, window } = config
    this.name = name
    this.instruments = instruments
    this.budget = budget
    this.maxExtra = maxExtra
    this.fixedDelay = fixedDelay
    this.percentile = percentile
    this.minSamples = minSamples
    this.samples = new Float64Array(window)
    this.refresh = Math.max(1, Math.floor(window / 10))
    this.cachedDelay = fixedDelay
  }

  /** Records how long an attempt ran (its latency if it succeeded; a lower bound if it lost and was interrupted). */
  record(millis: number): void {
    if (this.percentile === undefined) return
    this.samples[this.sampleNext] = millis
    this.sampleNext = (this.sampleNext + 1) % this.samples.length
    if (this.sampleCount < this.samples.length) this.sampleCount++
    this.fresh++
  }

  /**
   * The hedge delay now: the fixed delay, or the percentile of the window once it holds `minSamples`, recomputed
   * every tenth of a window (sorting the window on every call would cost more than the call).
   */
  delayMillis(): number {
    if (
      this.percentile === undefined || this.sampleCount < this.minSamples ||
      (this.computed && this.fresh < this.refresh)
    ) return this.cachedDelay
    this.fresh = 0
    this.computed = true
    // the window holds at least minSamples >= 1 samples: never empty
    this.cachedDelay = percentile(this.samples.subarray(0, this.sampleCount).toSorted(), this.percentile)!
    return this.cachedDelay
  }

  attemptStarted(): void {
    this.attempts++
    this.instruments?.setInFlight(this.attempts)
  }

  attemptEnded(): void {
    this.attempts--
    this.instruments?.setInFlight(this.attempts)
  }

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    name: this.name,
    calls: this.calls,
    inFlight: this.inFlight,
    attempts: this.attempts,
    hedges: this.hedges,
    hedgesWon: this.won,
    hedgesRejected: this.rejected,
    delay: Duration.millis(this.delayMillis())
  }))

  // An arrow function, so `hedger.run` can be passed around point-free.
  readonly run = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiber((parent) =>
      Effect.uninterruptibleMask((restore) => {
        const call = new Call<A, E>(
          this,
          self as Effect.Effect<A, E>,
          parent.context as Context.Context<never>,
          parent.getRef(Clock.Clock)
        )
        const fast = call.begin()
        if (fast !== undefined) return fast
        return Effect.onInterrupt(
          Effect.flatten(restore(Effect.callback<Effect.Effect<A, E>>((resume) => call.register(resume)))),
          () => call.cancel()
        )
      })
    )
}

/** One hedged call: its attempts (the first and the hedges), the timer that starts the hedges, and its outcome. */
class Call<A, E> {
  private readonly hedger: HedgerImpl
  private readonly self: Effect.Effect<A, E>
  private readonly context: Context.Context<never>
  private readonly clock: Clock.Clock
  private readonly fibers: Array<Fiber.Fiber<A, E> | undefined> = []
  private readonly startedAt: Array<number> = []
  private timer: Fiber.Fiber<void> | undefined = undefined
  private running = 0
  private settled = false
  private ended = false
  private firstFailure: Cause.Cause<E> | undefined = undefined
  /** The fibers interrupted when the call was decided, which the caller waits for. */
  private pending: Array<Fiber.Fiber<unknown, unknown>> = []
  private outcome: Effect.Effect<A, E> | undefined = undefined
  private resume: ((effect: Effect.Effect<Effect.Effect<A, E>>) => void) | undefined = undefined

  constructor(hedger: HedgerImpl, self: Effect.Effect<A, E>, context: Context.Context<never>, clock: Clock.Clock) {
    this.hedger = hedger
    this.self = self
    this.context = context
    this.clock = clock
  }

  /** Starts the first attempt; returns its exit at once if it finished without suspending (no timer needed). */
  begin(): Effect.Effect<A, E> | undefined {
    const hedger = this.hedger
    hedger.calls++
    hedger.inFlight++
    hedger.budget?.depositUnsafe()
    const delay = hedger.delayMillis()
    this.launch()
    if (this.outcome !== undefined) return this.take()
    if (hedger.maxExtra > 0 && delay !== Number.POSITIVE_INFINITY) {
      this.timer = Effect.runForkWith(this.context)(this.hedges(delay, 1))
    }
    return undefined
  }

  /** The timer: after each `delay`, start one more attempt while the call is undecided and the budget allows. */
  private hedges(delay: number, k: number): Effect.Effect<void> {
    return Effect.flatMap(this.clock.sleep(Duration.millis(delay)), () =>
      Effect.suspend(() => {
        if (this.settled) return Effect.void
        const hedger = this.hedger
        if (hedger.budget !== undefined && !hedger.budget.tryWithdrawUnsafe()) {
          hedger.rejected++
          hedger.instruments?.addRejected()
          return Effect.void
        }
        hedger.hedges++
        hedger.instruments?.addAcquired()
        this.launch()
        return k < hedger.maxExtra && !this.settled ? this.hedges(delay, k + 1) : Effect.void
      }))
  }

  private launch(): void {
    const index = this.fibers.length
    this.startedAt.push(this.clock.currentTimeMillisUnsafe())
    this.fibers.push(undefined)
    this.running++
    this.hedger.attemptStarted()
    const fiber = Effect.runForkWith(this.context)(this.self)
    // An attempt that finished synchronously is observed at once by addObserver; only a running one is kept.
    if (fiber.pollUnsafe() === undefined) this.fibers[index] = fiber
    fiber.addObserver((exit) => this.onExit(index, exit))
  }

  private onExit(index: number, exit: Exit.Exit<A, E>): void {
    this.fibers[index] = undefined
    this.running--
    const hedger = this.hedger
    hedger.attemptEnded()
    if (this.settled) return
    if (exit._tag === "Success") {
      hedger.record(this.clock.currentTimeMillisUnsafe() - this.startedAt[index]!)
      if (index > 0) hedger.won++
      return this.settle(exit)
    }
    // A defect is a bug: it ends the call at once rather than wait for a sibling to hide it.
    if (Cause.hasDies(exit.cause)) return this.settle(exit)
    this.firstFailure ??= exit.cause
    if (this.running === 0) this.settle(Effect.failCause(this.firstFailure))
  }

  /** Decides the call: stops the timer and the other attempts; the caller waits for them to end before it returns. */
  private settle(result: Effect.Effect<A, E>): void {
    this.settled = true
    const pending = (this.pending = this.stopAll())
    this.outcome = pending.length === 0 ? result : Effect.andThen(awaitLosers(pending), result)
    if (this.resume !== undefined) this.resume(Effect.succeed(this.take()))
  }

  /** Interrupts the timer and every running attempt (recording how long the losers ran); returns them. */
  private stopAll(): Array<Fiber.Fiber<unknown, unknown>> {
    const pending: Array<Fiber.Fiber<unknown, unknown>> = []
    const now = this.clock.currentTimeMillisUnsafe()
    if (this.timer !== undefined && this.timer.pollUnsafe() === undefined) pending.push(this.timer)
    for (let i = 0; i < this.fibers.length; i++) {
      const fiber = this.fibers[i]
      if (fiber !== undefined) {
        this.hedger.record(now - this.startedAt[i]!)
        pending.push(fiber)
      }
    }
    for (const fiber of pending) fiber.interruptUnsafe()
    return pending
  }

  /** The outcome, once: the call has ended for the hedger's counters. */
  private take(): Effect.Effect<A, E> {
    if (!this.ended) {
      this.ended = true
      this.hedger.inFlight--
    }
    return this.outcome!
  }

  register(resume: (effect: Effect.Effect<Effect.Effect<A, E>>) => void): void {
    if (this.outcome !== undefined) return resume(Effect.succeed(this.take()))
    this.resume = resume
  }

  /**
   * The caller was interrupted while waiting (or as the outcome reached it): stop everything that still runs and
   * wait for it to end, so no attempt outlives the call.
   */
  cancel(): Effect.Effect<void> {
    this.resume = undefined
    if (!this.settled) {
      this.settled = true
      this.pending = this.stopAll()
    }
    if (!this.ended) {
      this.ended = true
      this.hedger.inFlight--
    }
    return this.pending.length === 0 ? Effect.void : awaitLosers(this.pending)
  }
}

/** Waits for interrupted attempts to end; a defect in their cleanup is not hidden (the call dies with it). */
const awaitLosers = (fibers: Array<Fiber.Fiber<unknown, unknown>>): Effect.Effect<void> =>
  Effect.flatMap(Fiber.awaitAll(fibers), (exits) => {
    let dies: Array<Cause.Reason<never>> | undefined
    for (const exit of exits) {
      if (exit._tag === "Failure") {
        for (const reason of exit.cause.reasons) {
          if (Cause.isDieReason(reason)) (dies ??= []).push(reason)
        }
      }
    }
    return dies === undefined ? Effect.void : Effect.failCause(Cause.fromReasons(dies))
  })

/** @internal */
export const isHedger = (u: unknown): u is Hedger => u instanceof HedgerImpl

/** @internal */
export const make = (options?: Options): Effect.Effect<Hedger, InvalidOptionError> =>
  Effect.suspend(() => {
    const window = options?.window ?? 100
    const checked = Result.all([
      options?.delay === undefined
        ? Result.succeed(Duration.millis(50))
        : InvalidOption.duration(module, "delay", options.delay),
      InvalidOption.int(module, "maxExtra", options?.maxExtra ?? 1, { min: 0 }),
      options?.percentile === undefined
        ? Result.succeed(undefined)
        : InvalidOption.number(module, "percentile", options.percentile, { min: 0, exclusiveMin: true, max: 100 }),
      InvalidOption.int(module, "window", window, { min: 1 }),
      // After window, so a bad window is the one reported.
      InvalidOption.int(module, "minSamples", options?.minSamples ?? Math.min(10, window), { min: 1, max: window })
    ])
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const [delayDuration, maxExtra, percentile, , minSamples] = checked.success
    const delay = Duration.toMillis(delayDuration)
    return Effect.map(
      metrics.make("Hedge", options),
      (instruments) =>
        new HedgerImpl({
          name: options?.name ?? "Hedge",
          instruments,
          budget: options?.budget as BudgetImpl | undefined,
          maxExtra,
          fixedDelay: delay,
          percentile,
          window,
          minSamples
        })
    )
  })

/** @internal */
export const run: {
  (hedger: Hedger): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, hedger: Hedger): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, hedger: Hedger): Effect.Effect<A, E, R> => hedger.run(self)
)
