/** @internal */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as InvalidOption from "../InvalidOption.ts"
import type { InvalidOptionError } from "../InvalidOption.ts"
import type { FixedLimiter, Options, Stats } from "../Limiter.ts"
import * as Instruments from "./metrics.ts"
import * as Registry from "./registry.ts"
import { DONE, GRANTED, nowMillis, WAITING } from "./waiter.ts"
import type { Node } from "./waitList.ts"
import { WaitList } from "./waitList.ts"

// ---------------------------------------------------------------------------------------------------------------
// the FIFO admission core
// ---------------------------------------------------------------------------------------------------------------

const isGranted = (exit: Exit.Exit<boolean>): boolean => exit._tag === "Success" && exit.value

/**
 * One fiber parked on a {@link LimiterCore}. One small object per waiter (with its list node): the wait is the
 * fiber's largest cost beyond the fiber itself when every task parks on the limiter (W2), so it allocates no
 * closure of its own and is woken by its core's batched flush.
 */
class Parked {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  node: Node<Parked> | undefined = undefined
  state: typeof WAITING | typeof GRANTED | typeof DONE = WAITING
  /** When the wait began, in milliseconds on the fiber's clock (read only when metrics are on). */
  since = 0
  resume: ((effect: Effect.Effect<boolean>) => void) | undefined = undefined
  constructor(fiber: Fiber.Fiber<unknown, unknown>) {
    this.fiber = fiber
  }
}

const GRANT: Effect.Effect<boolean> = Exit.succeed(true)

/** Resumes a granted fiber that is still waiting for its grant (one interrupted since has left: state DONE). */
const wake = (parked: Parked): void => {
  const resume = parked.resume
  parked.resume = undefined
  if (resume !== undefined && parked.state === GRANTED) resume(GRANT)
}

/**
 * The state machine of a FIFO limiter: at most `limit` permits out, waiters served in arrival order, O(1) per
 * acquire, release and interruption whatever the number of waiters (see internal/waitList.ts). A newcomer never
 * overtakes a waiter. Shared by the fixed and adaptive limiters and by Bulkhead. The effectful methods must be
 * evaluated while the calling fiber is uninterruptible; they receive `restore` to make only the wait interruptible.
 *
 * @internal
 */
export class LimiterCore {
  limit: number
  inFlight = 0
  readonly waiters = new WaitList<Parked>()
  /** Waiters granted since the last wake-up flush (see `drain`). */
  private woken: Array<Parked> = []
  private flushDispatcher: Fiber.Fiber<unknown, unknown>["currentDispatcher"] | undefined = undefined
  /** Admissions granted (observed by their fiber). */
  acquired = 0
  /** Of which had to wait. */
  waited = 0
  /** `IfAvailable` calls turned away. */
  rejected = 0
  readonly metrics: Instruments.Instruments | undefined

  constructor(limit: number, metrics: Instruments.Instruments | undefined) {
    this.limit = limit
    this.metrics = metrics
    if (metrics !== undefined) {
      metrics.setLimit(limit)
      metrics.setInFlight(0)
      metrics.setWaiting(0)
    }
  }

  /** Takes a permit if one is free and nobody waits (no barging past waiters). */
  tryTake(): boolean {
    if (this.inFlight >= this.limit || this.waiters.length > 0) return false
    this.inFlight++
    this.acquired++
    if (this.metrics !== undefined) {
      this.metrics.setInFlight(this.inFlight)
      this.metrics.addAcquired()
      this.metrics.recordWait(0)
    }
    return true
  }

  /** Gives a permit back; the longest waiter gets it if the limit allows. */
  release(): void {
    this.inFlight--
    if (this.waiters.length > 0) this.drain()
    if (this.metrics !== undefined) this.metrics.setInFlight(this.inFlight)
  }

  /** A finalizer for `Effect.onExitPrimitive`: returning `undefined` skips a finalizer effect per call. */
  readonly releaseOnExit = (): undefined => {
    this.release()
    return undefined
  }

  /**
   * Grants waiters in FIFO order while the limit allows. A grant counts the permit as held at once; the fiber is
   * resumed on a later scheduler turn, never inline (a release never runs another fiber's code), and every fiber
   * granted before that turn is resumed by one scheduled task instead of one task each.
   */
  drain(): void {
    while (this.inFlight < this.limit) {
      const next = this.waiters.shift()
      if (next === undefined) break
      this.inFlight++
      next.state = GRANTED
      next.node = undefined
      this.wakeLater(next)
    }
    if (this.metrics !== undefined) {
      this.metrics.setInFlight(this.inFlight)
      this.metrics.setWaiting(this.waiters.length)
    }
  }

  private wakeLater(parked: Parked): void {
    const dispatcher = parked.fiber.currentDispatcher
    if (this.flushDispatcher === undefined) {
      this.flushDispatcher = dispatcher
      dispatcher.scheduleTask(this.flush, 0)
    } else if (dispatcher !== this.flushDispatcher) {
      // a fiber of another runtime: resumed on its own dispatcher
      dispatcher.scheduleTask(() => wake(parked), 0)
      return
    }
    this.woken.push(parked)
  }

  private readonly flush = (): void => {
    const woken = this.woken
    this.woken = []
    this.flushDispatcher = undefined
    for (let i = 0; i < woken.length; i++) wake(woken[i]!)
  }

