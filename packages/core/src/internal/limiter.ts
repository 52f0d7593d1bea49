/** @internal */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type { FixedLimiter, Options, Stats } from "../Limiter.ts"
import { InvalidOptionError } from "../Options.ts"
import * as Instruments from "./metrics.ts"
import type { Node } from "./waitList.ts"
import { WaitList } from "./waitList.ts"

// ---------------------------------------------------------------------------------------------------------------
// option checks shared by Limiter (fixed, keyed, adaptive) and Bulkhead
// ---------------------------------------------------------------------------------------------------------------

/** One option check: the error it fails with, or `undefined` when the value is fine. @internal */
export type Check = InvalidOptionError | undefined

/** @internal */
export const checkInt = (module: string, option: string, value: unknown, min: number): Check =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min
    ? undefined
    : new InvalidOptionError({ module, option, expected: `an integer >= ${min}`, value })

/** @internal */
export const checkRatio = (module: string, option: string, value: unknown): Check =>
  typeof value === "number" && value >= 0 && value <= 1
    ? undefined
    : new InvalidOptionError({ module, option, expected: "a number in [0, 1]", value })

/** @internal */
export const checkNumber = (module: string, option: string, value: unknown, min: number, exclusive = false): Check =>
  typeof value === "number" && Number.isFinite(value) && (exclusive ? value > min : value >= min)
    ? undefined
    : new InvalidOptionError({ module, option, expected: `a finite number ${exclusive ? ">" : ">="} ${min}`, value })

/** The first failing check, as a failed Effect, or `onValid()` when every check passed. @internal */
export const validated = <A>(
  checks: ReadonlyArray<Check>,
  onValid: () => A
): Effect.Effect<A, InvalidOptionError> => {
  for (const check of checks) if (check !== undefined) return Effect.fail(check)
  return Effect.sync(onValid)
}

/** The current time on a fiber's clock, in (fractional) milliseconds, from the monotonic nanosecond reading. */
export const nowMillis = (fiber: Fiber.Fiber<unknown, unknown>): number =>
  Number(fiber.getRef(Clock.Clock).currentTimeNanosUnsafe()) / 1_000_000

// ---------------------------------------------------------------------------------------------------------------
// the waiter and the FIFO admission core
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const WAITING = 0
/** @internal */
export const GRANTED = 1
/** @internal */
export const DONE = 2

/**
 * One fiber parked on a limiter. A grant is made in the limiter's state at once (the permit is counted as in
 * flight) and the fiber is resumed on its own scheduler on its next turn, never inline in the releasing fiber.
 *
 * The fiber may be interrupted after it was granted and before it ran again (the lost-permit race): the code that
 * parks it looks at `state` when the wait ends without success, and releases a grant it never observed, which
 * passes the permit on to the next waiter.
 *
 * @internal
 */
export class Waiter {
  readonly fiber: Fiber.Fiber<unknown, unknown>
  node: Node<any> | undefined = undefined
  state: typeof WAITING | typeof GRANTED | typeof DONE = WAITING
  /** When the wait began, in milliseconds on the fiber's clock (read only when metrics are on). */
  since = 0
  private resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  /** Suspends until granted. */
  readonly await: Effect.Effect<void>

  constructor(fiber: Fiber.Fiber<unknown, unknown>) {
    this.fiber = fiber
    this.await = Effect.callback<void>((resume) => {
      if (this.state === GRANTED) resume(Effect.void)
      else this.resume = resume
    })
  }

  /** Marks the waiter granted (it already left its list) and resumes it on its next scheduler turn. */
  grant(): void {
    this.state = GRANTED
    this.node = undefined
    this.fiber.currentDispatcher.scheduleTask(this.wake, 0)
  }

  private readonly wake = (): void => {
    const resume = this.resume
    this.resume = undefined
    if (resume !== undefined && this.state === GRANTED) resume(Effect.void)
  }
}

const isGranted = (exit: Exit.Exit<boolean>): boolean => exit._tag === "Success" && exit.value

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
  readonly waiters = new WaitList<Waiter>()
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

  /** Grants waiters in FIFO order while the limit allows. */
  drain(): void {
    while (this.inFlight < this.limit) {
      const next = this.waiters.shift()
      if (next === undefined) break
      this.inFlight++
      next.grant()
    }
    if (this.metrics !== undefined) {
      this.metrics.setInFlight(this.inFlight)
      this.metrics.setWaiting(this.waiters.length)
    }
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
    const waiter = new Waiter(fiber)
    waiter.node = this.waiters.push(waiter)
    if (this.metrics !== undefined) {
      waiter.since = nowMillis(fiber)
      this.metrics.setWaiting(this.waiters.length)
    }
    const wait = timeout === undefined
      ? Effect.as(waiter.await, true)
      : Effect.map(Effect.timeoutOption(waiter.await, timeout), Option.isSome)
    return Effect.onExitPrimitive(restore(wait), (exit) => {
      if (isGranted(exit)) this.observe(waiter)
      else this.abandon(waiter)
      return undefined
    }, true)
  }

  /** The waiter saw its grant. */
  private observe(waiter: Waiter): void {
    waiter.state = DONE
    this.acquired++
    this.waited++
    if (this.metrics !== undefined) {
      this.metrics.addAcquired()
      this.metrics.recordWait(nowMillis(waiter.fiber) - waiter.since)
    }
  }

  /** A wait ended without the grant being seen (interrupted or timed out): leave, or pass a grant on. */
  abandon(waiter: Waiter): void {
    if (waiter.state === GRANTED) {
      waiter.state = DONE
      this.release()
    } else if (waiter.state === WAITING) {
      waiter.state = DONE
      if (waiter.node !== undefined) this.waiters.remove(waiter.node)
      waiter.node = undefined
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
    validated([checkInt("Limiter.resize", "limit", limit, 1)], () => this.core.setLimit(limit))

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
  Effect.suspend(() => {
    const error = checkInt("Limiter.make", "limit", options.limit, 1)
    if (error !== undefined) return Effect.fail(error)
    return Effect.map(
      Instruments.make("Limiter", options),
      (metrics) => new FixedLimiterImpl(options.name ?? "Limiter", new LimiterCore(options.limit, metrics))
    )
  })