  /** Changes the limit: a larger one admits waiters at once; a smaller one lets holders finish. */
  setLimit(limit: number): void {
    if (limit === this.limit) return
    this.limit = limit
    if (this.metrics !== undefined) this.metrics.setLimit(limit)
    if (this.waiters.length > 0) this.drain()
  }

  /**
   * Parks `fiber` at the back of the queue until granted. Succeeds with `true` once it holds a permit, `false`
   * if `timeout` passed first (it then holds nothing). Evaluate while uninterruptible.
   */
  wait(
    fiber: Fiber.Fiber<unknown, unknown>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    timeout?: Duration.Duration
  ): Effect.Effect<boolean> {
    const parked = new Parked(fiber)
    parked.node = this.waiters.push(parked)
    if (this.metrics !== undefined) {
      parked.since = nowMillis(fiber)
      this.metrics.setWaiting(this.waiters.length)
    }
    const granted = Effect.callback<boolean>((resume) => {
      if (parked.state === GRANTED) resume(GRANT)
      else parked.resume = resume
    })
    const wait = timeout === undefined ? granted : Effect.map(Effect.timeoutOption(granted, timeout), Option.isSome)
    return Effect.onExitPrimitive(restore(wait), (exit) => {
      if (isGranted(exit)) this.observe(parked)
      else this.abandon(parked)
      return undefined
    }, true)
  }

  /** The waiter saw its grant. */
  private observe(parked: Parked): void {
    parked.state = DONE
    this.acquired++
    this.waited++
    if (this.metrics !== undefined) {
      this.metrics.addAcquired()
      this.metrics.recordWait(nowMillis(parked.fiber) - parked.since)
    }
  }

  /** A wait ended without the grant being seen (interrupted or timed out): leave, or pass a grant on. */
  abandon(parked: Parked): void {
    parked.resume = undefined
    if (parked.state === GRANTED) {
      parked.state = DONE
      this.release()
    } else if (parked.state === WAITING) {
      parked.state = DONE
      if (parked.node !== undefined) this.waiters.remove(parked.node)
      parked.node = undefined
      if (this.metrics !== undefined) this.metrics.setWaiting(this.waiters.length)
    }
  }

  /**
   * Runs `effect` holding a permit, waiting if needed. Evaluate while uninterruptible, synchronously inside the
   * calling fiber (the body of `Effect.uninterruptibleMask`).
   */
  run<A, E, R>(
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> {
    if (this.tryTake()) return Effect.onExitPrimitive(restore(effect), this.releaseOnExit, true)
    // Queued in the same synchronous step as the failed attempt, so no release can slip in between.
    return Effect.flatMap(
      this.wait(Fiber.getCurrent()!, restore),
      () => Effect.onExitPrimitive(restore(effect), this.releaseOnExit, true)
    )
  }

  /** Runs `effect` if a permit is free now and nobody waits. Evaluate while uninterruptible. */
  runIfAvailable<A, E, R>(
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Option.Option<A>, E, R> {
    if (this.tryTake()) return Effect.onExitPrimitive(restore(Effect.asSome(effect)), this.releaseOnExit, true)
    this.rejected++
    if (this.metrics !== undefined) this.metrics.addRejected()
    return Effect.succeedNone
  }
}

// ---------------------------------------------------------------------------------------------------------------
// the fixed (resizable) limiter
// ---------------------------------------------------------------------------------------------------------------

class FixedLimiterImpl implements FixedLimiter {
  pipe() {
    return pipeArguments(this, arguments)
  }

  readonly name: string
  readonly core: LimiterCore

  constructor(name: string, core: LimiterCore) {
    this.name = name
    this.core = core
  }

  readonly withPermit = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => this.core.run(restore, effect))

  readonly withPermitIfAvailable = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
    Effect.uninterruptibleMask((restore) => this.core.runIfAvailable(restore, effect))

  readonly resize = (limit: number): Effect.Effect<void, InvalidOptionError> =>
    Effect.flatMap(
      Effect.fromResult(InvalidOption.int("Limiter.resize", "limit", limit, { min: 1 })),
      (limit) => Effect.sync(() => this.core.setLimit(limit))
    )

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => coreStats(this.name, this.core))
}

/** @internal */
export const coreStats = (name: string, core: LimiterCore): Stats => ({
  name,
  limit: core.limit,
  inFlight: core.inFlight,
  waiting: core.waiters.length,
  acquired: core.acquired,
  waited: core.waited,
  rejected: core.rejected
})

/** @internal */
export const isFixedLimiter = (u: unknown): u is FixedLimiter => u instanceof FixedLimiterImpl

/** @internal */
export const make = (options: Options): Effect.Effect<FixedLimiter, InvalidOptionError> =>
  Effect.suspend(() =>
    Effect.flatMap(
      Effect.fromResult(InvalidOption.int("Limiter.make", "limit", options.limit, { min: 1 })),
      (limit) =>
        Effect.map(
          Instruments.make("Limiter", options),
          (metrics) => new FixedLimiterImpl(options.name ?? "Limiter", new LimiterCore(limit, metrics))
        ).pipe(Registry.track("Limiter", options))
    )
  )
